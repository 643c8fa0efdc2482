"""Reads for managers' home-care monitoring reports: figures per station per day, rolled up to the TTYT and
the province (Sở Y tế).

Every figure comes from a handful of aggregate queries grouped by (facility, day) and bounded by the date
range, so the number of queries does not depend on the number of stations or days:

- active on a day: episodes started on or before that day and not ended before it (an episode counts as
  active on the day it ends: it was monitored during that day);
- new / completed / transferred / closed: episodes started, or ended with that status, that day (local time);
- declared / on time: distinct active episodes with a declaration that day / with one before the deadline;
- alerts by level raised that day, and the median minutes to acknowledge those of them acknowledged;
- silent: active with no declaration that day.

Roll-ups sum the station figures and recompute the rates from the sums; the median is computed again over
the roll-up's own alerts (a median of medians is not a median).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.monitoring.models import Alert, AlertLevel, Declaration, Episode, EpisodeStatus

REPORT_ROLES: frozenset[str] = access.HOME_CARE_REPORT_ROLES
# Facilities that run home-care episodes: stations always get rows, treatment facilities (and any other
# facility) only when they hold episodes in the range.
MONITORING_KINDS: frozenset[str] = frozenset({FacilityKind.STATION, FacilityKind.TREATMENT})
ALERT_LEVELS: tuple[str, ...] = (AlertLevel.WATCH, AlertLevel.URGENT, AlertLevel.EMERGENCY)
MAX_RANGE_DAYS = 366

STATION = "station"
TTYT = "ttyt"
PROVINCE = "province"
LEVELS: tuple[str, ...] = (STATION, TTYT, PROVINCE)


@dataclass(frozen=True)
class DayFigures:
    """One unit's figures for one day. Rates are derived, so sums stay exact."""

    active: int = 0
    new: int = 0
    completed: int = 0
    transferred: int = 0
    closed: int = 0
    declared: int = 0
    on_time: int = 0
    alerts_watch: int = 0
    alerts_urgent: int = 0
    alerts_emergency: int = 0
    acknowledged: int = 0
    median_ack_minutes: float | None = None

    @property
    def silent(self) -> int:
        return max(self.active - self.declared, 0)

    @property
    def alerts(self) -> int:
        return self.alerts_watch + self.alerts_urgent + self.alerts_emergency

    @property
    def declaration_rate(self) -> float | None:
        """Share of active patients who declared (0..1), None when nobody was active."""
        return self.declared / self.active if self.active else None

    @property
    def on_time_rate(self) -> float | None:
        """Share of declaring patients who declared before the deadline (0..1), None when nobody declared."""
        return self.on_time / self.declared if self.declared else None

    def __add__(self, other: DayFigures) -> DayFigures:
        """Sum of counts; the median is not additive and is left for the caller to set."""
        return DayFigures(
            active=self.active + other.active,
            new=self.new + other.new,
            completed=self.completed + other.completed,
            transferred=self.transferred + other.transferred,
            closed=self.closed + other.closed,
            declared=self.declared + other.declared,
            on_time=self.on_time + other.on_time,
            alerts_watch=self.alerts_watch + other.alerts_watch,
            alerts_urgent=self.alerts_urgent + other.alerts_urgent,
            alerts_emergency=self.alerts_emergency + other.alerts_emergency,
            acknowledged=self.acknowledged + other.acknowledged,
        )


@dataclass(frozen=True)
class Unit:
    """A row label: a station, a TTYT or a province (Sở Y tế)."""

    id: int
    code: str
    name: str
    level: str


@dataclass(frozen=True)
class ReportRow:
    unit: Unit
    day: date
    figures: DayFigures


@dataclass
class MonitoringReport:
    date_from: date
    date_to: date
    root: Facility | None
    days: list[date]
    # level -> units of that level, in tree order; only levels the user may see in full are present.
    units: dict[str, list[Unit]] = field(default_factory=dict)
    # level -> {(unit id, day): figures}
    figures: dict[str, dict[tuple[int, date], DayFigures]] = field(default_factory=dict)
    # The whole report's scope summed per day (the chart's series).
    totals: dict[date, DayFigures] = field(default_factory=dict)

    def rows(self, level: str) -> list[ReportRow]:
        """Rows of one level, unit by unit, day by day."""
        table = self.figures.get(level, {})
        return [
            ReportRow(unit=unit, day=day, figures=table.get((unit.id, day), DayFigures()))
            for unit in self.units.get(level, [])
            for day in self.days
        ]


