"""Reads for managers' appointment reports: figures per clinic service per day, rolled up to the TTYT and the
province (Sở Y tế) by the shared roll-up (reports.common.rollup), over a range of local days.

What each figure counts, and on which day (local time, Asia/Ho_Chi_Minh):

- bookings by channel (app / web / phone / desk): bookings MADE that day (created_at), walk-ins excluded,
  whatever became of them later;
- visits: patients received that day (queue_date: checked in or completed), walk-ins included; of them
  `visits_app` booked through the mobile app. App share = visits_app / visits: the plan's target is 5-10%
  of visits (APP_SHARE_TARGET);
- confirmation: online (app/web) bookings made that day that the desk confirmed (confirmed_by set; a service
  without confirmation confirms itself and is not counted), and the median minutes from the request to the
  desk's confirmation; `declined`: online bookings made that day the desk declined;
- no-show rate: of the bookings due that day (slot day) whose outcome is known (came: checked in/completed;
  did not: no_show), the share that did not come. Bookings still requested/confirmed (the day not swept
  yet) and cancelled ones are not in the denominator;
- re-exam adherence: of the re-exams due that day with a known outcome, the share where the patient came
  within the window: checked in on the booked day, or received at the same service within
  REEXAM_WINDOW_DAYS days after the booked time (a missed re-exam made good by a later visit or walk-in);
- SMS: appointment messages (kind "appointment": booked, confirmed, moved, cancelled, ...) and reminders
  (kind "appointment_reminder") queued that day for the service's bookings; "sent" = handed to the gateway
  (status sent or delivered), "delivered" = the operator reported it reached the phone.

Scope: facilities.access with APPOINTMENT_REPORT_ROLES — managers and administrators, and the booking desk
(Bộ phận tư vấn đặt lịch), which reports these figures to the leadership every day; each sees the facilities
where they hold the role and everything under them. Roll-ups (TTYT, Sở Y tế) appear only when they lie in
that scope, so their figures always cover all of their services. Counts are summed; the median is computed
again over the roll-up's own confirmations (a median of medians is not a median). The number of queries does
not depend on the number of services or days (about ten).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    IntegerField,
    OuterRef,
    Q,
    Value,
)
from django.db.models.functions import Cast, Substr

from health_f0.appointments.models import Appointment, CancelSource, Channel, Service, Status
from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.notifications.models import MessageKind, MessageStatus, OutboxMessage
from health_f0.reports.common import rollup
from health_f0.reports.common.rollup import PROVINCE, TTYT, as_date, bounds, local_day

APPOINTMENT_REPORT_ROLES: frozenset[str] = access.APPOINTMENT_REPORT_ROLES
# The plan's target share of visits booked through the app (Mộc Hóa plan: 5-10%).
APP_SHARE_TARGET: tuple[float, float] = (0.05, 0.10)
REEXAM_WINDOW_DAYS = 7
CHANNELS: tuple[str, ...] = (Channel.APP, Channel.WEB, Channel.PHONE, Channel.DESK)
ONLINE: tuple[str, ...] = (Channel.APP, Channel.WEB)
CAME: tuple[str, ...] = (Status.CHECKED_IN, Status.COMPLETED)
SUBJECT_PREFIX = "appointment:"
# Facilities offered in the filter: roll-up levels and the places where services live.
FILTER_KINDS: frozenset[str] = frozenset(
    {
        FacilityKind.DEPARTMENT_OF_HEALTH,
        FacilityKind.HEALTH_CENTRE,
        FacilityKind.HOSPITAL,
        FacilityKind.DEPARTMENT,
        FacilityKind.CLINIC_ROOM,
    }
)

SERVICE = "service"
LEVELS: tuple[str, ...] = (SERVICE, TTYT, PROVINCE)


@dataclass(frozen=True)
class AppointmentFigures:
    """One unit's figures for one day. Rates are derived from counts, so sums stay exact."""

    booked_app: int = 0
    booked_web: int = 0
    booked_phone: int = 0
    booked_desk: int = 0
    visits: int = 0
    visits_app: int = 0
    walk_ins: int = 0
    confirmed: int = 0
    declined: int = 0
    median_confirm_minutes: float | None = None
    came: int = 0
    no_show: int = 0
    reexam_due: int = 0
    reexam_came: int = 0
    notices_sent: int = 0
    notices_delivered: int = 0
    reminders_sent: int = 0
    reminders_delivered: int = 0

    @property
    def booked(self) -> int:
        return self.booked_app + self.booked_web + self.booked_phone + self.booked_desk

    @property
    def app_share(self) -> float | None:
        """Visits booked through the app out of all visits (0..1); None when nobody was received."""
        return self.visits_app / self.visits if self.visits else None

    @property
    def no_show_rate(self) -> float | None:
        known = self.came + self.no_show
        return self.no_show / known if known else None

    @property
    def reexam_adherence(self) -> float | None:
        return self.reexam_came / self.reexam_due if self.reexam_due else None

    @property
    def reminder_delivery_rate(self) -> float | None:
        return self.reminders_delivered / self.reminders_sent if self.reminders_sent else None

    def __add__(self, other: AppointmentFigures) -> AppointmentFigures:
        """Sum of counts; the median is not additive and is left for the caller to set."""
        return rollup.add_counts(self, other, median_field="median_confirm_minutes")


