"""Reads for the appointment report's view per clinical department (issue 12 §4): for a range of local days and
the user's appointment-report scope, per department: accounts created and linked to the HIS (against the
plan's >= 80 %), bookings by channel (against 5-10 % by app), no-shows, the wait from check-in to call, and
the cost of reminders per channel (SMS, Zalo ZNS); each hospital/TTYT's total and the whole scope's total.

Departments. The facility tree models a hospital's clinical departments as facilities of kind "department"
(Khoa/phòng) with their clinic rooms under them, and a Service belongs to a facility (a clinic room, a
department or a hospital). A service's department is its facility's nearest ancestor-or-self of kind
department. A service with none (a clinic directly under a hospital/TTYT) is counted in a row of its
hospital named "Không thuộc khoa" so nothing is lost. A department's hospital is its nearest ancestor of
kind health centre or hospital (the facility holding the HIS link). The HIS's own department codes (K01...,
his.departments) are the HIS report's business; this view is about the facility tree the bookings live in.

What each figure counts (local days, Asia/Ho_Chi_Minh; [start, end) the range):

- patients of a department: distinct patients with a booking at one of its services made in the range or
  due in the range (slot, walk-ins included), whatever became of it;
- accounts: those patients who have a portal account (sign-up, claimed guest, F0 registration);
  new accounts: of them, accounts created in the range;
- linked: of the patients with an account, those whose account had a live HIS link at the department's
  hospital at the end of the range (linked before the end, not unlinked before it). Share = linked /
  accounts against the department's target: DEPARTMENT_LINK_TARGETS[code] when set, else
  his.selectors.LINK_TARGET (80 %);
- bookings by channel, visits, app share, no-shows: exactly the appointment report's figures (its
  `service_figures`) summed over the range and the department's services: bookings made in the range per
  channel (walk-ins apart), visits = patients received (walk-ins included), app share = visits booked
  through the app / visits (target 5-10 %), no-show rate = no-shows / (came + no-shows) of bookings due;
- wait to be called: minutes from check-in to the first call of tickets received in the range (queue_date),
  median and 90th percentile (nearest rank), computed by the database for each row (never a median of
  medians);
- reminder cost: reminders (kind appointment_reminder) about the department's bookings created in the range
  that the channel took (sent, delivered, or a ZNS message that fell back to SMS: Zalo bills it unless it
  refused it, and then its cost is 0); messages and cost_vnd per channel, the SMS that replaced a ZNS
  message counted under SMS. The same sums notifications.selectors.outbox_cost_by_channel gives for the set.

Totals. Counts add up. Distinct patients do not: a hospital's total counts each patient once however many of
its departments they used; the whole scope's total adds the hospitals' totals (a link is per hospital, so a
patient seen by two hospitals counts at each, as in the HIS report). The waiting percentiles are recomputed
over each total's own tickets.

Scope: exactly the appointment report's (selectors.report_root / visible_facilities: managers,
administrators and the booking desk for the facilities where they hold the role and everything under them).
About fifteen queries, whatever the number of departments, services, days or rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils.translation import gettext as _

from health_f0.appointments.models import Appointment, Service
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.his.models import HisLink
from health_f0.his.selectors import LINK_TARGET
from health_f0.notifications.models import Channel as MessageChannel
from health_f0.notifications.models import MessageKind, MessageStatus, OutboxMessage
from health_f0.reports.appointments import selectors
from health_f0.reports.appointments.selectors import APP_SHARE_TARGET, SUBJECT_PREFIX, AppointmentFigures
from health_f0.reports.common import rollup
from health_f0.reports.common.rollup import as_timedelta, bounds

HOSPITAL_KINDS: frozenset[str] = frozenset({FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL})
# Reminders a channel took (and bills): handed over, delivered, or a ZNS message replaced by an SMS.
BILLED_STATUSES: tuple[str, ...] = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.FELL_BACK)
MESSAGE_CHANNELS: tuple[str, ...] = tuple(c.value for c in MessageChannel)
WAIT_PERCENTILE = 90

DEPARTMENT = "department"
HOSPITAL = "hospital"
TOTAL = "total"


@dataclass(frozen=True)
class DepartmentFigures:
    """One row's figures over the range. Counts of distinct patients are set by the database per row."""

    patients: int = 0
    accounts: int = 0
    new_accounts: int = 0
    linked: int = 0
    booked_app: int = 0
    booked_web: int = 0
    booked_phone: int = 0
    booked_desk: int = 0
    walk_ins: int = 0
    visits: int = 0
    visits_app: int = 0
    came: int = 0
    no_show: int = 0
    waited: int = 0  # tickets called, with a wait
    wait_median_minutes: float | None = None
    wait_p90_minutes: float | None = None
    sms_messages: int = 0
    sms_cost_vnd: int = 0
    zns_messages: int = 0
    zns_cost_vnd: int = 0
    zns_fell_back: int = 0

    @property
    def booked(self) -> int:
        return self.booked_app + self.booked_web + self.booked_phone + self.booked_desk

    @property
    def link_share(self) -> float | None:
        return self.linked / self.accounts if self.accounts else None

    @property
    def app_share(self) -> float | None:
        return self.visits_app / self.visits if self.visits else None

    @property
    def app_share_met(self) -> bool | None:
        share = self.app_share
        return None if share is None else share >= APP_SHARE_TARGET[0]

    @property
    def no_show_rate(self) -> float | None:
        known = self.came + self.no_show
        return self.no_show / known if known else None

    @property
    def reminder_messages(self) -> int:
        return self.sms_messages + self.zns_messages

    @property
    def reminder_cost_vnd(self) -> int:
        return self.sms_cost_vnd + self.zns_cost_vnd

    def __add__(self, other: DepartmentFigures) -> DepartmentFigures:
        """Counts summed field by field; the waiting percentiles are not additive (left None)."""
        skip = {"wait_median_minutes", "wait_p90_minutes"}
        return DepartmentFigures(
            **{
                f.name: getattr(self, f.name) + getattr(other, f.name)
                for f in fields(self)
                if f.name not in skip
            }
        )