# --- Scope ------------------------------------------------------------------------------------


def can_view_reports(user: Any) -> bool:
    return bool(access.visible_facility_ids(user, REPORT_ROLES))


def report_facilities(user: Any) -> list[Facility]:
    """Facilities the user may report on (the choices of the facility filter), in tree order."""
    kinds = MONITORING_KINDS | {FacilityKind.DEPARTMENT_OF_HEALTH, FacilityKind.HEALTH_CENTRE}
    return [f for f in visible_facilities(user) if f.kind in kinds]


def visible_facilities(user: Any) -> list[Facility]:
    """Every facility in the user's report scope, in tree order (read once per user object)."""
    cache = user.__dict__.setdefault("_hf0_report_facilities", {})
    if "all" not in cache:
        ids = access.visible_facility_ids(user, REPORT_ROLES)
        cache["all"] = (
            list(
                Facility.objects.filter(id__in=ids)
                .only("id", "code", "name", "kind", "path")
                .order_by("path")
            )
            if ids
            else []
        )
    result: list[Facility] = cache["all"]
    return result


def report_root(user: Any, facility_id: int | None) -> Facility | None:
    """The facility the report is about: the one asked for, else the user's single top facility; None when
    the user's scope has several disjoint tops (the report then covers all of them).

    Raises PermissionDenied when the user may not see reports at all, and LookupError when the facility
    asked for does not exist or is outside the user's scope (the two look the same).
    """
    if not can_view_reports(user):
        raise PermissionDenied("Bạn không có quyền xem báo cáo.")
    facilities = report_facilities(user)
    if facility_id is not None:
        for facility in facilities:
            if facility.pk == facility_id:
                return facility
        raise LookupError(facility_id)
    tops = [f for f in facilities if not any(o is not f and f.path.startswith(o.path) for o in facilities)]
    return tops[0] if len(tops) == 1 else None


# --- Figures ----------------------------------------------------------------------------------


def monitoring_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> MonitoringReport:
    """Figures per station per day over [date_from, date_to], with the TTYT and province roll-ups.

    Scope: the facilities where the user is a manager, administrator or station head, and everything under
    them, narrowed to `facility_id` when given. A roll-up unit (TTYT, Sở Y tế) appears only when it lies in
    that scope, so its figures always cover all of its stations. About ten queries whatever the number of
    stations and days.
    """
    if date_to < date_from:
        raise ValueError("date_to before date_from")
    root = report_root(user, facility_id)
    in_scope = {f.pk: f for f in visible_facilities(user) if root is None or f.path.startswith(root.path)}
    days = [date_from + timedelta(days=i) for i in range((date_to - date_from).days + 1)]

    station_figures = _station_figures(sorted(in_scope), date_from, date_to, days)
    with_data = {pk for pk, _ in station_figures}
    station_ids = sorted(
        (pk for pk, f in in_scope.items() if f.kind == FacilityKind.STATION or pk in with_data),
        key=lambda pk: in_scope[pk].path,
    )
    report = MonitoringReport(date_from=date_from, date_to=date_to, root=root, days=days)
    report.units[STATION] = [_unit(in_scope[pk], STATION) for pk in station_ids]
    report.figures[STATION] = station_figures

    # Each station to its TTYT and its Sở Y tế, when those are in scope (stations directly under the Sở
    # have no TTYT).
    groups: dict[str, dict[int, int]] = {TTYT: {}, PROVINCE: {}, "all": {}}
    for pk in station_ids:
        groups["all"][pk] = 0
        for part in in_scope[pk].path.strip("/").split("/"):
            ancestor = in_scope.get(int(part)) if part else None
            if ancestor is None:
                continue
            if ancestor.kind in (FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL):
                groups[TTYT].setdefault(pk, ancestor.pk)
            elif ancestor.kind == FacilityKind.DEPARTMENT_OF_HEALTH:
                groups[PROVINCE].setdefault(pk, ancestor.pk)
    for level in (TTYT, PROVINCE):
        unit_ids = sorted(set(groups[level].values()), key=lambda pk: in_scope[pk].path)
        report.units[level] = [_unit(in_scope[pk], level) for pk in unit_ids]
        report.figures[level] = _roll_up(station_figures, groups[level], date_from, date_to)
    report.totals = {
        day: figures
        for (_, day), figures in _roll_up(station_figures, groups["all"], date_from, date_to).items()
    }
    return report


