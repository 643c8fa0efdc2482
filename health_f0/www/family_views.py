"""The portal page "Ai có thể thay mặt tôi" (who can act for me): the account's own patient record, the
phone number proved by OTP that makes its family (patients.bonds), the accounts that may act for it (and it
for them: the rule is symmetric), the history of the proofs, and — when the current number has not answered
an OTP yet (a correction at the station, or a registration at the desk) — the form to prove it: get a code,
type it.

Staff go to the desk; an account with no patient record sees the "no record" page.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.core.phone import mask_phone
from health_f0.core.request_context import client_ip
from health_f0.facilities import access
from health_f0.patients import bonds
from health_f0.www.caching import never_cache
from health_f0.www.views import _page, hotline_context

SESSION_SENT = "www_family_code_sent"


class PhoneCodeForm(forms.Form):
    otp = forms.CharField(
        label=gettext_lazy("Mã OTP (6 chữ số)"),
        max_length=6,
        error_messages={"required": gettext_lazy("Vui lòng nhập mã OTP gồm 6 chữ số.")},
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "maxlength": "6",
                "class": "input-otp",
            }
        ),
    )

    def clean_otp(self) -> str:
        code = "".join((self.cleaned_data.get("otp") or "").split())
        if len(code) != 6 or not code.isdigit():
            raise forms.ValidationError(_("Mã OTP gồm đúng 6 chữ số."))
        return code


def _context(view: bonds.FamilyView, form: PhoneCodeForm, **extra: Any) -> dict[str, Any]:
    bond = view.bond
    return {
        "view": view,
        "patient": view.patient,
        "phone": mask_phone(view.patient.phone),
        "bond_phone": mask_phone(bond.phone) if bond else "",
        "members": view.members,
        "history": view.history,
        "form": form,
        **hotline_context(view.patient.facility),
        **extra,
    }


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def family(request: HttpRequest) -> HttpResponse:
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    view = bonds.family_view(user=request.user)
    if view is None:
        return _page(request, "www/me_missing.html", {}, status=404)
    form = PhoneCodeForm()
    extra: dict[str, Any] = {"code_sent": request.session.get(SESSION_SENT) == str(view.patient.public_id)}
    status = 200
    if request.method == "POST":
        step = request.POST.get("step")
        if step == "send":
            try:
                issued = bonds.phone_verification_send(
                    patient=view.patient, actor=request.user, ip=client_ip(request)
                )
            except RateLimited as exc:
                extra["page_error"] = exc.message
                status = 429
            except DomainError as exc:
                extra["page_error"] = exc.message
                status = exc.status_code
            else:
                request.session[SESSION_SENT] = str(view.patient.public_id)
                request.session["www_family_notice"] = _(
                    "Mã OTP đã được gửi tới %(phone)s, có hiệu lực %(minutes)s phút."
                ) % {"phone": mask_phone(view.patient.phone), "minutes": issued.expires_in // 60}
                return redirect("www:family")
        elif step == "confirm":
            form = PhoneCodeForm(request.POST)
            extra["code_sent"] = True
            status = 400
            if form.is_valid():
                try:
                    bonds.phone_verification_confirm(
                        patient=view.patient, actor=request.user, code=form.cleaned_data["otp"]
                    )
                except DomainError as exc:
                    if exc.field in ("otp", "code"):
                        form.add_error("otp", exc.message)
                    else:
                        extra["page_error"] = exc.message
                    status = exc.status_code
                else:
                    request.session.pop(SESSION_SENT, None)
                    request.session["www_family_notice"] = _("Đã xác thực số điện thoại của bạn.")
                    return redirect("www:family")
        else:
            extra["page_error"] = _("Yêu cầu không hợp lệ.")
            status = 400
    extra["notice"] = request.session.pop("www_family_notice", "")
    return _page(request, "www/family.html", _context(view, form, **extra), status=status)
