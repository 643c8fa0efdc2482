"""Reads of the accountant's pages: a day's payments of one gateway account, the refund worklist, the open
reconciliations. Scoped through facilities.access."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.payments.models import MONEY_IN_STATUSES, GatewayAccount, GatewayName, Payment, PaymentStatus

# Money that reached the facility that day, whatever happened to it later.
SETTLED_STATUSES: tuple[str, ...] = (*MONEY_IN_STATUSES, PaymentStatus.REFUNDED)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(day, time.min), tz)
    return start, start + timedelta(days=1)


def account_facility_q(facility: Facility, gateway: str) -> Q:
    """The payments a facility's account at `gateway` collects: those of the facility and its subtree, except
    the facilities below it that hold an account of their own at that gateway (and their subtrees)."""
    condition = Q(facility__path__startswith=facility.path)
    own = (
        GatewayAccount.objects.filter(gateway=gateway, facility__path__startswith=facility.path)
        .exclude(facility=facility)
        .values_list("facility__path", flat=True)
    )
    for path in own:
        condition &= ~Q(facility__path__startswith=path)
    return condition


def day_payments(*, facility: Facility, gateway: str, day: date) -> QuerySet[Payment]:
    """Our payments paid on `day` (local) through `facility`'s account at `gateway`."""
    start, end = day_bounds(day)
    return Payment.objects.filter(
        account_facility_q(facility, gateway),
        gateway=gateway,
        status__in=SETTLED_STATUSES,
        paid_at__gte=start,
        paid_at__lt=end,
    )


def account_payments(*, facility: Facility, gateway: str) -> QuerySet[Payment]:
    """Every payment of `facility`'s account at `gateway` (to find a line of the gateway's file by reference)."""
    return Payment.objects.filter(account_facility_q(facility, gateway), gateway=gateway)


def manual_refund_worklist(user: Any) -> QuerySet[Payment]:
    """The accountant's refunds to make by hand: payments whose refund through the gateway failed, and
    VietQR payments waiting for a refund (a bank transfer has no refund call)."""
    return (
        access.payments_for_staff(user)
        .filter(
            Q(status=PaymentStatus.REFUND_FAILED)
            | Q(status=PaymentStatus.REFUND_PENDING, gateway=GatewayName.VIETQR)
        )
        .select_related("facility", "patient")
        .prefetch_related("refunds")
        .order_by("updated_at", "id")
    )


def reconcilable_facilities(user: Any) -> QuerySet[Facility]:
    """Facilities where the user reconciles (ACCOUNTANT_ROLES) that hold a gateway account."""
    ids = access.visible_facility_ids(user, access.ACCOUNTANT_ROLES)
    return Facility.objects.filter(id__in=ids, gateway_accounts__isnull=False).distinct().order_by("path")
