"""One-time codes by SMS — the one OTP service every domain uses (a registration, a booking without an account,
an HIS link, a phone check of patients.bonds, a sign-up, a forgotten password: accounts.signup): 6 digits, 5 minutes, 5 wrong tries, 60 s between codes,
per-phone and per-address caps, and a province-wide hourly SMS budget. `otp_request` texts a code,
`otp_verify` checks one (a wrong code costs a try, committed), `otp_consume` spends it inside the caller's
transaction. The codes are patients.models.OtpChallenge (its table keeps the name registration_otpchallenge).

Codes are stored as an HMAC keyed with SECRET_KEY and never logged; the SMS body is encrypted in the outbox.

The caps are counted with core.counters (Redis, or the database without it: shared by every worker). The
per-address cap is sized for carrier-grade NAT (a district's phones behind one public address); the
per-phone caps stay strict; the budget (OTP_SMS_BUDGET_PER_HOUR) stops SMS pumping: past it no code is sent
until the next clock hour and the administrators are told once. If the counters cannot be read (Redis down)
no code is sent: an OTP that cannot be counted could be pumped.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from health_f0.core.counters import (
    CounterUnavailable,
    cache_incr,
    counter_add,
    counter_delete,
    counter_get,
    window_count,
    window_remaining,
)
from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.core.request_context import limit_key
from health_f0.notifications.models import MessageKind
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.models import OtpChallenge

logger = logging.getLogger(__name__)

BUDGET_WINDOW = 3600

PURPOSES = {
    "registration": "dang ky cham soc F0 tai nha",
    "booking": "dat lich kham",
    "his_link": "lien ket ho so",
    # A patient's phone after a correction (patients.bonds): the code is read out to the desk or typed on the
    # portal, and makes the family bond on that number.
    "phone_verify": "xac thuc so dien thoai",
    # A resident opens an account (accounts.signup), or adds a family member on the same number.
    "signup": "mo tai khoan",
    # Forgot password (accounts.signup.password_reset_*): texted only to a number that has an account.
    "password_reset": "dat lai mat khau",
}
# Purposes whose code is texted only when the number has a portal account (accounts_on_phone); for any
# other number a challenge is still recorded and every limit counts, so the answer (and the next answer's
# "wait 60 s") is the same whether or not the number has an account: nobody learns which numbers do.
ACCOUNT_ONLY_PURPOSES = frozenset({"password_reset"})


@dataclass(frozen=True)
class OtpIssued:
    expires_in: int
    resend_after: int


def accounts_on_phone(phone: str) -> Any:
    """The portal accounts a number answers for: patients' accounts (active, not staff) whose patient proved
    `phone` by OTP (Patient.verified_phone, the family bond). Never User.phone, which nobody proved."""
    from health_f0.core.models import User
    from health_f0.facilities.models import Membership

    staff = Membership.objects.filter(is_active=True).values("user_id")
    return (
        User.objects.filter(patient__verified_phone=phone, is_active=True, is_superuser=False, is_staff=False)
        .exclude(pk__in=staff)
        .order_by("pk")
    )


def _hash(phone: str, purpose: str, code: str) -> str:
    message = f"{phone}:{purpose}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def _resend_key(phone: str, purpose: str) -> str:
    return f"otp-resend:{purpose}:{phone}"


def _failures_key(challenge: OtpChallenge) -> str:
    return f"otp-fail:{challenge.pk}"


def _failures(challenge: OtpChallenge) -> int:
    return counter_get(_failures_key(challenge))


def _count_failure(challenge: OtpChallenge) -> int:
    """Count a wrong code outside the database transaction too: if the caller's transaction rolls back
    (otp_verify called inside a larger atomic block that fails), the lock-out still counts this try."""
    return cache_incr(_failures_key(challenge), timeout=settings.OTP_TTL_SECONDS + 60)


def _ip_allowance(ip: str, issued_last_hour: int) -> bool:
    """Whether one more code may go to a network address (an IPv6 /64): under the hourly cap by the
    database's count (a sliding hour) and by an atomic counter for the current clock hour. Counting rows
    alone races: a burst across many phones from one address would all read the same count before any row
    lands; the counter's atomic increment lets exactly the cap through, across worker processes."""
    cap = settings.OTP_MAX_PER_IP_PER_HOUR
    if issued_last_hour >= cap:
        return False
    return window_count(f"otp-ip:{limit_key(ip)}", window_seconds=3600, fail_closed=True) <= cap


def _within_budget(now: datetime) -> bool:
    """One more OTP SMS in this clock hour, province-wide; False past OTP_SMS_BUDGET_PER_HOUR (and the
    administrators are alerted, once for the hour)."""
    sent = window_count("otp-sms-budget", window_seconds=BUDGET_WINDOW, fail_closed=True)
    if sent <= settings.OTP_SMS_BUDGET_PER_HOUR:
        return True
    window = int(now.timestamp()) // BUDGET_WINDOW
    if counter_add(f"otp-sms-budget-alert:{window}", timeout=BUDGET_WINDOW + 60, fail_closed=True):
        _budget_alert(resume_at=now + timedelta(seconds=window_remaining(BUDGET_WINDOW)))
    return False