# A row label (a clinic service with its room as `place`, a TTYT or a province) and a row of the tables.
Unit = rollup.Unit
Row = rollup.Row


@dataclass
class AppointmentReport:
    date_from: date
    date_to: date
    root: Facility | None
    days: list[date]
    units: dict[str, list[Unit]] = field(default_factory=dict)
    figures: dict[str, dict[tuple[int, date], AppointmentFigures]] = field(default_factory=dict)
    # The whole scope per day (the charts' series) and over the whole range (the summary).
    totals: dict[date, AppointmentFigures] = field(default_factory=dict)
    period: AppointmentFigures = field(default_factory=AppointmentFigures)

    def rows(self, level: str) -> list[Row[AppointmentFigures]]:
        return rollup.level_rows(
            self.figures.get(level, {}), self.units.get(level, []), self.days, AppointmentFigures
        )

    def service_period(self) -> list[tuple[Unit, AppointmentFigures]]:
        """Each service's figures summed over the range (the "by service" table); medians not set."""
        table = self.figures.get(SERVICE, {})
        result = []
        for unit in self.units.get(SERVICE, []):
            total = AppointmentFigures()
            for day in self.days:
                total = total + table.get((unit.id, day), AppointmentFigures())
            result.append((unit, total))
        return result


# --- Scope ------------------------------------------------------------------------------------


def can_view_appointment_reports(user: Any) -> bool:
    return bool(access.visible_facility_ids(user, APPOINTMENT_REPORT_ROLES))


def visible_facilities(user: Any) -> list[Facility]:
    """Every facility in the user's appointment-report scope, in tree order (read once per user object)."""
    return rollup.scope_facilities(user, APPOINTMENT_REPORT_ROLES, "_hf0_appointment_report_facilities")


def report_facilities(user: Any) -> list[Facility]:
    """The choices of the facility filter, in tree order."""
    return [f for f in visible_facilities(user) if f.kind in FILTER_KINDS]


def report_root(user: Any, facility_id: int | None) -> Facility | None:
    """The facility asked for, else the user's single top facility (None when the scope has several tops).

    Raises PermissionDenied when the user may not see these reports, LookupError when the facility asked
    for is missing or outside the scope (the two look the same)."""
    if not can_view_appointment_reports(user):
        raise PermissionDenied("Bạn không có quyền xem báo cáo lịch hẹn.")
    return rollup.pick_root(report_facilities(user), facility_id)


# --- Figures ----------------------------------------------------------------------------------