@dataclass(frozen=True)
class DepartmentRow:
    """A row of the view: a department, a hospital/TTYT total, or the whole scope's total."""

    level: str  # DEPARTMENT, HOSPITAL or TOTAL
    id: int  # the facility (0 for the whole scope)
    code: str
    name: str
    hospital: str  # the hospital/TTYT's name ("" on the scope's total)
    figures: DepartmentFigures
    link_target: float
    no_department: bool = False  # the hospital's services outside any department

    @property
    def link_target_percent(self) -> int:
        return round(self.link_target * 100)

    @property
    def link_target_met(self) -> bool | None:
        share = self.figures.link_share
        return None if share is None else share >= self.link_target


@dataclass
class DepartmentReport:
    date_from: date
    date_to: date
    root: Facility | None
    days: list[date]
    # Departments hospital by hospital, each hospital followed by its total; then the scope's total.
    rows: list[DepartmentRow] = field(default_factory=list)
    total: DepartmentRow | None = None

    @property
    def table_rows(self) -> list[DepartmentRow]:
        """The rows as shown and exported: the scope's total only when it is not one hospital's total
        already (a TTYT manager's scope is one TTYT: its row is the total)."""
        hospitals = len(self.hospitals)
        return [*self.rows, *([self.total] if self.total is not None and hospitals != 1 else [])]

    @property
    def departments(self) -> list[DepartmentRow]:
        return [row for row in self.rows if row.level == DEPARTMENT]

    @property
    def hospitals(self) -> list[DepartmentRow]:
        return [row for row in self.rows if row.level == HOSPITAL]


def link_target(code: str) -> float:
    """A department's HIS-linking target: DEPARTMENT_LINK_TARGETS[code] when set, else the plan's 80 %."""
    targets: Mapping[str, float] = getattr(settings, "DEPARTMENT_LINK_TARGETS", {}) or {}
    return float(targets.get(code, LINK_TARGET))


# --- Departments ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a service's figures go: its department row (or its hospital's "no department" row)."""

    unit: int  # the department's facility, or the hospital's for services outside any department
    hospital: int
    no_department: bool


def _ancestors(facility: Facility) -> list[int]:
    """The facility's ancestors and itself, nearest first (from its materialised path)."""
    ids = [int(part) for part in facility.path.strip("/").split("/") if part]
    if not ids or ids[-1] != facility.pk:
        ids.append(facility.pk)
    return list(reversed(ids))


