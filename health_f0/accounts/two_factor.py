"""Two-factor authentication (TOTP) for staff, on django-otp: rules, services and the desk's gate.

Who: administrators, managers (roles at any facility) and superusers must use it when STAFF_2FA_REQUIRED is
on (the default); every other staff member may turn it on from the desk's account page. Once a user has a
device, every login of theirs asks for a code, required or not.

How: an authenticator app (a TOTP device of django-otp's otp_totp, enrolled by scanning a QR code drawn by
segno) gives a 6-digit code at each desk login; ten single-use recovery codes (a StaticDevice of otp_static)
stand in for a lost phone. django-otp stores static tokens as they are, so the codes are stored as keyed
hashes (HMAC-SHA256 with the SECRET_KEY, truncated to the token column's 16 characters): the database alone
does not reveal them, and the user sees them once, when they are made. django-otp's throttling (1, 2, 4 ...
seconds after each wrong code) slows guessing; TOTP codes are single use (last_t).

Where: after the password, the session is logged in but not verified (django_otp's OTPMiddleware tells);
`TwoFactorMiddleware` sends such a staff session to the verification page (or the enrolment page when a
required user has no device yet) until a code is given. The API's token endpoint asks for the code in the
same request (`token_login_check`). Enrolment, removal, new recovery codes, recovery-code use and failed
codes are audit rows on the user.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError, PermissionDenied, RateLimited
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Role

REQUIRED_ROLES: frozenset[str] = access.TWO_FACTOR_REQUIRED_ROLES
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 10  # base32 characters: 50 random bits each
TOTP_NAME = "Ứng dụng xác thực"
RECOVERY_NAME = "Mã dự phòng"
# Set at login: whether the user had a device then (so the gate needs no query for users without one).
ENROLLED_KEY = "hf0_2fa_enrolled"
# The salt keeps its first module path: recovery codes already stored were hashed with it.
_RECOVERY_SALT = "health_f0.core.two_factor.recovery_code"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"


# --- Who must, who may ------------------------------------------------------------------------------


def is_required(user: Any) -> bool:
    """Administrators, managers and superusers, while STAFF_2FA_REQUIRED is on."""
    if not settings.STAFF_2FA_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    return bool(user.is_superuser or access.roles_of(user) & REQUIRED_ROLES)


def may_enrol(user: Any) -> bool:
    """Staff only: a superuser, or anyone with an active staff membership."""
    return bool(getattr(user, "is_authenticated", False) and access.is_staff_member(user))


def totp_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-id").first()


def is_enrolled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user: Any) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def is_verified(request: HttpRequest) -> bool:
    """The session gave a code of one of the user's devices (django_otp's OTPMiddleware checks the device)."""
    checker = getattr(request.user, "is_verified", None)
    return bool(checker and checker())


# --- Codes ------------------------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.strip().lower() if ch.isalnum())


def is_totp_shape(code: str) -> bool:
    clean = _normalise(code)
    return len(clean) == 6 and clean.isdigit()


def _recovery_hash(user_id: int, code: str, secret: str) -> str:
    """What the database keeps of a recovery code: a keyed hash, cut to StaticToken.token's 16 characters."""
    return salted_hmac(
        _RECOVERY_SALT, f"{user_id}:{_normalise(code)}", secret=secret, algorithm="sha256"
    ).hexdigest()[:16]


def _recovery_hashes(user_id: int, code: str) -> list[str]:
    """The hash under the current key and each SECRET_KEY_FALLBACKS key (codes survive a key rotation)."""
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return [_recovery_hash(user_id, code, key) for key in keys]


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_B32) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def secret_text(device: TOTPDevice) -> str:
    """The key as base32 in groups of four, for typing into an app that cannot scan."""
    raw = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def issuer() -> str:
    """The name authenticator apps show next to the account: settings.OTP_TOTP_ISSUER when it is a name, else
    the portal's title (the province's), without ":" (the otpauth label's separator)."""
    configured = getattr(settings, "OTP_TOTP_ISSUER", "")
    if isinstance(configured, str) and configured.strip():
        return configured.strip().replace(":", "")
    from health_f0.facilities.portal import site_info

    return str(site_info().title).replace(":", "")


def qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (drawn here: no external QR service)."""
    import segno

    return str(segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, dark="#111827"))


def _throttled(device: Device) -> RateLimited | None:
    allowed, info = device.verify_is_allowed()
    if allowed:
        return None
    wait = 1
    if info and info.get("locked_until"):
        wait = max(int((info["locked_until"] - timezone.now()).total_seconds()) + 1, 1)
    return RateLimited(
        ngettext(
            "Bạn đã nhập sai mã nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
            "Bạn đã nhập sai mã nhiều lần. Vui lòng thử lại sau %(seconds)s giây.",
            wait,
        )
        % {"seconds": wait},
        code="otp_throttled",
        retry_after=wait,
    )


def _wrong_code() -> DomainError:
    return DomainError(_("Mã xác thực không đúng hoặc đã hết hạn."), code="otp_invalid", field="code")


def _check_totp(user: Any, device: TOTPDevice, code: str) -> bool:
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        throttled = _throttled(locked)
        if throttled is not None:
            raise throttled
        return bool(locked.user_id == user.pk and locked.verify_token(_normalise(code)))


def _use_recovery_code(user: Any, code: str) -> StaticDevice | None:
    """Consume a recovery code (each works once). None when it is not one of the user's."""
    with transaction.atomic():
        device = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if device is None:
            return None
        throttled = _throttled(device)
        if throttled is not None:
            raise throttled
        token = device.token_set.filter(token__in=_recovery_hashes(user.pk, code)).first()
        if token is None:
            device.throttle_increment(commit=True)
            return None
        token.delete()
        device.throttle_reset(commit=False)
        device.set_last_used_timestamp(commit=False)
        device.save()
    return device


def verify_code(*, user: Any, code: str, channel: str) -> Device:
    """Check a code from the authenticator app, or a recovery code. Returns the device that accepted it.

    Raises RateLimited while the device is throttled, DomainError when the code is wrong. A recovery code is
    used up and audited; a wrong code is audited (`channel`: "desk" or "api")."""
    totp = totp_device(user)
    if totp is None:
        raise DomainError(_("Tài khoản chưa bật xác thực hai lớp."), code="otp_not_enrolled", field="code")
    device: Device | None = None
    if is_totp_shape(code):
        device = totp if _check_totp(user, totp, code) else None
    elif len(_normalise(code)) == RECOVERY_CODE_LENGTH:
        device = _use_recovery_code(user, code)
        if device is not None:
            left = recovery_codes_left(user)
            audit_log(
                actor=user,
                action=AuditLog.Action.LOGIN,
                verb="two_factor_recovery_code",
                target=user,
                data={"channel": channel, "codes_left": left},
            )
    if device is None:
        audit_log(
            actor=user,
            action=AuditLog.Action.LOGIN,
            verb="two_factor_failed",
            target=user,
            data={"channel": channel},
        )
        raise _wrong_code()
    return device


# --- Enrolment, recovery codes, removal -----------------------------------------------------------------


def totp_draft(*, user: Any, key: str) -> TOTPDevice:
    """The device being enrolled, not saved: its key lives in the enrolling session until the first code
    confirms it (opening the enrolment page writes nothing)."""
    if not may_enrol(user):
        raise DomainError(_("Chỉ nhân viên y tế mới dùng xác thực hai lớp."), code="not_staff")
    device = TOTPDevice(user=user, name=TOTP_NAME, key=key, confirmed=False)
    device.full_clean(exclude=["user"])
    return device


def new_totp_key() -> str:
    return random_hex(20)


def _recovery_codes_make(user: Any) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(
        StaticToken(device=device, token=_recovery_hash(user.pk, code, settings.SECRET_KEY)) for code in codes
    )
    return codes