def appointment_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> AppointmentReport:
    """Figures per service per day over [date_from, date_to] with the TTYT and province roll-ups, for the
    user's scope narrowed to `facility_id`. A constant number of queries (scope, services, three grouped
    counts, the SMS count and one median query per level)."""
    days = rollup.days_between(date_from, date_to)
    root = report_root(user, facility_id)
    in_scope = rollup.in_root(visible_facilities(user), root)
    services = list(
        Service.objects.filter(facility_id__in=list(in_scope))
        .only("id", "code", "name", "facility_id")
        .order_by("facility__path", "name", "id")
    )
    report = AppointmentReport(date_from=date_from, date_to=date_to, root=root, days=days)
    report.units[SERVICE] = [
        Unit(id=s.pk, code=s.code, name=s.name, level=SERVICE, place=in_scope[s.facility_id].name)
        for s in services
    ]
    facility_of = {s.pk: s.facility_id for s in services}
    per_service = service_figures(facility_of, date_from, date_to)
    medians = _median_confirm_minutes({pk: pk for pk in facility_of}, date_from, date_to)
    report.figures[SERVICE] = {
        key: replace(value, median_confirm_minutes=medians.get(key)) for key, value in per_service.items()
    }

    levels = rollup.roll_up_levels(
        per_service,
        facility_of,
        in_scope,
        empty=AppointmentFigures,
        median_field="median_confirm_minutes",
        medians=lambda groups: _median_confirm_minutes(groups, date_from, date_to),
    )
    for level in (TTYT, PROVINCE):
        report.units[level] = levels.labels(level)
        report.figures[level] = levels.figures[level]
    report.totals = levels.totals
    period = rollup.total(report.totals.values(), AppointmentFigures())
    period_median = _median_confirm_minutes(levels.groups[rollup.ALL], date_from, date_to, by_day=False)
    report.period = replace(period, median_confirm_minutes=period_median.get((0, date_from)))
    return report


