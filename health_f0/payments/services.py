"""Payments: start one, apply what the gateway says about it exactly once, settle the silent ones, release the
bookings left unpaid, and give money back.

Guarantees:
- A payment is a row (status created) committed before the gateway is asked anything; the gateway's answer
  moves it to pending (the patient goes to the gateway) or failed (the gateway could not be reached: the row
  stays, with the reason).
- Every callback (IPN/webhook, the browser's return) and every query answer is verified by the gateway module
  (signature) and here (reference, facility's merchant account, amount), then applied under the payment's row
  lock (`select_for_update`): the state machine (payments.transitions) moves at most once, so an IPN repeated,
  replayed, reordered with the return, or applied by two workers at once changes the state once; the others
  answer "already". A refused callback (bad signature, wrong amount, unknown reference, another facility's
  merchant) changes nothing and is kept as a PaymentEvent for the accountant, like every other answer.
- Money that arrives after we gave up on a payment (expired, cancelled) is recorded (late_pay), and refunded
  when the booking it paid for is gone.
- A refund is a row (with its own reference) before the gateway's refund call; a retry sends the same
  reference, so a refund taken but unanswered is not paid twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.appointments.models import LIVE_STATUSES, Appointment
from health_f0.appointments.models import Status as AppointmentStatus
from health_f0.core.actors import is_user
from health_f0.core.audit import audit_log
from health_f0.core.counters import sliding_count
from health_f0.core.deadlocks import retry_on_deadlock
from health_f0.core.exceptions import DomainError, InvalidTransition, NotFound
from health_f0.core.models import AuditLog
from health_f0.core.request_context import limit_key
from health_f0.core.text import mask_account_number, mask_name, sms_text
from health_f0.facilities import access
from health_f0.his.models import HisVisit
from health_f0.payments import gateways, selectors
from health_f0.payments.crypto import encrypt
from health_f0.payments.gateways.base import (
    BadSignature,
    Callback,
    Gateway,
    GatewayError,
    Outcome,
    PaymentRequest,
    QueryResult,
)
from health_f0.payments.models import (
    MONEY_IN_STATUSES,
    OPEN_STATUSES,
    EventKind,
    EventResult,
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Prepayment,
    Purpose,
    Refund,
    RefundStatus,
    new_reference,
)
from health_f0.payments.transitions import PAYMENT_WORKFLOW

logger = logging.getLogger(__name__)

SIGNATURE_KEYS = frozenset({"vnp_SecureHash", "vnp_SecureHashType", "signature", "checksum"})
# The payer's own bank account in a transfer's notice (payOS): kept masked, enough to match a bank statement.
PAYER_ACCOUNT_KEYS = frozenset({"counterAccountNumber"})
PAYER_NAME_KEYS = frozenset({"counterAccountName"})
# A payment link the patient opens now stays valid this long (a visit's bill, an optional booking fee).
LINK_MINUTES = 15
# A pending payment is asked about no more often than this, and not before the patient had time to pay.
QUERY_EVERY = timedelta(minutes=5)
QUERY_AFTER = timedelta(minutes=2)
# After its deadline a payment is still asked about for this long before it is marked expired (a payment made
# in the last second reaches the gateway's records a little later).
EXPIRE_GRACE = timedelta(minutes=10)


# callback_apply's answer to a return it could not confirm with the gateway (payOS down): the payment is
# unchanged and the patient is shown that it is being confirmed.
CHECKING = "checking"


class GatewayUnavailable(DomainError):
    status_code = 503


@dataclass(frozen=True)
class Applied:
    """What became of one callback: our result code (`notification_answer`'s vocabulary) and the payment."""

    code: str
    payment: Payment | None = None


# --- Gateway accounts ----------------------------------------------------------------------------------


@transaction.atomic
def gateway_account_save(
    *,
    actor: Any,
    facility: Any,
    gateway: str,
    merchant_code: str,
    secret: str = "",
    access_key: str = "",
    account: GatewayAccount | None = None,
    **fields: Any,
) -> GatewayAccount:
    """Create or update a facility's account at a gateway. A blank secret or access key keeps the stored one
    (the desk never shows a stored key); keys are stored encrypted and never audited or logged."""
    access.require_role_at(actor, facility, access.GATEWAY_ACCOUNT_ROLES)
    if account is None:
        account = GatewayAccount(facility=facility, gateway=gateway)
    account.merchant_code = merchant_code.strip()
    for name, value in fields.items():
        setattr(account, name, value)
    if secret:
        account.secret_encrypted = encrypt(secret.strip())
    if access_key:
        account.access_key_encrypted = encrypt(access_key.strip())
    if not account.secret_encrypted and gateway != "vietqr":
        raise DomainError(
            _("Vui lòng nhập khoá bí mật do cổng thanh toán cấp."), code="secret_required", field="secret"
        )
    account.updated_by = actor if is_user(actor) else None
    account.full_clean(exclude=["secret_encrypted", "access_key_encrypted"])
    account.save()
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="gateway_account_save",
        target=account,
        facility=facility,
        data={
            "gateway": gateway,
            "merchant_code": account.merchant_code,
            "keys_changed": bool(secret or access_key),
        },
    )
    return account


