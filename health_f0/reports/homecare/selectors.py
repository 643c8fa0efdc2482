"""Reads for managers' home-care monitoring reports: figures per station per day, rolled up to the TTYT and
the province (Sở Y tế) by the shared roll-up (reports.common.rollup).

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, Q

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.monitoring.models import Alert, AlertLevel, Declaration, Episode, EpisodeStatus
from health_f0.reports.common import rollup
from health_f0.reports.common.rollup import PROVINCE, TTYT, as_date, bounds, local_day

REPORT_ROLES: frozenset[str] = access.HOME_CARE_REPORT_ROLES
# Facilities that run home-care episodes: stations always get rows, treatment facilities (and any other
# facility) only when they hold episodes in the range.
MONITORING_KINDS: frozenset[str] = frozenset({FacilityKind.STATION, FacilityKind.TREATMENT})
ALERT_LEVELS: tuple[str, ...] = (AlertLevel.WATCH, AlertLevel.URGENT, AlertLevel.EMERGENCY)

STATION = "station"
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
        return rollup.add_counts(self, other, median_field="median_ack_minutes")


# A row label (a station, a TTYT or a province) and a row of the tables: the shared roll-up's.
Unit = rollup.Unit
ReportRow = rollup.Row


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

    def rows(self, level: str) -> list[ReportRow[DayFigures]]:
        """Rows of one level, unit by unit, day by day."""
        return rollup.level_rows(
            self.figures.get(level, {}), self.units.get(level, []), self.days, DayFigures
        )


# --- Scope ------------------------------------------------------------------------------------


def can_view_reports(user: Any) -> bool:
    return bool(access.visible_facility_ids(user, REPORT_ROLES))


def report_facilities(user: Any) -> list[Facility]:
    """Facilities the user may report on (the choices of the facility filter), in tree order."""
    kinds = MONITORING_KINDS | {FacilityKind.DEPARTMENT_OF_HEALTH, FacilityKind.HEALTH_CENTRE}
    return [f for f in visible_facilities(user) if f.kind in kinds]


def visible_facilities(user: Any) -> list[Facility]:
    """Every facility in the user's report scope, in tree order (read once per user object)."""
    return rollup.scope_facilities(user, REPORT_ROLES, "_hf0_report_facilities")


def report_root(user: Any, facility_id: int | None) -> Facility | None:
    """The facility the report is about: the one asked for, else the user's single top facility; None when
    the user's scope has several disjoint tops (the report then covers all of them).

    Raises PermissionDenied when the user may not see reports at all, and LookupError when the facility
    asked for does not exist or is outside the user's scope (the two look the same).
    """
    if not can_view_reports(user):
        raise PermissionDenied("Bạn không có quyền xem báo cáo.")
    return rollup.pick_root(report_facilities(user), facility_id)


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
    days = rollup.days_between(date_from, date_to)
    root = report_root(user, facility_id)
    in_scope = rollup.in_root(visible_facilities(user), root)

    station_figures = _station_figures(sorted(in_scope), date_from, date_to, days)
    with_data = {pk for pk, _ in station_figures}
    station_ids = sorted(
        (pk for pk, f in in_scope.items() if f.kind == FacilityKind.STATION or pk in with_data),
        key=lambda pk: in_scope[pk].path,
    )
    report = MonitoringReport(date_from=date_from, date_to=date_to, root=root, days=days)
    report.units[STATION] = [Unit.of(in_scope[pk], STATION) for pk in station_ids]
    report.figures[STATION] = station_figures

    levels = rollup.roll_up_levels(
        station_figures,
        {pk: pk for pk in station_ids},
        in_scope,
        empty=DayFigures,
        median_field="median_ack_minutes",
        medians=lambda groups: _median_minutes(groups, date_from, date_to),
    )
    for level in (TTYT, PROVINCE):
        report.units[level] = levels.labels(level)
        report.figures[level] = levels.figures[level]
    report.totals = levels.totals
    return report


def _station_figures(
    station_ids: list[int], date_from: date, date_to: date, days: list[date]
) -> dict[tuple[int, date], DayFigures]:
    """All counts per (station, day): five grouped queries plus the median query."""
    if not station_ids:
        return {}
    start, end = bounds(date_from, date_to)
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
        .annotate(day=local_day("ended_at", start))
        .values_list("facility_id", "day", "status")
        .annotate(n=Count("id"))
        .values_list("facility_id", "day", "status", "n")
    ):
        ended[(fid, as_date(day))][status] = n

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
        .annotate(day=local_day("created_at", start))
        .values_list("facility_id", "day", "level")
        .annotate(n=Count("id"), acked=Count("id", filter=Q(acknowledged_at__isnull=False)))
        .values_list("facility_id", "day", "level", "n", "acked")
    ):
        alerts[(fid, as_date(day))][level] = n
        acknowledged[(fid, as_date(day))] += acked
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
    group_of: Mapping[int, int], date_from: date, date_to: date
) -> dict[tuple[int, date], float]:
    """Median minutes from alert to acknowledgement per (group, local day of the alert), in one query
    (`group_of` maps station id -> group id; rollup.median_minutes)."""
    if not group_of:
        return {}
    start, end = bounds(date_from, date_to)
    return rollup.median_minutes(
        Alert.objects.filter(created_at__gte=start, created_at__lt=end, acknowledged_at__isnull=False),
        member_field="facility_id",
        group_of=group_of,
        since="created_at",
        until="acknowledged_at",
        day=local_day("created_at", start),
    )