def _roll_up(
    station_figures: dict[tuple[int, date], DayFigures],
    group_of: dict[int, int],
    date_from: date,
    date_to: date,
) -> dict[tuple[int, date], DayFigures]:
    """Sum station figures into groups; the group's median comes from its own alerts (one query)."""
    if not group_of:
        return {}
    table: dict[tuple[int, date], DayFigures] = {}
    for (station_id, day), figures in station_figures.items():
        group = group_of.get(station_id)
        if group is not None:
            table[(group, day)] = table.get((group, day), DayFigures()) + figures
    medians = _median_minutes(group_of, date_from, date_to)
    return {key: replace(value, median_ack_minutes=medians.get(key)) for key, value in table.items()}


def _unit(facility: Facility, level: str) -> Unit:
    return Unit(id=facility.pk, code=facility.code, name=facility.name, level=level)


def _bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The range as aware datetimes: from local midnight of date_from to local midnight after date_to."""
    tz = timezone.get_current_timezone()
    start = timezone.make_aware(datetime.combine(date_from, time.min), tz)
    end = timezone.make_aware(datetime.combine(date_to + timedelta(days=1), time.min), tz)
    return start, end


def _local_day(field_name: str, at: datetime) -> Any:
    """SQL for the local calendar day of a stored (UTC) datetime.

    The zone's offset at the start of the range is added in SQL, then the date taken in UTC: this needs no
    time-zone tables in MariaDB (CONVERT_TZ with named zones returns NULL without them). Vietnam has kept
    UTC+7 without daylight saving since 1975; elsewhere days next to a DST change may shift by an hour.
    """
    offset = at.utcoffset() or timedelta(0)
    shifted = ExpressionWrapper(
        F(field_name) + Value(offset, output_field=DurationField()), output_field=DateTimeField()
    )
    return TruncDate(shifted, tzinfo=UTC)


def _station_figures(
    station_ids: list[int], date_from: date, date_to: date, days: list[date]
) -> dict[tuple[int, date], DayFigures]:
    """All counts per (station, day): five grouped queries plus the median query."""
    if not station_ids:
        return {}
    start, end = _bounds(date_from, date_to)
    episodes = Episode.objects.filter(facility_id__in=station_ids)

    # Active on date_from's eve: started before the range, not ended before it.
    baseline: dict[int, int] = dict(
        episodes.filter(start_date__lt=date_from)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start))
        .values_list("facility_id")
        .annotate(n=Count("id"))
        .values_list("facility_id", "n")
    )
    started: dict[tuple[int, date], int] = {
        (fid, day): n
        for fid, day, n in episodes.filter(start_date__range=(date_from, date_to))
        .values_list("facility_id", "start_date")
        .annotate(n=Count("id"))
        .values_list("facility_id", "start_date", "n")
    }
    ended: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    for fid, day, status, n in (
        episodes.filter(ended_at__gte=start, ended_at__lt=end)
        .exclude(status=EpisodeStatus.ACTIVE)
        .annotate(day=_local_day("ended_at", start))
        .values_list("facility_id", "day", "status")
        .annotate(n=Count("id"))
        .values_list("facility_id", "day", "status", "n")
    ):
        ended[(fid, _as_date(day))][status] = n

    declared: dict[tuple[int, date], tuple[int, int]] = {
        (fid, day): (n, on_time)
        for fid, day, n, on_time in Declaration.objects.filter(
            local_date__range=(date_from, date_to), episode__facility_id__in=station_ids
        )
        .values_list("episode__facility_id", "local_date")
        .annotate(
            n=Count("episode_id", distinct=True),
            on_time=Count("episode_id", distinct=True, filter=Q(late=False)),
        )
        .values_list("episode__facility_id", "local_date", "n", "on_time")
    }
    alerts: dict[tuple[int, date], dict[str, int]] = defaultdict(dict)
    acknowledged: dict[tuple[int, date], int] = defaultdict(int)
    for fid, day, level, n, acked in (
        Alert.objects.filter(facility_id__in=station_ids, created_at__gte=start, created_at__lt=end)
        .annotate(day=_local_day("created_at", start))
        .values_list("facility_id", "day", "level")
        .annotate(n=Count("id"), acked=Count("id", filter=Q(acknowledged_at__isnull=False)))
        .values_list("facility_id", "day", "level", "n", "acked")
    ):
        alerts[(fid, _as_date(day))][level] = n
        acknowledged[(fid, _as_date(day))] += acked
    medians = _median_minutes({pk: pk for pk in station_ids}, date_from, date_to)

    result: dict[tuple[int, date], DayFigures] = {}
    for fid in station_ids:
        active = baseline.get(fid, 0)
        for day in days:
            key = (fid, day)
            active += started.get(key, 0)
            ends = ended.get(key, {})
            n_declared, n_on_time = declared.get(key, (0, 0))
            levels = alerts.get(key, {})
            figures = DayFigures(
                active=active,
                new=started.get(key, 0),
                completed=ends.get(EpisodeStatus.COMPLETED, 0),
                transferred=ends.get(EpisodeStatus.TRANSFERRED, 0),
                closed=ends.get(EpisodeStatus.CLOSED, 0),
                declared=n_declared,
                on_time=n_on_time,
                alerts_watch=levels.get(AlertLevel.WATCH, 0),
                alerts_urgent=levels.get(AlertLevel.URGENT, 0),
                alerts_emergency=levels.get(AlertLevel.EMERGENCY, 0),
                acknowledged=acknowledged.get(key, 0),
                median_ack_minutes=medians.get(key),
            )
            if figures != DayFigures():
                result[key] = figures
            # Ended today still counted active today; gone from tomorrow.
            active -= sum(ends.values())
    return result


def _median_minutes(
    group_of: dict[int, int], date_from: date, date_to: date
) -> dict[tuple[int, date], float]:
    """Median minutes from alert to acknowledgement per (group, local day of the alert), in one query.

    `group_of` maps station id -> group id. The database numbers each group-day's acknowledged alerts by
    time to acknowledge and returns only the middle one or two, so the rows read do not grow with the
    number of alerts.
    """
    if not group_of:
        return {}
    start, end = _bounds(date_from, date_to)
    by_group: dict[int, list[int]] = defaultdict(list)
    for station_id, group_id in group_of.items():
        by_group[group_id].append(station_id)
    group = Case(
        *(When(facility_id__in=ids, then=Value(gid)) for gid, ids in by_group.items()),
        output_field=IntegerField(),
    )
    day = _local_day("created_at", start)
    waited = ExpressionWrapper(F("acknowledged_at") - F("created_at"), output_field=DurationField())
    rows = (
        Alert.objects.filter(
            facility_id__in=list(group_of),
            created_at__gte=start,
            created_at__lt=end,
            acknowledged_at__isnull=False,
        )
        .annotate(grp=group, day=day, waited=waited)
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("grp"), F("day")], order_by=[F("waited").asc(), F("id").asc()]
            ),
            size=Window(Count("id"), partition_by=[F("grp"), F("day")]),
        )
        # The middle row (odd size) or the two middle rows (even size): size <= 2*rank <= size + 2.
        .annotate(twice=F("rank") * 2)
        .filter(twice__gte=F("size"), twice__lte=F("size") + 2)
        .values_list("grp", "day", "waited")
    )
    middles: dict[tuple[int, date], list[timedelta]] = defaultdict(list)
    for gid, local_day, waited_for in rows:
        middles[(gid, _as_date(local_day))].append(_as_timedelta(waited_for))
    return {
        key: round(sum(values, timedelta()).total_seconds() / 60 / len(values), 1)
        for key, values in middles.items()
    }


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _as_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    return timedelta(microseconds=int(value))


def parse_day(text: str) -> date:
    """dd/mm/yyyy (also d/m/yyyy) -> date; ValueError otherwise."""
    parts = (text or "").strip().split("/")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or len(parts[2]) != 4:
        raise ValueError(text)
    return date(int(parts[2]), int(parts[1]), int(parts[0]))


def default_range(today: date | None = None, days: int = 14) -> tuple[date, date]:
    """The last `days` days, today included."""
    today = today or timezone.localdate()
    return today - timedelta(days=days - 1), today