def _tree_key(facility: Facility) -> list[int]:
    """Tree order: parents before children, siblings in the order they were made (by id, numerically)."""
    return [int(part) for part in facility.path.strip("/").split("/") if part]


def _places(services: list[Service], kinds: Mapping[int, Facility]) -> dict[int, _Place]:
    """Each service's department and hospital (kinds: every facility on the services' paths)."""
    places: dict[int, _Place] = {}
    for service in services:
        chain = [kinds[pk] for pk in _ancestors(service.facility) if pk in kinds]
        department = next((f for f in chain if f.kind == FacilityKind.DEPARTMENT), None)
        hospital = next((f for f in chain if f.kind in HOSPITAL_KINDS), None) or chain[-1]
        unit = department or hospital
        places[service.pk] = _Place(unit=unit.pk, hospital=hospital.pk, no_department=department is None)
    return places


# --- Report -----------------------------------------------------------------------------------------


def department_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> DepartmentReport:
    """The per-department view over [date_from, date_to] for the user's appointment-report scope narrowed to
    `facility_id`. Raises like selectors.appointment_report (PermissionDenied, LookupError). A constant
    number of queries."""
    days = rollup.days_between(date_from, date_to)
    root = selectors.report_root(user, facility_id)
    in_scope = rollup.in_root(selectors.visible_facilities(user), root)
    report = DepartmentReport(date_from=date_from, date_to=date_to, root=root, days=days)
    services = list(
        Service.objects.filter(facility_id__in=list(in_scope))
        .select_related("facility")
        .only("id", "facility__id", "facility__path")
    )
    if not services:
        report.total = _total_row(DepartmentFigures(), None)
        return report
    path_ids = {pk for s in services for pk in _ancestors(s.facility)}
    kinds = {
        f.pk: f
        for f in Facility.objects.filter(pk__in=sorted(path_ids)).only(
            "id", "code", "name", "short_name", "kind", "path"
        )
    }
    places = _places(services, kinds)
    unit_of = {sid: place.unit for sid, place in places.items()}
    hospital_of = {sid: place.hospital for sid, place in places.items()}
    facility_unit = {s.facility_id: places[s.pk].unit for s in services}

    start, end = bounds(date_from, date_to)
    counts: dict[int, DepartmentFigures] = defaultdict(DepartmentFigures)
    by_hospital: dict[int, DepartmentFigures] = defaultdict(DepartmentFigures)
    # Bookings, visits and no-shows: the appointment report's own counts, summed over the days.
    for (sid, _day), figures in selectors.service_figures(
        {s.pk: s.facility_id for s in services}, date_from, date_to
    ).items():
        part = _from_appointment_figures(figures)
        counts[unit_of[sid]] += part
        by_hospital[hospital_of[sid]] += part
    for key, part in _reminder_costs(facility_unit, start, end).items():
        counts[key] += part
    for key, part in _reminder_costs(
        {s.facility_id: places[s.pk].hospital for s in services}, start, end
    ).items():
        by_hospital[key] += part

    # Distinct patients, accounts and links: counted by the database per department and per hospital.
    accounts_by_unit = _accounts(unit_of, hospital_of, start, end)
    accounts_by_hospital = _accounts(hospital_of, hospital_of, start, end)
    waits_by_unit = _wait_percentiles(unit_of, date_from, date_to)
    waits_by_hospital = _wait_percentiles(hospital_of, date_from, date_to)
    waits_all = _wait_percentiles(dict.fromkeys(unit_of, 0), date_from, date_to)

    def finish(
        key: int, figures: DepartmentFigures, accounts: Mapping[int, Any], waits: Mapping[int, Any]
    ) -> Any:
        return replace(figures, **accounts.get(key, {}), **waits.get(key, {}))

    units_by_hospital: dict[int, list[int]] = defaultdict(list)
    for place in sorted(
        set(places.values()),
        key=lambda p: (_tree_key(kinds[p.hospital]), p.no_department, _tree_key(kinds[p.unit])),
    ):
        if place.unit not in units_by_hospital[place.hospital]:
            units_by_hospital[place.hospital].append(place.unit)
    no_department = {place.unit for place in places.values() if place.no_department}
    total = DepartmentFigures()
    for hospital_pk in sorted(units_by_hospital, key=lambda pk: _tree_key(kinds[pk])):
        hospital = kinds[hospital_pk]
        hospital_name = hospital.name
        for unit_pk in units_by_hospital[hospital_pk]:
            unit = kinds[unit_pk]
            is_outside = unit_pk in no_department
            report.rows.append(
                DepartmentRow(
                    level=DEPARTMENT,
                    id=unit.pk,
                    code=unit.code,
                    name=str(_no_department_name()) if is_outside else unit.name,
                    hospital=hospital_name,
                    figures=finish(
                        unit_pk, counts.get(unit_pk, DepartmentFigures()), accounts_by_unit, waits_by_unit
                    ),
                    link_target=LINK_TARGET if is_outside else link_target(unit.code),
                    no_department=is_outside,
                )
            )
        figures = finish(
            hospital_pk,
            by_hospital.get(hospital_pk, DepartmentFigures()),
            accounts_by_hospital,
            waits_by_hospital,
        )
        total += figures
        if hospital_pk not in in_scope:
            continue  # the report is narrowed to a part of the hospital: the scope's total says it all
        report.rows.append(
            DepartmentRow(
                level=HOSPITAL,
                id=hospital.pk,
                code=hospital.code,
                name=hospital.name,
                hospital=hospital_name,
                figures=figures,
                link_target=LINK_TARGET,
            )
        )
    report.total = _total_row(replace(total, **waits_all.get(0, {})), root)
    return report


