"""The desk's two-factor pages (health_f0.accounts.two_factor has the rules and services).

- /desk/xac-thuc/                          the code asked after the password (verify)
- /desk/xac-thuc/dang-ky/                  enrolment: QR code, key, first code; then the recovery codes
- /desk/tai-khoan/xac-thuc-hai-lop/        the account page: status, new recovery codes, turn off
The first two are reached by a logged-in session that has not given its code yet, so they are not wrapped
in the desk's admin_view (which requires a verified session); the account page is.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from unfold.widgets import UnfoldAdminTextInputWidget

from health_f0.accounts import two_factor
from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.desk.actions import run

# The key of the device being enrolled, until its first code confirms it.
PENDING_KEY = "hf0_2fa_pending_key"


class CodeForm(forms.Form):
    def __init__(self, *args: Any, autofocus: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not autofocus:
            self.fields["code"].widget.attrs.pop("autofocus", None)

    code = forms.CharField(
        label=gettext_lazy("Mã xác thực"),
        max_length=32,
        widget=UnfoldAdminTextInputWidget(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
                "class": "tracking-widest text-lg",
            }
        ),
    )


def _next_url(request: HttpRequest) -> str:
    """Where to go after the code: the desk or report page asked for, else the desk's index, which sends
    the staff member on to their own worklist (admin_site.desk_landing); never the portal."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if (
        wanted.startswith(("/desk/", "/bao-cao/"))
        and not wanted.startswith("/desk/xac-thuc/")
        and url_has_allowed_host_and_scheme(
            wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return wanted
    return reverse("admin:index")


def _context(site: AdminSite, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    return {**site.each_context(request), "title": title, "next": _next_url(request), **extra}


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def _error(form: CodeForm, exc: DomainError) -> int:
    form.add_error("code" if "code" in form.fields else None, exc.message)
    return 429 if isinstance(exc, RateLimited) else 400


def _login_redirect(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(reverse("admin:login") + "?next=" + request.get_full_path())


@never_cache
@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """The second step of the desk login: a code from the app, or a recovery code."""
    if not request.user.is_authenticated:
        return _login_redirect(request)
    if two_factor.pending_step(request) == "verify" and two_factor.totp_device(request.user) is None:
        # The device was removed since the login (an administrator's reset): nothing to verify.
        two_factor.clear_session_device(request)
    step = two_factor.pending_step(request)
    if step == "enrol":
        return HttpResponseRedirect(two_factor.step_url("enrol", _next_url(request)))
    if step is None:
        return HttpResponseRedirect(_next_url(request))
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device = two_factor.verify_code(user=request.user, code=form.cleaned_data["code"], channel="desk")
        except DomainError as exc:
            status = _error(form, exc)
        else:
            two_factor.session_verified(request, device)
            if isinstance(device, StaticDevice):
                left = two_factor.recovery_codes_left(request.user)
                messages.warning(
                    request,
                    ngettext(
                        "Bạn vừa dùng một mã dự phòng; còn %(count)s mã. Hãy tạo bộ mã mới ở trang "
                        "“Xác thực hai lớp” nếu sắp hết.",
                        "Bạn vừa dùng một mã dự phòng; còn %(count)s mã. Hãy tạo bộ mã mới ở trang "
                        "“Xác thực hai lớp” nếu sắp hết.",
                        left,
                    )
                    % {"count": left},
                )
            return HttpResponseRedirect(_next_url(request))
    elif request.method == "POST":
        status = 400
    context = _context(site, request, _("Xác thực hai lớp"), form=form)
    return _no_store(render(request, "two_factor/verify.html", context, status=status))


@never_cache
@require_http_methods(["GET", "POST"])
def enrol_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """Turn two-factor authentication on (or move it to a new phone): scan, type the first code."""
    user = request.user
    if not user.is_authenticated:
        return _login_redirect(request)
    if not two_factor.may_enrol(user):
        return HttpResponseRedirect(reverse("www:home"))
    if two_factor.is_enrolled(user) and not two_factor.is_verified(request):
        # Replacing a device needs the current one first (a stolen password alone cannot swap it).
        return HttpResponseRedirect(two_factor.step_url("verify", _next_url(request)))
    # The key being enrolled stays in this session (a reload shows the same QR code); nothing is saved
    # before the first code checks.
    key = request.session.get(PENDING_KEY) or two_factor.new_totp_key()
    request.session[PENDING_KEY] = key
    device = two_factor.totp_draft(user=user, key=key)
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            device, codes = two_factor.totp_enrol_confirm(user=user, key=key, code=form.cleaned_data["code"])
        except DomainError as exc:
            status = _error(form, exc)
        else:
            request.session.pop(PENDING_KEY, None)
            two_factor.session_verified(request, device)
            return _recovery_codes_page(request, site, codes, enrolled=True)
    elif request.method == "POST":
        status = 400
    context = _context(
        site,
        request,
        _("Bật xác thực hai lớp"),
        form=form,
        qr_svg=two_factor.qr_svg(device),
        secret=two_factor.secret_text(device),
        required=two_factor.is_required(user),
        replacing=two_factor.is_enrolled(user),
        issuer=two_factor.issuer(),
    )
    return _no_store(render(request, "two_factor/enrol.html", context, status=status))


def _recovery_codes_page(
    request: HttpRequest, site: AdminSite, codes: list[str], *, enrolled: bool
) -> HttpResponse:
    """Shown once, in the answer to the POST that made the codes; never stored in clear, never cached."""
    context = _context(site, request, _("Mã dự phòng"), codes=codes, enrolled=enrolled)
    return _no_store(render(request, "two_factor/recovery_codes.html", context))


@never_cache
def account_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    """The account page (desk layout): whether it is on, recovery codes left, new codes, turn off."""
    user = request.user
    device = two_factor.totp_device(user)
    context = {
        **site.each_context(request),
        "title": _("Xác thực hai lớp"),
        "device": device,
        "required": two_factor.is_required(user),
        "codes_left": two_factor.recovery_codes_left(user) if device else 0,
        "form": CodeForm(autofocus=False),
    }
    return render(request, "two_factor/account.html", context)


@never_cache
@require_POST
def recovery_codes_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        code = form.cleaned_data["code"]
        done, codes = run(request, lambda: two_factor.recovery_codes_regenerate(user=request.user, code=code))
        if done:
            return _recovery_codes_page(request, site, codes, enrolled=False)
    else:
        messages.error(request, _("Vui lòng nhập mã 6 chữ số từ ứng dụng xác thực."))
    return HttpResponseRedirect(reverse("admin:two_factor_account"))


@never_cache
@require_POST
def remove_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        code = form.cleaned_data["code"]
        done, _result = run(
            request,
            lambda: two_factor.two_factor_remove(user=request.user, actor=request.user, code=code),
            success=_("Đã tắt xác thực hai lớp. Lần đăng nhập sau chỉ cần mật khẩu."),
        )
        if done:
            two_factor.clear_session_device(request)
    else:
        messages.error(request, _("Vui lòng nhập mã 6 chữ số từ ứng dụng xác thực."))
    return HttpResponseRedirect(reverse("admin:two_factor_account"))


def desk_urls(site: AdminSite) -> list[URLPattern]:
    """The pages above, for DeskSite.get_urls (names under the desk's "admin" namespace)."""

    def bound(view: Any) -> Any:
        def wrapped(request: HttpRequest) -> HttpResponse:
            request.current_app = site.name
            response: HttpResponse = view(request, site)
            return response

        return wrapped

    return [
        path("xac-thuc/", bound(verify_view), name="two_factor_verify"),
        path("xac-thuc/dang-ky/", bound(enrol_view), name="two_factor_enrol"),
        path("tai-khoan/xac-thuc-hai-lop/", site.admin_view(bound(account_view)), name="two_factor_account"),
        path(
            "tai-khoan/xac-thuc-hai-lop/ma-du-phong/",
            site.admin_view(bound(recovery_codes_view)),
            name="two_factor_recovery_codes",
        ),
        path(
            "tai-khoan/xac-thuc-hai-lop/tat/", site.admin_view(bound(remove_view)), name="two_factor_remove"
        ),
    ]


def account_links(request: HttpRequest) -> list[dict[str, str]]:
    """The desk's user menu (settings.UNFOLD["ACCOUNT"]): change password, two-factor authentication."""
    links: list[dict[str, str]] = []
    user = getattr(request, "user", None)
    # A failed login renders this menu for whoever Django's login form left on the request (an
    # AnonymousUser, with no password methods): only a real account gets links.
    if user is None or not user.is_authenticated or not hasattr(user, "has_usable_password"):
        return links
    if user.has_usable_password():
        links.append({"title": _("Đổi mật khẩu"), "link": reverse("admin:password_change")})
    if two_factor.may_enrol(user):
        links.append({"title": _("Xác thực hai lớp"), "link": reverse("admin:two_factor_account")})
    return links