def _gateway(payment: Payment) -> tuple[Gateway, GatewayAccount]:
    account = selectors.gateway_account(payment.facility, payment.gateway)
    if account is None:
        raise GatewayUnavailable(
            _("Cơ sở chưa đăng ký cổng thanh toán này."), code="gateway_unavailable", field="gateway"
        )
    return gateways.gateway_for(payment.gateway, selectors.gateway_config(account)), account


def _absolute(name: str, gateway: str) -> str:
    return settings.PORTAL_URL + reverse(name, kwargs={"gateway": gateway})


def payment_request(payment: Payment, *, client_ip: str = "", locale: str = "vn") -> PaymentRequest:
    return PaymentRequest(
        reference=payment.reference,
        amount=int(payment.amount),
        description=payment.description,
        created_at=payment.created_at,
        expires_at=payment.expires_at,
        return_url=_absolute("payments:return", payment.gateway),
        notify_url=_absolute("payments:notify", payment.gateway),
        client_ip=client_ip or "127.0.0.1",
        locale=locale,
    )


def _description(purpose: str, reference: str) -> str:
    text = "Phi kham" if purpose == Purpose.BOOKING_FEE else "Vien phi"
    return sms_text(f"{text} {reference}")[:100]


# --- Starting a payment --------------------------------------------------------------------------------


def _target(appointment: Appointment | None, visit: HisVisit | None) -> Any:
    if (appointment is None) == (visit is None):
        raise DomainError(_("Chọn một lịch hẹn hoặc một lượt khám để thanh toán."), code="target_required")
    return appointment if appointment is not None else visit


def _amount_and_deadline(target: Any, now: datetime) -> tuple[str, int, datetime]:
    link_until = now + timedelta(minutes=LINK_MINUTES)
    if isinstance(target, Appointment):
        price, prepayment = selectors.booking_fee(target)
        if not price or prepayment == Prepayment.NONE:
            raise DomainError(_("Dịch vụ này không thu phí khám trực tuyến."), code="nothing_to_pay")
        if target.status not in LIVE_STATUSES or target.status == AppointmentStatus.CHECKED_IN:
            raise DomainError(_("Lịch hẹn này không còn chờ thanh toán."), code="nothing_to_pay")
        deadline = selectors.pay_deadline(target)
        if deadline is not None:
            if deadline <= now:
                raise DomainError(_("Đã quá hạn thanh toán của lịch hẹn này."), code="deadline_passed")
            return Purpose.BOOKING_FEE, price, deadline
        return Purpose.BOOKING_FEE, price, min(link_until, target.slot_start)
    amount = selectors.visit_amount_due(target)
    if amount <= 0:
        raise DomainError(_("Lượt khám này không còn khoản nào cần thanh toán."), code="nothing_to_pay")
    return Purpose.VISIT_BILL, amount, link_until


@retry_on_deadlock
@transaction.atomic
def _payment_row(
    *, actor: Any, gateway: str, appointment: Appointment | None, visit: HisVisit | None, now: datetime
) -> tuple[Payment, bool]:
    """The payment row to send the patient with (a pending one of the same gateway still valid is reused),
    committed before the gateway is asked. The target (booking or visit) is locked, so two taps on "Thanh
    toán" never make two payments. Returns (payment, is_new)."""
    # Lock the booking (or visit) row alone: MariaDB would also lock the rows of a joined table (its
    # facility, its patient), serializing unrelated work; then read it with its relations.
    model: Any = Appointment if appointment is not None else HisVisit
    target_pk = (appointment or visit).pk  # type: ignore[union-attr]
    list(model.objects.select_for_update().filter(pk=target_pk).values_list("pk", flat=True))
    related = ("service", "facility", "patient") if appointment is not None else ("facility", "patient")
    target: Any = model.objects.select_related(*related).get(pk=target_pk)
    filters = {"appointment": target} if appointment is not None else {"visit": target}
    if selectors.paid_payment(**filters) is not None:
        raise DomainError(_("Khoản này đã được thanh toán."), code="already_paid")
    purpose, amount, expires_at = _amount_and_deadline(target, now)
    for open_payment in Payment.objects.select_for_update().filter(status__in=OPEN_STATUSES, **filters):
        still_valid = open_payment.expires_at > now + timedelta(minutes=2)
        if open_payment.gateway == gateway and open_payment.status == PaymentStatus.PENDING and still_valid:
            return open_payment, False
        # Another gateway chosen (or the link ran out): this attempt is given up; a late payment on it is
        # still recorded (late_pay) and refunded when nothing needs it.
        action = "cancel" if open_payment.status == PaymentStatus.PENDING else "start_failed"
        PAYMENT_WORKFLOW.apply(
            open_payment, action, None, now=now, fields={"closed_at": now}, audit={"replaced": True}
        )
    for _attempt in range(3):
        reference = new_reference()
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    facility=target.facility,
                    patient=target.patient,
                    purpose=purpose,
                    appointment=target if appointment is not None else None,
                    visit=target if visit is not None else None,
                    amount=amount,
                    gateway=gateway,
                    reference=reference,
                    description=_description(purpose, reference),
                    created_by=actor if is_user(actor) else None,
                    expires_at=expires_at,
                )
            break
        except IntegrityError:  # the one-in-a-billion same reference: draw again
            continue
    else:
        raise DomainError(_("Không tạo được mã thanh toán. Vui lòng thử lại."), code="reference")
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="payment_create",
        target=payment,
        facility=payment.facility,
        data={"gateway": gateway, "amount": amount, "purpose": purpose, "reference": reference},
    )
    return payment, True