def _no_department_name() -> str:
    return _("Không thuộc khoa (khám tại bệnh viện/TTYT)")


def _total_row(figures: DepartmentFigures, root: Facility | None) -> DepartmentRow:
    return DepartmentRow(
        level=TOTAL,
        id=root.pk if root else 0,
        code=root.code if root else "",
        name=_("Tổng: %(scope)s") % {"scope": root.name} if root else _("Tổng: tất cả cơ sở bạn được xem"),
        hospital="",
        figures=figures,
        link_target=LINK_TARGET,
    )


def _from_appointment_figures(f: AppointmentFigures) -> DepartmentFigures:
    return DepartmentFigures(
        booked_app=f.booked_app,
        booked_web=f.booked_web,
        booked_phone=f.booked_phone,
        booked_desk=f.booked_desk,
        walk_ins=f.walk_ins,
        visits=f.visits,
        visits_app=f.visits_app,
        came=f.came,
        no_show=f.no_show,
    )


def _group(member_field: str, group_of: Mapping[int, int]) -> Case:
    """SQL mapping a member column (a service, a facility) to its group's id."""
    members: dict[int, list[int]] = defaultdict(list)
    for member, group in group_of.items():
        members[group].append(member)
    return Case(
        *(When(**{f"{member_field}__in": sorted(ids)}, then=Value(gid)) for gid, ids in members.items()),
        output_field=IntegerField(),
    )


def _accounts(
    group_of: Mapping[int, int], hospital_of: Mapping[int, int], start: Any, end: Any
) -> dict[int, dict[str, int]]:
    """Distinct patients, accounts, new accounts and linked accounts per group of services (one query): the
    patients with a booking at the group's services made or due in [start, end); linked = a live HIS link at
    the booking's hospital at `end`."""
    live_link = Exists(
        HisLink.objects.filter(
            patient_id=OuterRef("patient_id"), facility_id=OuterRef("hospital"), linked_at__lt=end
        ).filter(Q(unlinked_at__isnull=True) | Q(unlinked_at__gte=end))
    )
    has_account = Q(patient__account__isnull=False)
    rows = (
        Appointment.objects.filter(service_id__in=sorted(group_of))
        .filter(Q(created_at__gte=start, created_at__lt=end) | Q(slot_start__gte=start, slot_start__lt=end))
        .annotate(grp=_group("service_id", group_of), hospital=_group("service_id", hospital_of))
        .values("grp")
        .annotate(
            patients=Count("patient_id", distinct=True),
            accounts=Count("patient_id", distinct=True, filter=has_account),
            new_accounts=Count(
                "patient_id",
                distinct=True,
                filter=has_account
                & Q(patient__account__date_joined__gte=start, patient__account__date_joined__lt=end),
            ),
            linked=Count("patient_id", distinct=True, filter=has_account & Q(live_link)),
        )
        .values_list("grp", "patients", "accounts", "new_accounts", "linked")
        .order_by()
    )
    return {
        grp: {"patients": patients, "accounts": accounts, "new_accounts": new, "linked": linked}
        for grp, patients, accounts, new, linked in rows
    }


