"""Reads of the payments report: per local day (the day the money came in, paid_at, Asia/Ho_Chi_Minh), per
facility, gateway and service (a booking's examination fee: the booked service; a visit's bill: "Viện phí"),
the payments paid (count, amount) and, of them, those refunded since (count, amount). A payment counts on
the day it was paid whatever became of it later (refund_pending, refund_failed and refunded are money that
came in). One grouped query whatever the range.

Scope: facilities.access with PAYMENT_REPORT_ROLES — accountants, managers and administrators, for the
facilities where they hold the role and everything under them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Q, Sum
from django.utils.translation import gettext as _

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.payments.models import MONEY_IN_STATUSES, GatewayName, Payment, PaymentStatus, Purpose
from health_f0.reports.common import rollup

PAYMENT_REPORT_ROLES: frozenset[str] = access.PAYMENT_REPORT_ROLES
SETTLED: tuple[str, ...] = (*MONEY_IN_STATUSES, PaymentStatus.REFUNDED)
FILTER_KINDS: frozenset[str] = frozenset(
    {
        FacilityKind.DEPARTMENT_OF_HEALTH,
        FacilityKind.HEALTH_CENTRE,
        FacilityKind.HOSPITAL,
        FacilityKind.DEPARTMENT,
        FacilityKind.CLINIC_ROOM,
    }
)


@dataclass
class Figures:
    paid: int = 0
    amount: int = 0
    refunded: int = 0
    refunded_amount: int = 0

    def add(self, other: Figures) -> None:
        self.paid += other.paid
        self.amount += other.amount
        self.refunded += other.refunded
        self.refunded_amount += other.refunded_amount

    @property
    def net(self) -> int:
        return self.amount - self.refunded_amount


@dataclass(frozen=True)
class PaymentRow:
    day: date
    facility_code: str
    facility_name: str
    gateway: str
    gateway_label: str
    service_code: str
    service_name: str
    figures: Figures


@dataclass
class PaymentReport:
    date_from: date
    date_to: date
    root: Facility | None
    days: list[date]
    rows: list[PaymentRow] = field(default_factory=list)
    total: Figures = field(default_factory=Figures)
    by_gateway: list[tuple[str, Figures]] = field(default_factory=list)
    by_service: list[tuple[str, str, Figures]] = field(default_factory=list)
    by_day: list[tuple[date, Figures]] = field(default_factory=list)


def can_view_payment_report(user: Any) -> bool:
    return bool(access.visible_facility_ids(user, PAYMENT_REPORT_ROLES))


def visible_facilities(user: Any) -> list[Facility]:
    return rollup.scope_facilities(user, PAYMENT_REPORT_ROLES, "_hf0_payment_report_facilities")


def report_facilities(user: Any) -> list[Facility]:
    return [f for f in visible_facilities(user) if f.kind in FILTER_KINDS]


def report_root(user: Any, facility_id: int | None) -> Facility | None:
    """As the other reports: PermissionDenied without the role, LookupError for a facility out of scope."""
    if not can_view_payment_report(user):
        raise PermissionDenied(_("Bạn không có quyền xem báo cáo thanh toán."))
    return rollup.pick_root(report_facilities(user), facility_id)


def payment_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> PaymentReport:
    root = report_root(user, facility_id)
    in_scope = rollup.in_root(visible_facilities(user), root)
    start, end = rollup.bounds(date_from, date_to)
    report = PaymentReport(
        date_from=date_from, date_to=date_to, root=root, days=rollup.days_between(date_from, date_to)
    )
    if not in_scope:
        return report
    grouped = (
        Payment.objects.filter(
            facility_id__in=list(in_scope), status__in=SETTLED, paid_at__gte=start, paid_at__lt=end
        )
        .annotate(day=rollup.local_day("paid_at", start))
        .values(
            "day",
            "facility_id",
            "gateway",
            "purpose",
            "appointment__service__code",
            "appointment__service__name",
        )
        .annotate(
            n=Count("id"),
            total=Sum("amount"),
            refunded_n=Count("id", filter=Q(status=PaymentStatus.REFUNDED)),
            refunded_total=Sum("amount", filter=Q(status=PaymentStatus.REFUNDED)),
        )
        .order_by()
    )
    gateways = dict(GatewayName.choices)
    per_gateway: dict[str, Figures] = defaultdict(Figures)
    per_service: dict[tuple[str, str], Figures] = defaultdict(Figures)
    per_day: dict[date, Figures] = defaultdict(Figures)
    for row in grouped:
        facility = in_scope[row["facility_id"]]
        figures = Figures(
            paid=row["n"],
            amount=int(row["total"] or 0),
            refunded=row["refunded_n"],
            refunded_amount=int(row["refunded_total"] or 0),
        )
        if row["purpose"] == Purpose.VISIT_BILL:
            code, name = "vien-phi", str(Purpose(Purpose.VISIT_BILL).label)
        else:
            code = row["appointment__service__code"] or ""
            name = row["appointment__service__name"] or str(Purpose(Purpose.BOOKING_FEE).label)
        day = rollup.as_date(row["day"])
        report.rows.append(
            PaymentRow(
                day=day,
                facility_code=facility.code,
                facility_name=facility.name,
                gateway=row["gateway"],
                gateway_label=str(gateways.get(row["gateway"], row["gateway"])),
                service_code=code,
                service_name=name,
                figures=figures,
            )
        )
        report.total.add(figures)
        per_gateway[row["gateway"]].add(figures)
        per_service[(code, name)].add(figures)
        per_day[day].add(figures)
    report.rows.sort(key=lambda r: (r.day, r.facility_code, r.gateway, r.service_name))
    report.by_gateway = [
        (str(label), per_gateway[value]) for value, label in GatewayName.choices if value in per_gateway
    ]
    report.by_service = sorted(((c, n, f) for (c, n), f in per_service.items()), key=lambda t: t[1])
    report.by_day = [(day, per_day.get(day, Figures())) for day in report.days]
    return report