def payment_start(
    *,
    actor: Any,
    gateway: str,
    appointment: Appointment | None = None,
    visit: HisVisit | None = None,
    client_ip: str = "",
    locale: str = "vn",
    now: datetime | None = None,
) -> Payment:
    """Start paying a booking's fee or a visit's bill through `gateway`, for the patient the actor acts for.
    The row is committed first; then the gateway is asked (outside any transaction) and the row moves to
    pending with where the patient goes (`redirect_url` or `qr_payload`), or to failed with the reason and a
    GatewayUnavailable (503) for the caller. Not the actor's booking or visit: NotFound."""
    now = now or timezone.now()
    target = _target(appointment, visit)
    if not access.owns_patient(actor, target.patient):
        raise NotFound(_("Không tìm thấy hồ sơ."))
    if gateway not in selectors.gateways_offered(target.facility):
        raise DomainError(
            _("Cơ sở không nhận thanh toán qua cổng này. Vui lòng chọn cổng khác."),
            code="gateway_unavailable",
            field="gateway",
        )
    payment, is_new = _payment_row(
        actor=actor, gateway=gateway, appointment=appointment, visit=visit, now=now
    )
    if not is_new:
        return payment
    try:
        gateway_obj, _account = _gateway(payment)
        started = gateway_obj.create(payment_request(payment, client_ip=client_ip, locale=locale))
    except (GatewayError, GatewayUnavailable) as exc:
        logger.warning("payment %s: gateway %s could not start it: %s", payment.reference, gateway, exc)
        _start_finish(payment.pk, failure=str(exc)[:300], now=now)
        raise GatewayUnavailable(
            _(
                "Cổng thanh toán đang không kết nối được nên chưa thể thanh toán. Lịch hẹn của bạn vẫn được giữ; "
                "vui lòng thử lại sau ít phút hoặc chọn cách thanh toán khác."
            ),
            code="gateway_down",
        ) from exc
    return _start_finish(
        payment.pk,
        redirect_url=started.redirect_url,
        qr_payload=started.qr_payload,
        gateway_ref=started.gateway_ref,
        now=now,
    )


@retry_on_deadlock
@transaction.atomic
def _start_finish(
    payment_id: int,
    *,
    now: datetime,
    failure: str = "",
    redirect_url: str = "",
    qr_payload: str = "",
    gateway_ref: str = "",
) -> Payment:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != PaymentStatus.CREATED:  # a callback came first (a QR paid within the second)
        return payment
    if failure:
        PAYMENT_WORKFLOW.apply(
            payment,
            "start_failed",
            None,
            now=now,
            fields={"failure": failure, "closed_at": now},
            audit={"failure": failure},
        )
    else:
        PAYMENT_WORKFLOW.apply(
            payment,
            "start",
            None,
            now=now,
            fields={"redirect_url": redirect_url, "qr_payload": qr_payload, "gateway_ref": gateway_ref[:64]},
        )
    return payment


# --- Callbacks: verify, then apply once ------------------------------------------------------------------


