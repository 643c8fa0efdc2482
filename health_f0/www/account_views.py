"""The portal's account pages (issue 12, section 1): open an account with a phone proved by OTP
(/dang-ky-tai-khoan), the page after it (/tai-khoan/da-mo), forgot password (/quen-mat-khau), and adding a child
or an elderly parent from the account (/ca-nhan/them-nguoi-nha).

Each page is one form with two buttons that work without JavaScript, like the registration and the guest
booking: "Nhận OTP" (only the phone is checked) and the final submit. The views parse input and call one service
of accounts.signup; its errors go next to their fields. Every POST carries Django's CSRF token.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from health_f0.accounts import signup
from health_f0.core.counters import sliding_count
from health_f0.core.exceptions import Conflict, DomainError, RateLimited, ValidationErrors
from health_f0.core.phone import display_phone, mask_phone
from health_f0.core.request_context import client_ip, limit_key
from health_f0.facilities import access
from health_f0.patients.otp import otp_request
from health_f0.www.account_forms import FamilyMemberForm, PasswordResetForm, SignupForm
from health_f0.www.caching import never_cache
from health_f0.www.views import _error_summary, _page

SESSION_DONE = "www_signup_done"
SESSION_RESET_DONE = "www_reset_done"
SESSION_FAMILY_NOTICE = "www_family_notice"  # shown by family_views.family
# Final submits of the reset form one address may make in a minute, like the API's token login (20/min).
RESET_PER_MINUTE = 20


def _otp_sent(form: Any, extra: dict[str, Any], phone: str, purpose: str, request: HttpRequest) -> int:
    """Text a code (the OTP service's limits apply); where it went, or why not, in `extra`."""
    try:
        issued = otp_request(phone=phone, purpose=purpose, ip=client_ip(request))
    except RateLimited as exc:
        retry = int(exc.extra.get("retry_after") or 0)
        extra.update(otp_error=exc.message, retry_after=retry, retry_minutes=(retry + 59) // 60)
        return 429
    except DomainError as exc:
        form.add_error("phone" if "phone" in form.fields else None, exc.message)
        return 400
    extra["otp_sent_to"] = display_phone(phone).replace(" ", "\u00a0")
    extra["otp_minutes"] = issued.expires_in // 60
    form.fields["otp"].widget.attrs["autofocus"] = True
    return 200


def _service_errors(form: Any, exc: DomainError, extra: dict[str, Any]) -> int:
    """A service's refusal next to its field (password -> the first password box), else at the top."""
    renamed = {"new_password": "new_password1", "policy_version": "consent"}
    if isinstance(exc, ValidationErrors):
        for name, items in exc.errors.items():
            name = renamed.get(name, name)
            for _code, message in items:
                form.add_error(name if name in form.fields else None, message)
        return 400
    field = renamed.get(exc.field or "", exc.field or "")
    if field in form.fields:
        form.add_error(field, exc.message)
    else:
        extra["page_error"] = exc.message
    return exc.status_code


# --- Sign-up ---------------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def signup_view(request: HttpRequest) -> HttpResponse:
    """/dang-ky-tai-khoan: who you are, your mobile number (OTP), a password, the consent."""
    if request.user.is_authenticated:
        return redirect("admin:index" if access.is_staff_member(request.user) else "www:me")
    extra: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        form = SignupForm(request.POST)
        status = 400
        if request.POST.get("action") == "otp":
            form.keep_errors({"phone"})
            if "phone" not in form.errors:
                status = _otp_sent(form, extra, form.cleaned_data["phone"], signup.SIGNUP_PURPOSE, request)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                result = signup.account_signup(
                    phone=data["phone"],
                    otp=data["otp"],
                    full_name=data["full_name"],
                    date_of_birth=data["date_of_birth"],
                    sex=data["sex"],
                    password=data["password"],
                    cccd=data.get("cccd") or "",
                    bhyt=data.get("bhyt") or "",
                    consent=data["consent"],
                    policy_version=form.policy_version,
                    channel="web",
                )
            except Conflict as exc:
                extra["page_error"] = exc.message
                extra["account_exists"] = exc.code == "account_exists"
                status = exc.status_code
            except DomainError as exc:
                status = _service_errors(form, exc, extra)
            else:
                login(request, result.user, backend="django.contrib.auth.backends.ModelBackend")
                request.session[SESSION_DONE] = {
                    "username": result.user.username,
                    "family": [p.full_name for p in result.family],
                    "bookings": result.claimed_bookings,
                }
                return redirect("www:signup_done")
    else:
        form = SignupForm()
    context = {"form": form, "error_summary": _error_summary(form) if form.is_bound else [], **extra}
    return _page(request, "www/account/signup.html", context, status=status)


@never_cache
@login_required
@require_GET
def signup_done(request: HttpRequest) -> HttpResponse:
    """/tai-khoan/da-mo: the username to log in with next time, and what was brought into the account."""
    done = request.session.get(SESSION_DONE)
    if not done:
        return redirect("www:me")
    return _page(request, "www/account/signup_done.html", {"done": done})


# --- Forgot password ------------------------------------------------------------------------------------


def _reset_allowed(request: HttpRequest) -> bool:
    return (
        sliding_count(f"www:password-reset:{limit_key(client_ip(request))}", window_seconds=60)
        <= RESET_PER_MINUTE
    )


@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """/quen-mat-khau: the number, "Nhận OTP" (the same answer whether or not it has an account), then the code
    and a new password. Every account's token and session ends; the login page follows."""
    extra: dict[str, Any] = {}
    status = 200
    accounts: list[Any] = []
    if request.method == "POST":
        form = PasswordResetForm(request.POST)
        status = 400
        if request.POST.get("action") == "otp":
            form.keep_errors({"phone"})
            if "phone" not in form.errors:
                status = _otp_sent(form, extra, form.cleaned_data["phone"], signup.RESET_PURPOSE, request)
                if status == 200:
                    # Said whether or not the number has an account: nobody learns which numbers do.
                    extra["otp_sent_to"] = mask_phone(form.cleaned_data["phone"])
                    extra["reset_sent"] = True
        elif not _reset_allowed(request):
            extra["page_error"] = _("Bạn thao tác quá nhiều lần. Vui lòng thử lại sau 1 phút.")
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                user = signup.password_reset_confirm(
                    phone=data["phone"],
                    otp=data["otp"],
                    new_password=data["new_password1"],
                    username=data.get("username") or "",
                )
            except DomainError as exc:
                if exc.code == "account_choice_required":
                    accounts = list(exc.extra["accounts"])
                    form = PasswordResetForm(request.POST, accounts=accounts)
                    form.is_valid()
                    form.add_error("username", exc.message)
                    status = 400
                else:
                    status = _service_errors(form, exc, extra)
            else:
                request.session[SESSION_RESET_DONE] = user.username
                return redirect("www:password_reset_done")
    else:
        form = PasswordResetForm()
    context = {
        "form": form,
        "accounts": accounts,
        "error_summary": _error_summary(form) if form.is_bound else [],
        **extra,
    }
    return _page(request, "www/account/password_reset.html", context, status=status)


@never_cache
@require_GET
def password_reset_done(request: HttpRequest) -> HttpResponse:
    username = request.session.pop(SESSION_RESET_DONE, "")
    if not username:
        return redirect("www:login")
    return _page(request, "www/account/password_reset_done.html", {"username": username})


# --- A family member added from the account --------------------------------------------------------------


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def family_add(request: HttpRequest) -> HttpResponse:
    """/ca-nhan/them-nguoi-nha: a child or an elderly parent, with an OTP to the account's proved number."""
    if access.is_staff_member(request.user):
        return redirect("admin:index")
    phone = signup.family_phone(request.user)
    extra: dict[str, Any] = {"phone": mask_phone(phone) if phone else ""}
    status = 200
    if not phone:
        return _page(request, "www/account/family_add.html", {"form": None, **extra}, status=409)
    if request.method == "POST":
        form = FamilyMemberForm(request.POST)
        status = 400
        if request.POST.get("action") == "otp":
            form.keep_errors(set())
            status = _otp_sent(form, extra, phone, signup.SIGNUP_PURPOSE, request)
            if status == 200:
                extra["otp_sent_to"] = mask_phone(phone)
        elif form.is_valid():
            data = form.cleaned_data
            try:
                member = signup.family_member_add(
                    user=request.user,
                    otp=data["otp"],
                    full_name=data["full_name"],
                    date_of_birth=data["date_of_birth"],
                    sex=data["sex"],
                    cccd=data.get("cccd") or "",
                    bhyt=data.get("bhyt") or "",
                    consent=data["consent"],
                    policy_version=form.policy_version,
                )
            except DomainError as exc:
                status = _service_errors(form, exc, extra)
            else:
                request.session[SESSION_FAMILY_NOTICE] = _("Đã thêm %(name)s vào gia đình của bạn.") % {
                    "name": member.full_name
                }
                return redirect("www:family")
    else:
        form = FamilyMemberForm()
    context = {"form": form, "error_summary": _error_summary(form) if form.is_bound else [], **extra}
    return _page(request, "www/account/family_add.html", context, status=status)