def _reminder_costs(
    group_of_facility: Mapping[int, int], start: Any, end: Any
) -> dict[int, DepartmentFigures]:
    """Reminders about bookings (subject "appointment:<pk>") queued in [start, end) that their channel took,
    and what they cost, per group of the services' facilities and channel (one query). A reminder carries
    its booking's facility, which is its service's."""
    if not group_of_facility:
        return {}
    out: dict[int, DepartmentFigures] = defaultdict(DepartmentFigures)
    for grp, channel, n, cost, fell_back in (
        OutboxMessage.objects.filter(
            facility_id__in=sorted(group_of_facility),
            kind=MessageKind.APPOINTMENT_REMINDER,
            status__in=BILLED_STATUSES,
            created_at__gte=start,
            created_at__lt=end,
            subject_ref__startswith=SUBJECT_PREFIX,
        )
        .annotate(grp=_group("facility_id", group_of_facility))
        .values("grp", "channel")
        .annotate(
            n=Count("id"),
            cost=Sum("cost_vnd"),
            fell_back=Count("id", filter=Q(status=MessageStatus.FELL_BACK)),
        )
        .values_list("grp", "channel", "n", "cost", "fell_back")
        .order_by()
    ):
        if channel == MessageChannel.ZNS:
            part = DepartmentFigures(zns_messages=n, zns_cost_vnd=int(cost or 0), zns_fell_back=fell_back)
        else:
            part = DepartmentFigures(sms_messages=n, sms_cost_vnd=int(cost or 0))
        out[grp] += part
    return out


def _wait_percentiles(
    group_of: Mapping[int, int], date_from: date, date_to: date
) -> dict[int, dict[str, Any]]:
    """Minutes from check-in to call of the tickets received in the range, per group of services: how many,
    the median (the middle one or mean of the middle two) and the 90th percentile (nearest rank: the
    ceil(0.9 n)-th smallest). One query: the database numbers each group's tickets by their wait and returns
    only the rows at those ranks, so the rows read do not grow with the tickets."""
    if not group_of:
        return {}
    p = WAIT_PERCENTILE
    waited = ExpressionWrapper(F("called_at") - F("checked_in_at"), output_field=DurationField())
    partition = [F("grp")]
    rows = (
        _called_tickets(group_of, date_from, date_to)
        .annotate(grp=_group("service_id", group_of), waited=waited)
        .annotate(
            rank=Window(RowNumber(), partition_by=partition, order_by=[F("waited").asc(), F("id").asc()]),
            size=Window(Count("id"), partition_by=partition),
        )
        .annotate(twice=F("rank") * 2, hundredfold=F("rank") * 100)
        # Median: size <= 2*rank <= size + 2. P90 (nearest rank): p*size <= 100*rank < p*size + 100.
        .filter(
            Q(twice__gte=F("size"), twice__lte=F("size") + 2)
            | Q(hundredfold__gte=F("size") * p, hundredfold__lt=F("size") * p + 100)
        )
        .values_list("grp", "rank", "size", "waited")
    )
    middles: dict[int, list[float]] = defaultdict(list)
    tops: dict[int, float] = {}
    sizes: dict[int, int] = {}
    for grp, rank, size, waited_for in rows:
        minutes = as_timedelta(waited_for).total_seconds() / 60
        sizes[grp] = size
        if size <= 2 * rank <= size + 2:
            middles[grp].append(minutes)
        if p * size <= 100 * rank < p * size + 100:
            tops[grp] = minutes
    return {
        grp: {
            "waited": size,
            "wait_median_minutes": round(sum(middles[grp]) / len(middles[grp]), 1) if middles[grp] else None,
            "wait_p90_minutes": round(tops[grp], 1) if grp in tops else None,
        }
        for grp, size in sizes.items()
    }


def _called_tickets(group_of: Mapping[int, int], date_from: date, date_to: date) -> QuerySet[Appointment]:
    """Tickets received in the range (queue_date) and called after their check-in."""
    return Appointment.objects.filter(
        service_id__in=sorted(group_of),
        queue_date__range=(date_from, date_to),
        checked_in_at__isnull=False,
        called_at__isnull=False,
        called_at__gte=F("checked_in_at"),
    )