def _payload(params: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of a callback: its fields without the signature, values as short strings, the payer's bank
    account masked."""
    kept: dict[str, Any] = {}
    for key, value in list(params.items())[:60]:
        if str(key) in SIGNATURE_KEYS:
            continue
        if isinstance(value, Mapping):
            kept[str(key)[:64]] = _payload(value)
        elif str(key) in PAYER_ACCOUNT_KEYS and value:
            kept[str(key)] = mask_account_number(str(value))
        elif str(key) in PAYER_NAME_KEYS and value:
            kept[str(key)] = mask_name(str(value)[:200])
        else:
            kept[str(key)[:64]] = str(value)[:500]
    return kept


def _event(
    *,
    gateway: str,
    kind: str,
    result: str,
    reference: str = "",
    payment: Payment | None = None,
    verified: bool = False,
    gateway_code: str = "",
    amount: int | None = None,
    payload: Mapping[str, Any] | None = None,
    remote_ip: str | None = None,
    now: datetime | None = None,
) -> PaymentEvent:
    return PaymentEvent.objects.create(
        received_at=now or timezone.now(),
        gateway=gateway,
        kind=kind,
        reference=reference[:64],
        payment=payment,
        facility_id=payment.facility_id if payment is not None else None,
        verified=verified,
        result=result,
        gateway_code=gateway_code[:16],
        amount=amount,
        payload=dict(payload or {}),
        remote_ip=remote_ip or None,
    )


def _decide(status: str, outcome: str) -> tuple[str, str | None]:
    """(our result, the workflow action) for a verified outcome on a payment in `status`."""
    if outcome == Outcome.PAID:
        if status in OPEN_STATUSES:
            return EventResult.APPLIED, "pay"
        if status in (PaymentStatus.FAILED, PaymentStatus.EXPIRED, PaymentStatus.CANCELLED):
            return EventResult.APPLIED, "late_pay"
        return EventResult.ALREADY, None
    if outcome == Outcome.FAILED:
        if status == PaymentStatus.PENDING:
            return EventResult.APPLIED, "fail"
        if status == PaymentStatus.CREATED:
            return EventResult.APPLIED, "start_failed"
        return EventResult.ALREADY, None
    return EventResult.INFO, None


@retry_on_deadlock
@transaction.atomic
def _apply_outcome(
    payment_id: int,
    *,
    kind: str,
    outcome: str,
    gateway_ref: str,
    gateway_code: str,
    paid_at: datetime | None,
    amount: int,
    payload: Mapping[str, Any],
    remote_ip: str | None,
    now: datetime,
) -> Applied:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    result, action = _decide(payment.status, outcome)
    if action is not None:
        fields: dict[str, Any] = {"gateway_code": gateway_code[:16]}
        if gateway_ref:
            fields["gateway_ref"] = gateway_ref[:64]
        if action in ("pay", "late_pay"):
            fields["paid_at"] = paid_at or now
        else:
            fields["closed_at"] = now
            fields["failure"] = _("Cổng thanh toán báo giao dịch không thành công (mã %(code)s).") % {
                "code": gateway_code or "?"
            }
        PAYMENT_WORKFLOW.apply(
            payment,
            action,
            None,
            now=now,
            fields=fields,
            audit={"via": kind, "gateway_code": gateway_code, "gateway_ref": gateway_ref},
        )
    _event(
        gateway=payment.gateway,
        kind=kind,
        result=result,
        reference=payment.reference,
        payment=payment,
        verified=True,
        gateway_code=gateway_code,
        amount=amount,
        payload=payload,
        remote_ip=remote_ip,
        now=now,
    )
    return Applied(result, payment)


# Unverified callbacks (unknown reference, bad signature, unreadable) an address may send in a sliding minute
# before its callbacks are answered 429 unread.
CALLBACK_REFUSALS_PER_MINUTE = 30
LIMITED = "limited"


def _refusals_key(remote_ip: str) -> str:
    return f"pay:cb-refused:{limit_key(remote_ip)}"


def _refusals_over_limit(remote_ip: str) -> bool:
    count = sliding_count(_refusals_key(remote_ip), window_seconds=60, add=False)
    return count >= CALLBACK_REFUSALS_PER_MINUTE


def callback_apply(
    *,
    gateway: str,
    kind: str,
    params: Mapping[str, Any],
    remote_ip: str | None = None,
    now: datetime | None = None,
) -> Applied:
    """Verify one callback (IPN/webhook or return) and apply it once. The result code is what the gateway
    is answered (`Gateway.notification_answer`): ok, already, not_found, bad_amount, bad_signature, error."""
    now = now or timezone.now()
    cls = gateways.gateway_class(gateway)
    if cls is None:
        return Applied(EventResult.NOT_FOUND)
    if remote_ip and _refusals_over_limit(remote_ip):
        # An address that keeps sending callbacks that fail verification is not looked up or logged any more
        # for a minute: a flood of forged IPNs cannot fill the event log. A gateway's own, signed callbacks
        # are never counted, so they never meet this limit.
        return Applied(LIMITED)
    payload = _payload(params)
    reference = cls.reference_of(params)
    payment = (
        Payment.objects.select_related("facility").filter(reference=reference, gateway=gateway).first()
        if reference
        else None
    )

    def refuse(
        result: str, code: str, *, verified: bool = False, callback: Callback | None = None
    ) -> Applied:
        _event(
            gateway=gateway,
            kind=kind,
            result=result,
            reference=reference,
            payment=payment,
            verified=verified,
            gateway_code=callback.gateway_code if callback else "",
            amount=callback.amount if callback else None,
            payload=payload,
            remote_ip=remote_ip,
            now=now,
        )
        logger.warning("payment callback refused: %s %s %s (%s)", gateway, kind, reference[:32], result)
        if remote_ip and not verified:
            sliding_count(_refusals_key(remote_ip), window_seconds=60)
        return Applied(code, payment)

    if not reference:  # not a callback at all (no reference to look up): answered, not logged
        return Applied(EventResult.NOT_FOUND)
    if payment is None:
        return refuse(EventResult.NOT_FOUND, "not_found")
    try:
        gateway_obj, account = _gateway(payment)
    except GatewayUnavailable:
        return refuse(EventResult.ERROR, "error")
    try:
        callback = (
            gateway_obj.parse_return(params)
            if kind == EventKind.RETURN
            else gateway_obj.parse_notification(params)
        )
    except BadSignature:
        return refuse(EventResult.BAD_SIGNATURE, "bad_signature")
    except (ValueError, KeyError, TypeError):
        return refuse(EventResult.ERROR, "error")
    except GatewayError as exc:
        # A return the gateway must be asked about (payOS signs no return) while it cannot answer: nothing
        # changes; the payment stays open and the webhook or the scheduled query settles it.
        _event(
            gateway=gateway,
            kind=kind,
            result=EventResult.ERROR,
            reference=reference,
            payment=payment,
            payload={**payload, "error": str(exc)[:300]},
            remote_ip=remote_ip,
            now=now,
        )
        logger.warning("payment callback %s %s: gateway not reachable to confirm it", gateway, kind)
        return Applied(CHECKING, payment)
    if callback.reference != payment.reference:
        return refuse(EventResult.NOT_FOUND, "not_found", verified=True, callback=callback)
    if callback.merchant_code and callback.merchant_code != account.merchant_code:
        # Signed, but for another merchant account: another facility's payment replayed here.
        return refuse(EventResult.WRONG_FACILITY, "not_found", verified=True, callback=callback)
    if callback.amount != payment.amount and (callback.outcome == Outcome.PAID or callback.amount):
        # (A gateway that does not know the payment yet answers no amount: nothing to compare.)
        return refuse(EventResult.BAD_AMOUNT, "bad_amount", verified=True, callback=callback)
    return _apply_outcome(
        payment.pk,
        kind=kind,
        outcome=callback.outcome,
        gateway_ref=callback.gateway_ref,
        gateway_code=callback.gateway_code,
        paid_at=callback.paid_at,
        amount=callback.amount,
        payload=payload,
        remote_ip=remote_ip,
        now=now,
    )


# --- The schedule: settle silent payments, expire, release unpaid bookings, refund ---------------------


def _apply_answer(
    payment: Payment, answer: QueryResult, *, kind: str, payload: Mapping[str, Any], now: datetime
) -> str:
    """A gateway's answer to our own call (a query, a cancel) applied as its callback would be (once)."""
    return _apply_outcome(
        payment.pk,
        kind=kind,
        outcome=answer.outcome,
        gateway_ref=answer.gateway_ref,
        gateway_code=answer.gateway_code,
        paid_at=answer.paid_at,
        amount=answer.amount or int(payment.amount),
        payload=payload,
        remote_ip=None,
        now=now,
    ).code


def payment_settle(*, payment: Payment, now: datetime | None = None) -> str:
    """Ask the gateway about one open payment whose callback has not come, and apply the answer as a
    callback would be (once). Past its deadline (and the grace) with nothing paid, it is marked expired.
    A gateway that cannot answer leaves it open (asked again later): money is never assumed missing."""
    now = now or timezone.now()
    payment = Payment.objects.select_related("facility").get(pk=payment.pk)
    if payment.status not in OPEN_STATUSES:
        return EventResult.ALREADY
    Payment.objects.filter(pk=payment.pk).update(last_query_at=now)
    try:
        gateway_obj, _account = _gateway(payment)
        answer: QueryResult = gateway_obj.query(payment_request(payment))
    except (GatewayError, GatewayUnavailable) as exc:
        _event(
            gateway=payment.gateway,
            kind=EventKind.QUERY,
            result=EventResult.ERROR,
            reference=payment.reference,
            payment=payment,
            payload={"error": str(exc)[:300]},
            now=now,
        )
        return EventResult.ERROR
    payload = {
        "outcome": str(answer.outcome),
        "amount": answer.amount,
        "gateway_ref": answer.gateway_ref,
        "gateway_code": answer.gateway_code,
    }
    if answer.outcome == Outcome.PAID and answer.amount and answer.amount != payment.amount:
        _event(
            gateway=payment.gateway,
            kind=EventKind.QUERY,
            result=EventResult.BAD_AMOUNT,
            reference=payment.reference,
            payment=payment,
            verified=True,
            gateway_code=answer.gateway_code,
            amount=answer.amount,
            payload=payload,
            now=now,
        )
        return EventResult.BAD_AMOUNT
    if answer.outcome in (Outcome.PAID, Outcome.FAILED):
        return _apply_answer(payment, answer, kind=EventKind.QUERY, payload=payload, now=now)
    if now >= payment.expires_at + EXPIRE_GRACE:
        return _expire(payment.pk, payload=payload, gateway_code=answer.gateway_code, now=now)
    _event(
        gateway=payment.gateway,
        kind=EventKind.QUERY,
        result=EventResult.INFO,
        reference=payment.reference,
        payment=payment,
        verified=True,
        gateway_code=answer.gateway_code,
        payload=payload,
        now=now,
    )
    return EventResult.INFO


@retry_on_deadlock
@transaction.atomic
def _expire(payment_id: int, *, payload: Mapping[str, Any], gateway_code: str, now: datetime) -> str:
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status not in OPEN_STATUSES:
        return EventResult.ALREADY
    action = "expire" if payment.status == PaymentStatus.PENDING else "start_failed"
    PAYMENT_WORKFLOW.apply(
        payment, action, None, now=now, fields={"closed_at": now}, audit={"gateway_code": gateway_code}
    )
    _cancel_link_after_commit(payment.pk, reason="Het han thanh toan")
    _event(
        gateway=payment.gateway,
        kind=EventKind.QUERY,
        result=EventResult.APPLIED,
        reference=payment.reference,
        payment=payment,
        verified=True,
        gateway_code=gateway_code,
        payload=payload,
        now=now,
    )
    return EventResult.APPLIED


def payments_settle_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Open payments not heard of for a while: ask their gateway (payment_settle). Returns how many asked."""
    now = now or timezone.now()
    due = (
        Payment.objects.filter(status__in=OPEN_STATUSES, created_at__lte=now - QUERY_AFTER)
        .exclude(last_query_at__gt=now - QUERY_EVERY)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    asked = 0
    for payment_id in list(due):
        payment_settle(payment=Payment(pk=payment_id), now=now)
        asked += 1
    return asked


def unpaid_bookings_due(*, now: datetime, limit: int = 500) -> list[int]:
    """Live bookings whose service requires prepayment, past their pay deadline, with nothing paid and no
    payment still open (one the gateway has not answered about is never assumed unpaid)."""
    candidates = (
        Appointment.objects.filter(
            status__in=(AppointmentStatus.REQUESTED, AppointmentStatus.CONFIRMED),
            service__payment_policy__prepayment=Prepayment.REQUIRED,
            service__payment_policy__price__gt=0,
            slot_start__gt=now - timedelta(days=1),
        )
        .exclude(payments__status__in=(*MONEY_IN_STATUSES, PaymentStatus.REFUNDED, *OPEN_STATUSES))
        .select_related("service__payment_policy")
        .order_by("created_at")[: limit * 4]
    )
    due = []
    for appointment in candidates:
        deadline = selectors.pay_deadline(appointment)
        if deadline is not None and deadline <= now:
            due.append(appointment.pk)
        if len(due) >= limit:
            break
    return due


def unpaid_bookings_release(*, now: datetime | None = None, limit: int = 500) -> int:
    """Cancel (as the system, texting the patient) the bookings left unpaid past their deadline."""
    from health_f0.appointments.services import appointment_release_unpaid

    now = now or timezone.now()
    released = 0
    for appointment_id in unpaid_bookings_due(now=now, limit=limit):
        appointment = Appointment.objects.get(pk=appointment_id)
        if Payment.objects.filter(
            appointment=appointment, status__in=(*MONEY_IN_STATUSES, *OPEN_STATUSES)
        ).exists():  # paid or started meanwhile
            continue
        try:
            appointment_release_unpaid(
                appointment=appointment, reason="Chưa thanh toán phí khám trước hạn", now=now
            )
        except DomainError:  # confirmed, cancelled or checked in meanwhile
            continue
        released += 1
    return released


def refunds_due(*, limit: int = 200) -> list[int]:
    """Paid booking fees whose booking was cancelled (by the patient before the cut-off, declined or
    cancelled by the desk, released by the system): their money goes back."""
    return list(
        Payment.objects.filter(
            status=PaymentStatus.PAID,
            purpose=Purpose.BOOKING_FEE,
            appointment__status=AppointmentStatus.CANCELLED,
        )
        .order_by("paid_at")
        .values_list("pk", flat=True)[:limit]
    )


def refunds_start_due(*, now: datetime | None = None, limit: int = 200) -> int:
    started = 0
    for payment_id in refunds_due(limit=limit):
        payment = Payment.objects.select_related("appointment").get(pk=payment_id)
        try:
            refund_start(payment=payment, actor=None, reason=_refund_reason(payment), now=now)
        except DomainError:
            continue
        started += 1
    return started


def booking_cancelled_refund(*, appointment_id: int, now: datetime | None = None) -> int:
    """Right after a booking's cancellation commits (appointments.services' on_commit hook): give back the
    fee it paid, without waiting for the minute job. Idempotent with that job (refunds_start_due): whichever
    comes first moves the payment to refund_pending under its lock; the other finds nothing to do. Never
    raises: a failure here leaves the payment paid and the job starts the refund. Returns refunds started."""
    started = 0
    try:
        payment_ids = list(
            Payment.objects.filter(
                appointment_id=appointment_id,
                purpose=Purpose.BOOKING_FEE,
                status=PaymentStatus.PAID,
                appointment__status=AppointmentStatus.CANCELLED,
            ).values_list("pk", flat=True)
        )
        for payment_id in payment_ids:
            payment = Payment.objects.select_related("appointment").get(pk=payment_id)
            try:
                refund_start(payment=payment, actor=None, reason=_refund_reason(payment), now=now)
            except DomainError:  # the job (or another worker) started it first
                continue
            started += 1
    except Exception:  # the minute job is the safety net; the cancellation itself has committed
        logger.exception("refund at cancel of booking %s failed; the sweep will retry", appointment_id)
    return started


def _refund_reason(payment: Payment) -> str:
    from health_f0.appointments.models import CancelSource

    source = str(getattr(payment.appointment, "cancel_source", ""))
    reasons: dict[str, str] = {
        CancelSource.PATIENT: "Người bệnh huỷ lịch hẹn",
        CancelSource.DECLINED: "Lịch hẹn không được xác nhận",
        CancelSource.STAFF: "Cơ sở huỷ lịch hẹn",
        CancelSource.SYSTEM: "Lịch hẹn đã bị huỷ",
    }
    return reasons.get(source, "Lịch hẹn đã bị huỷ")


def payments_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic job: settle silent payments, release unpaid bookings, refund cancelled prepaid ones."""
    now = now or timezone.now()
    return {
        "asked": payments_settle_due(now=now),
        "released": unpaid_bookings_release(now=now),
        "refunds": refunds_start_due(now=now),
    }


