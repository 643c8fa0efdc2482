"""Reads of payments: which gateways a facility offers, what a booking or a visit costs, whether it is paid."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import QuerySet

from health_f0.core.safe_cache import cache_delete, cached
from health_f0.payments import gateways
from health_f0.payments.crypto import decrypt
from health_f0.payments.gateways.base import GatewayConfig
from health_f0.payments.models import (
    MONEY_IN_STATUSES,
    OPEN_STATUSES,
    GatewayAccount,
    Payment,
    PaymentStatus,
    Prepayment,
    Purpose,
    ServicePaymentPolicy,
)


def _ancestor_ids(facility: Any) -> list[int]:
    """The facility and those above it, nearest first (Facility.path is "/1/4/9/")."""
    ids = [int(part) for part in (facility.path or "").strip("/").split("/") if part.isdigit()]
    if facility.pk not in ids:
        ids.append(facility.pk)
    return list(reversed(ids))


def gateway_account(facility: Any, gateway: str) -> GatewayAccount | None:
    """The active account for `gateway` of the nearest facility up the tree that has one."""
    ancestors = _ancestor_ids(facility)
    accounts = {
        a.facility_id: a
        for a in GatewayAccount.objects.filter(facility_id__in=ancestors, gateway=gateway, is_active=True)
    }
    return next((accounts[i] for i in ancestors if i in accounts), None)


# The active accounts as (facility id, gateway) pairs: a province has a few dozen, read on every booking and
# payment page, so they are cached whole (dropped when an account is saved or deleted: payments.apps).
ACTIVE_ACCOUNTS_KEY = "payments:active-gateway-accounts"
ACTIVE_ACCOUNTS_CACHE_SECONDS = 600


def _active_accounts() -> frozenset[tuple[int, str]]:
    def compute() -> frozenset[tuple[int, str]]:
        rows = GatewayAccount.objects.filter(is_active=True).values_list("facility_id", "gateway")
        return frozenset((int(facility_id), str(gateway)) for facility_id, gateway in rows)

    return cached(ACTIVE_ACCOUNTS_KEY, compute, timeout=ACTIVE_ACCOUNTS_CACHE_SECONDS)


def forget_active_accounts() -> None:
    cache_delete(ACTIVE_ACCOUNTS_KEY)


def gateways_offered(facility: Any) -> list[str]:
    """The gateways a patient may pay this facility with: an active account up the tree and the module."""
    ancestors = set(_ancestor_ids(facility))
    names = {gateway for facility_id, gateway in _active_accounts() if facility_id in ancestors}
    return [name for name in gateways.available() if name in names]


def gateway_origins(facility: Any) -> list[str]:
    """The origins (scheme://host[:port]) of the payment pages this facility's gateways send patients to: the
    portal's Content-Security-Policy lets the "Thanh toán" form redirect there (form-action), and nowhere else."""
    origins = []
    for name in gateways_offered(facility):
        account = gateway_account(facility, name)
        split = urlsplit(account.api_url if account else "")
        if split.scheme in ("https", "http") and split.netloc:
            origins.append(f"{split.scheme}://{split.netloc}")
    return sorted(set(origins))


def gateway_config(account: GatewayAccount) -> GatewayConfig:
    """The account as the gateway module reads it (secrets decrypted in memory only)."""
    return GatewayConfig(
        gateway=account.gateway,
        merchant_code=account.merchant_code,
        secret=decrypt(account.secret_encrypted),
        access_key=decrypt(account.access_key_encrypted),
        api_url=account.api_url,
        api_url_2=account.api_url_2,
        bank_bin=account.bank_bin,
        account_number=account.account_number,
        account_name=account.account_name,
        # One answer timeout for every gateway (settings.PAYMENT_GATEWAY_TIMEOUT; MoMo and payOS read it here).
        extra={"timeout": str(settings.PAYMENT_GATEWAY_TIMEOUT)},
    )


def policy_for(service: Any) -> ServicePaymentPolicy | None:
    try:
        return service.payment_policy  # type: ignore[no-any-return]
    except ServicePaymentPolicy.DoesNotExist:
        return None


def booking_fee(appointment: Any) -> tuple[int, str]:
    """(price, prepayment) of the booking's service: (0, "none") when it sets none."""
    policy = policy_for(appointment.service)
    if policy is None or policy.price <= 0:
        return 0, Prepayment.NONE
    return int(policy.price), str(policy.prepayment)


def pay_deadline(appointment: Any) -> datetime | None:
    """Until when a booking that must be paid ahead may be paid (None: no such obligation)."""
    policy = policy_for(appointment.service)
    if policy is None or policy.price <= 0 or policy.prepayment != Prepayment.REQUIRED:
        return None
    deadline: datetime = appointment.created_at + timedelta(minutes=policy.pay_deadline_minutes)
    return min(deadline, appointment.slot_start)


def paid_payment(*, appointment: Any = None, visit: Any = None) -> Payment | None:
    """The payment that paid this booking's fee or this visit's bill (also when since refunded), or None."""
    rows = Payment.objects.filter(status__in=(*MONEY_IN_STATUSES, PaymentStatus.REFUNDED))
    rows = rows.filter(appointment=appointment) if appointment is not None else rows.filter(visit=visit)
    return rows.order_by("-paid_at", "-id").first()


def visit_bills(visits: list[Any]) -> dict[int, tuple[Payment | None, bool]]:
    """For a page of visits: each billed visit's paying payment (`paid_payment`) and whether its facility offers a
    gateway (`gateways_offered`), in one query for the payments and, per facility, not per visit, the cached
    accounts. A visit gives `pk`, `bill_patient`, `facility_id` and a `facility` with `pk` and `path` (a HisVisit,
    or the visits pages' www.his_rows.PortalVisit read by constant SQL: no Facility instance needed)."""
    billed = [v for v in visits if v.bill_patient]
    if not billed:
        return {}
    paid: dict[int, Payment] = {}
    rows = Payment.objects.filter(
        visit_id__in=[v.pk for v in billed], status__in=(*MONEY_IN_STATUSES, PaymentStatus.REFUNDED)
    ).order_by("visit_id", "-paid_at", "-id")
    for payment in rows:
        paid.setdefault(payment.visit_id, payment)  # type: ignore[arg-type]
    offered: dict[int, bool] = {}
    for visit in billed:
        if visit.facility_id not in offered:
            offered[visit.facility_id] = bool(gateways_offered(visit.facility))
    return {v.pk: (paid.get(v.pk), offered[v.facility_id]) for v in billed}


def open_payment(*, appointment: Any = None, visit: Any = None) -> Payment | None:
    rows = Payment.objects.filter(status__in=OPEN_STATUSES)
    rows = rows.filter(appointment=appointment) if appointment is not None else rows.filter(visit=visit)
    return rows.order_by("-created_at", "-id").first()


def visit_amount_due(visit: Any) -> int:
    """What the patient still owes for a visit: its bill's patient share unless already paid."""
    share = int(visit.bill_patient or 0)
    if share <= 0 or paid_payment(visit=visit) is not None:
        return 0
    return share


def booking_payment_state(appointment: Any) -> dict[str, Any]:
    """What the portal and the API show of a booking's fee: price, prepayment, paid, deadline, payment."""
    price, prepayment = booking_fee(appointment)
    paid = paid_payment(appointment=appointment) if price else None
    return {
        "price": price,
        "prepayment": prepayment,
        "paid": paid is not None and paid.status in MONEY_IN_STATUSES,
        "refunded": paid is not None and paid.status == PaymentStatus.REFUNDED,
        "payment": paid,
        "deadline": pay_deadline(appointment),
        "payable": bool(price) and paid is None and prepayment != Prepayment.NONE and appointment.is_live,
    }


def patient_payments(queryset: QuerySet[Payment]) -> QuerySet[Payment]:
    """A scoped queryset (facilities.access.payments_for) with what the lists show."""
    return queryset.select_related("facility", "appointment__service", "visit").order_by("-created_at", "-id")


def purpose_target(payment: Payment) -> Any:
    return payment.appointment if payment.purpose == Purpose.BOOKING_FEE else payment.visit


# NAPAS bank identification numbers of the banks most facilities bank with (the QR names the bank by BIN only).
BANK_NAMES: dict[str, str] = {
    "970436": "Vietcombank",
    "970415": "VietinBank",
    "970418": "BIDV",
    "970405": "Agribank",
    "970422": "MB Bank",
    "970407": "Techcombank",
    "970416": "ACB",
    "970432": "VPBank",
    "970423": "TPBank",
    "970403": "Sacombank",
}


def transfer_details(payment: Payment) -> dict[str, Any] | None:
    """What a VietQR payment's page shows beside its QR, read from the QR itself (what the bank app will
    use): the bank, the account, its holder (the facility's gateway account), the amount and the transfer
    text. None when the payment has no QR or its QR does not read as VietQR."""
    if not payment.qr_payload:
        return None
    from health_f0.payments.gateways.vietqr import parse_emvco

    try:
        qr = parse_emvco(payment.qr_payload)
    except ValueError:
        return None
    account = gateway_account(payment.facility, payment.gateway)
    return {
        "bank": BANK_NAMES.get(qr["bank_bin"], qr["bank_bin"]),
        "account_number": qr["account_number"],
        "account_name": account.account_name if account is not None else "",
        "amount": qr["amount"] or int(payment.amount),
        "purpose": qr["purpose"],
    }


# --- Whether a booking is paid (the appointment workflow's "not_paid" guard, the desk's column) ------------

# A service's required prepayment is read on every `APPOINTMENT_WORKFLOW.available()` of its bookings, so it is
# cached (dropped when the policy is saved or deleted: payments.apps connects `forget_required_prepayment`).
PREPAYMENT_CACHE_SECONDS = 600


def _prepayment_key(service_id: int) -> str:
    return f"payments:required-prepayment:{service_id}"


# In front of the shared cache, a per-process memo for a few seconds: the booking desk's page asks the rule for
# each of its 100 rows, and a Redis round trip each was a third of that page's CPU. A policy change clears this
# process's memo at once (forget_required_prepayment) and the other processes' within LOCAL_SECONDS.
LOCAL_SECONDS = 10.0
_local: dict[int, tuple[float, int]] = {}


def reset_local_cache() -> None:
    _local.clear()


def required_prepayment(service_id: int | None) -> int:
    """The price a booking of this service must pay before it is confirmed or received (0: none required)."""
    if not service_id:
        return 0
    now = time.monotonic()
    hit = _local.get(service_id)
    if hit is not None and now - hit[0] < LOCAL_SECONDS:
        return hit[1]
    price = _shared_required_prepayment(service_id)
    _local[service_id] = (now, price)
    return price


def _shared_required_prepayment(service_id: int) -> int:

    def compute() -> int:
        price = (
            ServicePaymentPolicy.objects.filter(
                service_id=service_id, prepayment=Prepayment.REQUIRED, price__gt=0
            )
            .values_list("price", flat=True)
            .first()
        )
        return int(price or 0)

    return int(cached(_prepayment_key(service_id), compute, timeout=PREPAYMENT_CACHE_SECONDS))


def forget_required_prepayment(service_id: int) -> None:
    _local.pop(service_id, None)
    cache_delete(_prepayment_key(service_id))


def booking_unpaid(appointment: Any) -> bool:
    """True when the booking's service requires prepayment and no payment brought its fee in (paid, or
    being refunded). No query when the service requires none (cached policy); at most one otherwise, kept
    on the instance so the workflow's guards for confirm and check-in share it."""
    if not required_prepayment(appointment.service_id):
        return False
    memo = getattr(appointment, "_payments_unpaid", None)
    if memo is None:
        memo = not Payment.objects.filter(
            appointment_id=appointment.pk, status__in=MONEY_IN_STATUSES
        ).exists()
        appointment._payments_unpaid = memo
    return bool(memo)


def paid_flags(appointments: list[Any]) -> dict[int, bool | None]:
    """For a page of bookings: {appointment id: True (fee paid), False (priced, not paid), None (no price)}.
    Two queries whatever the page's size."""
    service_ids = {a.service_id for a in appointments if a.service_id}
    prices = dict(
        ServicePaymentPolicy.objects.filter(service_id__in=service_ids, price__gt=0)
        .exclude(prepayment=Prepayment.NONE)
        .values_list("service_id", "price")
    )
    priced = [a.pk for a in appointments if a.service_id in prices]
    paid = (
        set(
            Payment.objects.filter(appointment_id__in=priced, status__in=MONEY_IN_STATUSES).values_list(
                "appointment_id", flat=True
            )
        )
        if priced
        else set()
    )
    return {a.pk: (a.pk in paid) if a.service_id in prices else None for a in appointments}