def service_figures(
    facility_of: dict[int, int], date_from: date, date_to: date
) -> dict[tuple[int, date], AppointmentFigures]:
    """Counts per (service, day): three grouped queries on appointments and one on the outbox."""
    if not facility_of:
        return {}
    service_ids, facility_ids, wanted = list(facility_of), list(facility_of.values()), set(facility_of)
    start, end = bounds(date_from, date_to)
    counts: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    appointments = Appointment.objects.filter(service_id__in=service_ids)

    # Bookings made each day, by channel; online ones confirmed or declined by the desk.
    for sid, day, app, web, phone, desk, confirmed, declined in (
        appointments.filter(created_at__gte=start, created_at__lt=end, is_walk_in=False)
        .annotate(day=local_day("created_at", start))
        .values_list("service_id", "day")
        .annotate(
            app=Count("id", filter=Q(channel=Channel.APP)),
            web=Count("id", filter=Q(channel=Channel.WEB)),
            phone=Count("id", filter=Q(channel=Channel.PHONE)),
            desk=Count("id", filter=Q(channel=Channel.DESK)),
            confirmed=Count("id", filter=Q(channel__in=ONLINE, confirmed_by__isnull=False)),
            declined=Count("id", filter=Q(channel__in=ONLINE, cancel_source=CancelSource.DECLINED)),
        )
        .values_list("service_id", "day", "app", "web", "phone", "desk", "confirmed", "declined")
    ):
        counts[(sid, as_date(day))].update(
            booked_app=app,
            booked_web=web,
            booked_phone=phone,
            booked_desk=desk,
            confirmed=confirmed,
            declined=declined,
        )

    # Patients received each day (queue_date is the local day of the check-in).
    for sid, day, visits, visits_app, walk_ins in (
        appointments.filter(queue_date__range=(date_from, date_to), status__in=CAME)
        .values_list("service_id", "queue_date")
        .annotate(
            visits=Count("id"),
            visits_app=Count("id", filter=Q(channel=Channel.APP, is_walk_in=False)),
            walk_ins=Count("id", filter=Q(is_walk_in=True)),
        )
        .values_list("service_id", "queue_date", "visits", "visits_app", "walk_ins")
    ):
        counts[(sid, as_date(day))].update(visits=visits, visits_app=visits_app, walk_ins=walk_ins)

    # Outcomes of the bookings due each day; a re-exam missed on its day but made good within the window.
    window = ExpressionWrapper(
        OuterRef("slot_start") + Value(timedelta(days=REEXAM_WINDOW_DAYS), output_field=DurationField()),
        output_field=DateTimeField(),
    )
    came_later = Exists(
        Appointment.objects.filter(
            patient_id=OuterRef("patient_id"),
            service_id=OuterRef("service_id"),
            status__in=CAME,
            checked_in_at__gt=OuterRef("slot_start"),
            checked_in_at__lte=window,
        )
    )
    for sid, day, came, no_show, reexam_due, reexam_came in (
        appointments.filter(
            slot_start__gte=start,
            slot_start__lt=end,
            is_walk_in=False,
            status__in=(*CAME, Status.NO_SHOW),
        )
        .annotate(day=local_day("slot_start", start))
        .values_list("service_id", "day")
        .annotate(
            came=Count("id", filter=Q(status__in=CAME)),
            no_show=Count("id", filter=Q(status=Status.NO_SHOW)),
            reexam_due=Count("id", filter=Q(is_reexam=True)),
            reexam_came=Count("id", filter=Q(is_reexam=True) & (Q(status__in=CAME) | Q(came_later))),
        )
        .values_list("service_id", "day", "came", "no_show", "reexam_due", "reexam_came")
    ):
        counts[(sid, as_date(day))].update(
            came=came, no_show=no_show, reexam_due=reexam_due, reexam_came=reexam_came
        )

    # SMS about the service's bookings: every appointment message carries "appointment:<pk>" as its
    # reference; the outbox is bounded by the facilities of the services and the range first.
    service_of_message = Appointment.objects.filter(pk=OuterRef("appointment_pk")).values("service_id")[:1]
    for sid, day, kind, status, n in (
        OutboxMessage.objects.filter(
            facility_id__in=sorted(set(facility_ids)),
            kind__in=(MessageKind.APPOINTMENT, MessageKind.APPOINTMENT_REMINDER),
            status__in=(MessageStatus.SENT, MessageStatus.DELIVERED),
            created_at__gte=start,
            created_at__lt=end,
            subject_ref__startswith=SUBJECT_PREFIX,
        )
        .annotate(appointment_pk=Cast(Substr("subject_ref", len(SUBJECT_PREFIX) + 1), IntegerField()))
        .annotate(day=local_day("created_at", start), svc=service_of_message)
        .values_list("svc", "day", "kind", "status")
        .annotate(n=Count("id"))
        .values_list("svc", "day", "kind", "status", "n")
    ):
        if sid not in wanted:
            continue
        prefix = "reminders" if kind == MessageKind.APPOINTMENT_REMINDER else "notices"
        target = counts[(sid, as_date(day))]
        target[f"{prefix}_sent"] = target.get(f"{prefix}_sent", 0) + n
        if status == MessageStatus.DELIVERED:
            target[f"{prefix}_delivered"] = target.get(f"{prefix}_delivered", 0) + n

    return {key: AppointmentFigures(**values) for key, values in counts.items() if values}


def _median_confirm_minutes(
    group_of: Mapping[int, int], date_from: date, date_to: date, *, by_day: bool = True
) -> dict[tuple[int, date], float]:
    """Median minutes from an online request to the desk's confirmation, per (group, local day of the
    request) — or per group over the whole range with the day set to date_from when by_day is False — in
    one query that returns only the middle one or two rows of each partition (rollup.median_minutes)."""
    if not group_of:
        return {}
    start, end = bounds(date_from, date_to)
    return rollup.median_minutes(
        Appointment.objects.filter(
            created_at__gte=start,
            created_at__lt=end,
            channel__in=ONLINE,
            confirmed_by__isnull=False,
            confirmed_at__isnull=False,
            is_walk_in=False,
        ),
        member_field="service_id",
        group_of=group_of,
        since="created_at",
        until="confirmed_at",
        day=local_day("created_at", start) if by_day else Value(date_from),
        fixed_day=None if by_day else date_from,
    )