@transaction.atomic
def totp_enrol_confirm(*, user: Any, key: str, code: str) -> tuple[TOTPDevice, list[str]]:
    """Save the device with this key once its first code checks. It replaces any earlier device (a new
    phone), and a new set of recovery codes replaces the old. Returns the device and the recovery codes:
    the only time they exist in clear."""
    device = totp_draft(user=user, key=key)
    # One enrolment at a time per user (two tabs confirming at once keep one device).
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    if not is_totp_shape(code) or not totp.verify(int(_normalise(code)), device.tolerance):
        raise _wrong_code()
    device.last_t = totp.t()  # this code cannot be used again to log in
    replaced = TOTPDevice.objects.filter(user=user).delete()[0] > 0
    device.confirmed = True
    device.save()
    codes = _recovery_codes_make(user)
    audit_log(
        actor=user,
        action=AuditLog.Action.CREATE,
        verb="two_factor_enrol",
        target=user,
        data={"replaced_device": replaced, "recovery_codes": len(codes)},
    )
    return device, codes


@transaction.atomic
def recovery_codes_regenerate(*, user: Any, code: str) -> list[str]:
    """A new set of recovery codes (the old ones stop working), after a fresh code from the app."""
    totp = totp_device(user)
    if totp is None:
        raise DomainError(_("Tài khoản chưa bật xác thực hai lớp."), code="otp_not_enrolled", field="code")
    if not is_totp_shape(code) or not _check_totp(user, totp, code):
        raise _wrong_code()
    codes = _recovery_codes_make(user)
    audit_log(
        actor=user,
        action=AuditLog.Action.UPDATE,
        verb="two_factor_recovery_codes",
        target=user,
        data={"recovery_codes": len(codes)},
    )
    return codes


@transaction.atomic
def two_factor_remove(*, user: Any, actor: Any, code: str = "", reason: str = "") -> None:
    """Turn two-factor authentication off for `user`.

    By the user themself: only when it is not required, and with a fresh code from the app. By an
    administrator, or by the `two_factor_reset` command (actor None), for a lost phone and lost recovery
    codes: a reason is required; the user enrols again at their next login if required."""
    if not is_enrolled(user):
        raise DomainError(_("Tài khoản chưa bật xác thực hai lớp."), code="otp_not_enrolled")
    by_self = actor is not None and getattr(actor, "pk", None) == user.pk
    if by_self:
        if is_required(user):
            raise DomainError(
                _("Tài khoản quản trị và lãnh đạo bắt buộc dùng xác thực hai lớp; không tắt được."),
                code="otp_required",
            )
        totp = totp_device(user)
        if totp is None or not is_totp_shape(code) or not _check_totp(user, totp, code):
            raise _wrong_code()
    else:
        if actor is not None and not (actor.is_superuser or Role.ADMINISTRATOR in access.roles_of(actor)):
            raise PermissionDenied(_("Chỉ quản trị hệ thống được đặt lại xác thực hai lớp của người khác."))
        if not reason.strip():
            raise DomainError(
                _("Vui lòng ghi lý do đặt lại xác thực hai lớp."), code="reason_required", field="reason"
            )
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    audit_log(
        actor=actor,
        action=AuditLog.Action.DELETE,
        verb="two_factor_remove",
        target=user,
        data={"by_self": by_self, "reason": reason.strip()[:300]},
    )


# --- Sessions ---------------------------------------------------------------------------------------