# --- Refunds -------------------------------------------------------------------------------------------


@retry_on_deadlock
@transaction.atomic
def _refund_row(*, payment: Payment, actor: Any, reason: str, now: datetime) -> Refund:
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status == PaymentStatus.REFUND_FAILED:
        PAYMENT_WORKFLOW.apply(payment, "refund_retry", actor, now=now, audit={"reason": reason})
        refund = payment.refunds.order_by("-requested_at", "-id").first()
        if refund is not None:
            refund.status = RefundStatus.PENDING
            refund.failure = ""
            refund.save(update_fields=["status", "failure", "updated_at"])
            return refund
    else:
        PAYMENT_WORKFLOW.apply(payment, "refund", actor, now=now, audit={"reason": reason})
    return Refund.objects.create(
        payment=payment,
        amount=payment.amount,
        reference=new_reference(),
        reason=reason[:300],
        requested_by=actor if is_user(actor) else None,
        requested_at=now,
    )


def refund_start(*, payment: Payment, actor: Any, reason: str, now: datetime | None = None) -> Refund:
    """Give a paid payment's money back through its gateway (the system for a cancelled booking, or
    PAYMENT_REFUND_ROLES by hand; also a retry of a failed refund). The refund row is committed before the
    call; the answer moves the payment to refunded or refund_failed (the accountant's worklist)."""
    now = now or timezone.now()
    reason = (reason or "").strip()
    if not reason:
        raise DomainError(_("Vui lòng nhập lý do hoàn tiền."), code="reason_required", field="reason")
    refund = _refund_row(payment=payment, actor=actor, reason=reason, now=now)
    payment = Payment.objects.select_related("facility").get(pk=refund.payment_id)
    try:
        gateway_obj, _account = _gateway(payment)
        answer = gateway_obj.refund(
            payment_request(payment),
            amount=int(refund.amount),
            refund_reference=refund.reference,
            reason=sms_text(reason)[:100],
            gateway_ref=payment.gateway_ref,
        )
    except (GatewayError, GatewayUnavailable) as exc:
        maybe = bool(getattr(exc, "maybe_done", False))
        failure = _("Cổng thanh toán không trả lời (%(error)s).") % {"error": str(exc)[:200]}
        if maybe:
            failure += " " + _("Có thể cổng đã nhận yêu cầu: kiểm tra với cổng trước khi hoàn lại.")
        return _refund_finish(refund.pk, accepted=False, failure=failure, code="", gateway_ref="", now=now)
    if answer.accepted:
        failure = ""
    elif answer.gateway_code == "manual":  # VietQR (payOS) has no refund call: the accountant transfers it
        failure = _(
            "Chuyển khoản VietQR không hoàn tiền tự động được: kế toán chuyển trả từ tài khoản của cơ sở "
            "rồi ghi nhận đã hoàn."
        )
    else:
        failure = answer.message or _("Cổng thanh toán từ chối hoàn tiền.")
    return _refund_finish(
        refund.pk,
        accepted=answer.accepted,
        failure=failure[:300],
        code=answer.gateway_code,
        gateway_ref=answer.gateway_ref,
        now=now,
    )