def _budget_alert(*, resume_at: datetime) -> None:
    """Tell the province's administrators that OTP sending stopped: an audit row on the Department of
    Health (the desk's audit log, for managers and administrators) and an SMS to each administrator."""
    from health_f0.core.audit import audit_log
    from health_f0.core.models import AuditLog, User
    from health_f0.facilities.models import Facility, FacilityKind, Membership, Role

    budget = settings.OTP_SMS_BUDGET_PER_HOUR
    resume = timezone.localtime(resume_at).strftime("%H:%M")
    logger.error("OTP SMS budget of %s an hour exceeded: OTP sending paused until %s", budget, resume)
    with transaction.atomic():
        province = Facility.objects.filter(kind=FacilityKind.DEPARTMENT_OF_HEALTH).order_by("pk").first()
        if province is not None:
            audit_log(
                actor=None,
                action=AuditLog.Action.ALERT,
                verb="otp_sms_budget_exceeded",
                target=province,
                facility=province,
                data={"budget_per_hour": budget, "paused_until": resume},
            )
        memberships = Membership.objects.filter(
            role=Role.ADMINISTRATOR, is_active=True, user__is_active=True
        ).select_related("user", "facility")
        recipients: dict[str, Any] = {m.user.phone: m.facility for m in memberships if m.user.phone}
        for user in User.objects.filter(is_superuser=True, is_active=True).exclude(phone=""):
            recipients.setdefault(user.phone, province)
        for phone, facility in recipients.items():
            sms_enqueue(
                to=phone,
                body=f"health_f0: so SMS ma OTP vuot ngan sach {budget} tin/gio, nghi co tan cong SMS. "
                f"Da tam dung gui OTP den {resume}. Kiem tra: {settings.PORTAL_URL}/desk/",
                kind=MessageKind.STAFF_ALERT,
                facility=facility,
                subject_ref=f"otp-budget:{resume_at:%Y%m%d%H}",
            )


def _wait_message(seconds: int) -> str:
    return ngettext(
        "Vui lòng chờ %(seconds)s giây trước khi lấy mã mới.",
        "Vui lòng chờ %(seconds)s giây trước khi lấy mã mới.",
        seconds,
    ) % {"seconds": seconds}


def otp_request(*, phone: str, purpose: str, ip: str | None) -> OtpIssued:
    """Create and text a new code, unless a limit applies (RateLimited carries `retry_after` seconds)."""
    if purpose not in PURPOSES:
        raise DomainError(_("Mục đích OTP không hợp lệ."), code="purpose_invalid", field="purpose")
    now = timezone.now()
    resend = settings.OTP_RESEND_SECONDS
    # Atomic on both stores: one code per phone per 60 s even under a burst across worker processes.
    guard = _resend_key(phone, purpose)
    try:
        started = counter_add(guard, timeout=resend, fail_closed=True)
    except CounterUnavailable:
        raise _unavailable()
    if not started:
        last = OtpChallenge.objects.filter(phone=phone, purpose=purpose).order_by("-created_at").first()
        wait = resend - int((now - last.created_at).total_seconds()) if last else resend
        raise RateLimited(
            _wait_message(max(wait, 1)),
            code="otp_resend_too_soon",
            retry_after=max(wait, 1),
        )
    try:
        return _issue(phone=phone, purpose=purpose, ip=ip, now=now)
    except CounterUnavailable:
        counter_delete(guard)
        raise _unavailable()
    except BaseException:
        # No code went out: a refusal (e.g. the network's cap) must not also cost the phone 60 seconds.
        counter_delete(guard)
        raise


def _unavailable() -> RateLimited:
    return RateLimited(
        _("Hệ thống tạm thời chưa gửi được mã OTP. Vui lòng thử lại sau ít phút."),
        code="otp_unavailable",
        retry_after=60,
    )