@receiver(user_logged_in, dispatch_uid="health_f0.accounts.two_factor.login")
def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Remember whether the user had a device when they logged in; the gate asks no query for the others."""
    if request is not None and hasattr(request, "session"):
        request.session[ENROLLED_KEY] = bool(access.is_staff_member(user) and is_enrolled(user))


def session_verified(request: HttpRequest, device: Device) -> None:
    """Mark the session as verified by `device`, under a new session key (a privilege change)."""
    user: Any = request.user
    request.session.cycle_key()
    otp_login(request, device)
    request.session[ENROLLED_KEY] = True
    audit_log(
        actor=user,
        action=AuditLog.Action.LOGIN,
        verb="two_factor_verify",
        target=user,
        data={"device": "recovery_code" if isinstance(device, StaticDevice) else "totp"},
    )


def pending_step(request: HttpRequest) -> str | None:
    """'verify' or 'enrol' when this logged-in session must give a code (or enrol) before going on."""
    user = request.user
    if not getattr(user, "is_authenticated", False) or is_verified(request):
        return None
    # Staff accounts have is_staff (granting a role sets it): patients cost no query here.
    if not (user.is_staff or user.is_superuser):
        return None
    if ENROLLED_KEY not in request.session:
        request.session[ENROLLED_KEY] = bool(access.is_staff_member(user) and is_enrolled(user))
    if request.session[ENROLLED_KEY]:
        return "verify"
    if is_required(user):
        return "enrol"
    return None


def token_login_check(*, user: Any, code: str) -> None:
    """The API's token request: a user with a device gives a current code (or a recovery code) in `otp`; a
    user who must use two-factor authentication and has no device enrols on the desk first."""
    if is_enrolled(user):
        if not code.strip():
            raise DomainError(
                _(
                    "Tài khoản này dùng xác thực hai lớp: gửi kèm mã 6 chữ số từ ứng dụng xác thực (trường otp)."
                ),
                code="otp_required",
                field="otp",
            )
        try:
            verify_code(user=user, code=code, channel="api")
        except DomainError as exc:
            if isinstance(exc, RateLimited):
                raise
            raise DomainError(exc.message, code=exc.code, field="otp") from exc
    elif is_required(user):
        raise DomainError(
            _(
                "Tài khoản này phải bật xác thực hai lớp: đăng nhập bàn làm việc trên máy tính để đăng ký trước."
            ),
            code="otp_enrol_required",
            field="otp",
        )


# --- The gate -----------------------------------------------------------------------------------------

# Reached without a code: the two-factor pages themselves, logging out, static files, language switching,
# the desk's translations script, and (for a user who must change an SMS-issued password) that page.
_EXEMPT_PREFIXES = ("/desk/xac-thuc/", "/desk/logout/", "/dang-xuat", "/static/", "/i18n/", "/desk/jsi18n/")
_PASSWORD_CHANGE_PATH = "/tai-khoan/doi-mat-khau"  # noqa: S105 (a URL, not a password)


def step_url(step: str, next_url: str = "") -> str:
    url = reverse("admin:two_factor_verify" if step == "verify" else "admin:two_factor_enrol")
    return url + ("?" + urlencode({"next": next_url}) if next_url else "")


class TwoFactorMiddleware:
    """Holds a staff session that has not given its code at the two-factor pages. After OTPMiddleware,
    the session policy and ForcePasswordChangeMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._exempt(request):
            return self.get_response(request)
        step = pending_step(request)
        if step is None:
            return self.get_response(request)
        if request.path.startswith("/api/"):
            message = _("Phiên đăng nhập chưa xác thực hai lớp.")
            return JsonResponse({"detail": message, "code": "two_factor_required", "errors": {}}, status=403)
        next_url = request.get_full_path() if request.method == "GET" else ""
        target = step_url(step, next_url)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)

    @staticmethod
    def _exempt(request: HttpRequest) -> bool:
        session = getattr(request, "session", None)
        if session is None or "_auth_user_id" not in session:
            return True  # no login in this session (the public, bearer-token API calls)
        if request.path.startswith(_EXEMPT_PREFIXES):
            return True
        if request.path.startswith(_PASSWORD_CHANGE_PATH):
            return bool(getattr(request.user, "must_change_password", False))
        return False


def clear_session_device(request: HttpRequest) -> None:
    """After removal: the session is no longer verified by a device that is gone."""
    request.session.pop(DEVICE_ID_SESSION_KEY, None)
    request.session[ENROLLED_KEY] = False