@retry_on_deadlock
@transaction.atomic
def _refund_finish(
    refund_id: int, *, accepted: bool, failure: str, code: str, gateway_ref: str, now: datetime
) -> Refund:
    # The payment first, then its refund: the order every writer of both takes.
    payment_id = Refund.objects.values_list("payment_id", flat=True).get(pk=refund_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    refund.attempts += 1
    refund.gateway_code = code[:16]
    if gateway_ref:
        refund.gateway_ref = gateway_ref[:64]
    refund.status = RefundStatus.DONE if accepted else RefundStatus.FAILED
    refund.failure = failure
    refund.finished_at = now if accepted else None
    refund.save()
    if payment.status == PaymentStatus.REFUND_PENDING:
        PAYMENT_WORKFLOW.apply(
            payment,
            "refund_done" if accepted else "refund_fail",
            None,
            now=now,
            fields={"closed_at": now} if accepted else {},
            audit={"refund": refund.reference, "gateway_code": code, "failure": failure},
        )
    _event(
        gateway=payment.gateway,
        kind=EventKind.REFUND,
        result=EventResult.APPLIED if accepted else EventResult.ERROR,
        reference=payment.reference,
        payment=payment,
        verified=accepted,
        gateway_code=code,
        amount=int(refund.amount),
        payload={"refund": refund.reference, "gateway_ref": gateway_ref, "failure": failure},
        now=now,
    )
    return refund


def payment_cancel_open(*, payment: Payment, actor: Any, now: datetime | None = None) -> Payment:
    """The patient gives up an open payment (to pay another way). A late payment on it is still recorded."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Payment.objects.select_for_update().get(pk=payment.pk)
        if locked.status != PaymentStatus.PENDING:
            raise InvalidTransition(_("Thanh toán này không còn đang chờ."), code="not_pending")
        PAYMENT_WORKFLOW.apply(locked, "cancel", actor, now=now, fields={"closed_at": now})
        _cancel_link_after_commit(locked.pk, reason="Nguoi benh huy thanh toan")
    return locked


def _cancel_link_after_commit(payment_id: int, *, reason: str) -> None:
    transaction.on_commit(lambda: gateway_link_cancel(payment_id=payment_id, reason=reason), robust=True)


def gateway_link_cancel(*, payment_id: int, reason: str, now: datetime | None = None) -> str:
    """After a payment is given up (expired, or cancelled by the patient): a gateway whose link stays payable
    until its own deadline (payOS's VietQR link) is asked to cancel it, so a late transfer does not land on a
    closed payment and wait for a refund by hand. A link paid in the meantime is recorded as the late payment
    it is; a gateway that cannot answer leaves it to the webhook (a late transfer is still recorded)."""
    now = now or timezone.now()
    payment = Payment.objects.select_related("facility").get(pk=payment_id)
    try:
        gateway_obj, _account = _gateway(payment)
    except GatewayUnavailable:
        return EventResult.ERROR
    cancel = getattr(gateway_obj, "cancel", None)
    if cancel is None:  # VNPay, MoMo: their payment page closes at the deadline they were given
        return EventResult.INFO
    try:
        answer: QueryResult = cancel(payment_request(payment), reason=reason)
    except GatewayError as exc:
        _event(
            gateway=payment.gateway,
            kind=EventKind.CANCEL,
            result=EventResult.ERROR,
            reference=payment.reference,
            payment=payment,
            payload={"error": str(exc)[:300]},
            now=now,
        )
        logger.warning("payment link %s not cancelled at %s: %s", payment.reference, payment.gateway, exc)
        return EventResult.ERROR
    payload = {"outcome": str(answer.outcome), "amount": answer.amount, "gateway_code": answer.gateway_code}
    if answer.outcome == Outcome.PAID and (not answer.amount or answer.amount == payment.amount):
        return _apply_answer(payment, answer, kind=EventKind.CANCEL, payload=payload, now=now)
    # Not paid (cancelled, or still open at the gateway): recorded as information. Paid with another amount than
    # the payment's: recorded and answered as a bad amount, so the caller and the desk's event log say the same.
    result = EventResult.BAD_AMOUNT if answer.outcome == Outcome.PAID else EventResult.INFO
    _event(
        gateway=payment.gateway,
        kind=EventKind.CANCEL,
        result=result,
        reference=payment.reference,
        payment=payment,
        verified=True,
        gateway_code=answer.gateway_code,
        amount=answer.amount,
        payload=payload,
        now=now,
    )
    if result == EventResult.BAD_AMOUNT:
        logger.warning(
            "payment link %s paid %s instead of %s before its cancel",
            payment.reference,
            answer.amount,
            payment.amount,
        )
    return result