def _issue(*, phone: str, purpose: str, ip: str | None, now: datetime) -> OtpIssued:
    resend = settings.OTP_RESEND_SECONDS
    hour_ago = now - timedelta(hours=1)
    recent = OtpChallenge.objects.filter(created_at__gte=hour_ago)
    last_resend = recent.filter(phone=phone, purpose=purpose).order_by("-created_at").first()
    if last_resend and (now - last_resend.created_at).total_seconds() < resend:
        wait = resend - int((now - last_resend.created_at).total_seconds())
        raise RateLimited(
            _wait_message(max(wait, 1)),
            code="otp_resend_too_soon",
            retry_after=max(wait, 1),
        )
    if recent.filter(phone=phone).count() >= settings.OTP_MAX_PER_PHONE_PER_HOUR:
        raise RateLimited(
            _("Số điện thoại này đã nhận quá nhiều mã trong 1 giờ. Vui lòng thử lại sau."),
            code="otp_phone_limit",
            retry_after=3600,
        )
    if ip and not _ip_allowance(ip, recent.filter(ip_address=ip).count()):
        raise RateLimited(
            _("Có quá nhiều yêu cầu mã OTP từ mạng của bạn. Vui lòng thử lại sau."),
            code="otp_ip_limit",
            retry_after=3600,
        )
    if not _within_budget(now):
        raise RateLimited(
            _("Hệ thống đang tạm ngừng gửi mã OTP vì có quá nhiều yêu cầu. Vui lòng thử lại sau."),
            code="otp_budget_exceeded",
            retry_after=window_remaining(BUDGET_WINDOW),
        )
    code = f"{secrets.randbelow(10**6):06d}"
    expires_at = now + timedelta(seconds=settings.OTP_TTL_SECONDS)
    deliver = purpose not in ACCOUNT_ONLY_PURPOSES or accounts_on_phone(phone).exists()
    with transaction.atomic():
        # Any earlier unused code for this phone and purpose stops working.
        OtpChallenge.objects.filter(phone=phone, purpose=purpose, consumed_at__isnull=True).update(
            consumed_at=now
        )
        OtpChallenge.objects.create(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(phone, purpose, code),
            expires_at=expires_at,
            ip_address=ip,
        )
        minutes = settings.OTP_TTL_SECONDS // 60
        if not deliver:
            # No account on this number: the code exists only as a hash nobody was told.
            return OtpIssued(expires_in=settings.OTP_TTL_SECONDS, resend_after=resend)
        sms_enqueue(
            to=phone,
            body=f"Ma OTP {PURPOSES[purpose]}: {code}. Ma co hieu luc {minutes} phut. "
            "Khong cung cap ma nay cho bat ky ai.",
            kind=MessageKind.OTP,
            secret=True,
            expires_at=expires_at,
        )
    return OtpIssued(expires_in=settings.OTP_TTL_SECONDS, resend_after=resend)


def otp_verify(*, phone: str, purpose: str, code: str) -> OtpChallenge:
    """Check a code against the newest live challenge. Returns the challenge, marked verified (not consumed).

    A wrong code costs one of the 5 tries. The count is committed in its own transaction (or savepoint) and
    also kept in the cache, so it survives even when the caller's enclosing transaction rolls back.
    """
    code = (code or "").strip()
    now = timezone.now()
    error: DomainError | None = None
    with transaction.atomic():
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(phone=phone, purpose=purpose, consumed_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if challenge is None:
            error = DomainError(
                _("Vui lòng bấm “Nhận OTP” để lấy mã xác thực."), code="otp_missing", field="otp"
            )
        elif challenge.expires_at <= now:
            error = DomainError(_("Mã OTP đã hết hạn. Vui lòng lấy mã mới."), code="otp_expired", field="otp")
        elif max(challenge.attempts, _failures(challenge)) >= settings.OTP_MAX_ATTEMPTS:
            error = DomainError(
                _("Bạn đã nhập sai mã quá 5 lần. Vui lòng lấy mã mới."), code="otp_locked", field="otp"
            )
        elif (
            len(code) == 6
            and code.isdigit()
            and hmac.compare_digest(challenge.code_hash, _hash(phone, purpose, code))
        ):
            # A right code may be presented again after a fixable form error, until it is consumed.
            if challenge.verified_at is None:
                challenge.verified_at = now
                challenge.save(update_fields=["verified_at"])
        else:
            challenge.attempts = max(challenge.attempts + 1, _count_failure(challenge))
            challenge.save(update_fields=["attempts"])
            left = settings.OTP_MAX_ATTEMPTS - challenge.attempts
            message = (
                ngettext(
                    "Mã OTP không đúng. Bạn còn %(left)s lần thử.",
                    "Mã OTP không đúng. Bạn còn %(left)s lần thử.",
                    left,
                )
                % {"left": left}
                if left > 0
                else _("Mã OTP không đúng và đã bị khoá. Vui lòng lấy mã mới.")
            )
            error = DomainError(message, code="otp_invalid", field="otp")
    if error is not None:
        raise error
    assert challenge is not None
    return challenge


def otp_consume(*, challenge: OtpChallenge) -> None:
    """Use a verified code up, inside the caller's transaction: a code serves exactly one submission."""
    used = OtpChallenge.objects.filter(
        pk=challenge.pk, consumed_at__isnull=True, verified_at__isnull=False
    ).update(consumed_at=timezone.now())
    if used != 1:
        raise DomainError(_("Mã OTP đã được sử dụng. Vui lòng lấy mã mới."), code="otp_used", field="otp")
