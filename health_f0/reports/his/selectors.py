"""Reads for the managers' HIS linking report: the share of visiting patients whose account is linked to their
HIS record, by department and day, against the Mộc Hóa plan's 80% target; the link requests waiting and the
time to link; the import runs with their counts and errors.

What each figure counts (local days, Asia/Ho_Chi_Minh):

- visiting patients: distinct patients the HIS reported a visit for that day (HisVisitSeen: every visit the
  FHIR pull or an XML file reported, linked or not, reduced to a one-way patient key), per department
  (the HIS's department code) of each hospital/TTYT; "linked" are those whose account was linked when the
  visit was imported. A patient seen by two departments the same day counts once in the day's total, and
  once in the period's total however many days they came (distinct counts are not summed);
- link requests waiting: requests in the linker's queue now (needs_review) and how long the oldest waited;
- time to link: hours from the request to the link, for requests linked in the range (by the day linked);
  the median over all of them and over those the linker decided (automatic links take seconds);
- import runs started in the range with their counts (read, imported, duplicates, rejected) and errors.

Scope: facilities.access with HIS_REPORT_ROLES — managers and administrators, and HIS linkers, who see their
own hospital's figures; each sees the facilities where they hold the role and everything under them. The
number of queries does not depend on the number of departments, days, requests or runs.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.his.models import HisLinkRequest, HisVisit, HisVisitSeen, ImportRun, LinkStatus, RunStatus
from health_f0.his.selectors import LINK_TARGET
from health_f0.reports.common import rollup
from health_f0.reports.common.rollup import bounds

HIS_REPORT_ROLES: frozenset[str] = access.HIS_REPORT_ROLES
# Facilities offered in the filter: the roll-up levels and the hospitals/TTYT that run a HIS.
FILTER_KINDS: frozenset[str] = frozenset(
    {FacilityKind.DEPARTMENT_OF_HEALTH, FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL}
)
HIS_KINDS: frozenset[str] = frozenset({FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL})
RUNS_SHOWN = 50
ERRORS_PER_RUN = 20


@dataclass(frozen=True)
class ShareFigures:
    """Distinct visiting patients and how many of them were linked."""

    patients: int = 0
    linked: int = 0

    @property
    def share(self) -> float | None:
        return self.linked / self.patients if self.patients else None

    @property
    def meets_target(self) -> bool | None:
        share = self.share
        return None if share is None else share >= LINK_TARGET

    @property
    def gap(self) -> int:
        """Patients still to link to reach the target (0 when met)."""
        needed = -(-int(LINK_TARGET * 1000) * self.patients // 1000)  # ceil without float error
        return max(needed - self.linked, 0)


@dataclass(frozen=True)
class Department:
    facility_id: int
    facility_name: str
    code: str
    name: str

    @property
    def label(self) -> str:
        return self.name or self.code or "—"


@dataclass
class HisLinkReport:
    date_from: date
    date_to: date
    root: Facility | None
    days: list[date]
    hospitals: list[Facility] = field(default_factory=list)
    departments: list[Department] = field(default_factory=list)
    by_department_day: dict[tuple[int, str, date], ShareFigures] = field(default_factory=dict)
    by_department: dict[tuple[int, str], ShareFigures] = field(default_factory=dict)
    by_day: dict[date, ShareFigures] = field(default_factory=dict)
    period: ShareFigures = ShareFigures()
    waiting: int = 0
    oldest_waiting_at: datetime | None = None
    linked: int = 0
    auto_linked: int = 0
    rejected: int = 0
    median_hours: float | None = None
    median_hours_manual: float | None = None
    linked_by_day: dict[date, int] = field(default_factory=dict)
    median_hours_by_day: dict[date, float] = field(default_factory=dict)
    runs: list[ImportRun] = field(default_factory=list)
    run_totals: dict[str, int] = field(default_factory=dict)

    @property
    def target(self) -> float:
        return LINK_TARGET

    @property
    def multiple_hospitals(self) -> bool:
        return len(self.hospitals) > 1

    def department_rows(self) -> list[tuple[Department, list[tuple[date, ShareFigures]], ShareFigures]]:
        """Each department with its days (every day of the range) and its period figures."""
        return [
            (
                dept,
                [
                    (day, self.by_department_day.get((dept.facility_id, dept.code, day), ShareFigures()))
                    for day in self.days
                ],
                self.by_department.get((dept.facility_id, dept.code), ShareFigures()),
            )
            for dept in self.departments
        ]

    @property
    def oldest_waiting_days(self) -> int | None:
        if self.oldest_waiting_at is None:
            return None
        return (timezone.now() - self.oldest_waiting_at).days


# --- Scope ------------------------------------------------------------------------------------------


def can_view_his_report(user: Any) -> bool:
    return bool(access.visible_facility_ids(user, HIS_REPORT_ROLES))


def report_facilities(user: Any) -> list[Facility]:
    """The facility filter's choices: the Sở Y tế, TTYT and hospitals in the user's scope, in tree order."""
    return rollup.scope_facilities(
        user,
        HIS_REPORT_ROLES,
        "_hf0_his_report_facilities",
        kinds=FILTER_KINDS,
        fields=("id", "code", "name", "short_name", "kind", "path"),
    )


def report_root(user: Any, facility_id: int | None) -> Facility | None:
    """The facility asked for (LookupError when outside the scope), else the user's single top facility, else
    None (several disjoint tops: the report covers all). PermissionDenied without the role anywhere."""
    if not can_view_his_report(user):
        raise PermissionDenied("Bạn không có quyền xem báo cáo liên kết HIS.")
    return rollup.pick_root(report_facilities(user), facility_id)


# --- Figures ----------------------------------------------------------------------------------------


def his_link_report(
    *, user: Any, date_from: date, date_to: date, facility_id: int | None = None
) -> HisLinkReport:
    """The HIS linking figures over [date_from, date_to] for the user's scope (narrowed to `facility_id`).
    About ten queries whatever the number of hospitals, departments, days, requests and runs."""
    days = rollup.days_between(date_from, date_to)
    root = report_root(user, facility_id)
    hospitals = [
        f
        for f in report_facilities(user)
        if f.kind in HIS_KINDS and (root is None or f.path.startswith(root.path))
    ]
    report = HisLinkReport(date_from=date_from, date_to=date_to, root=root, days=days, hospitals=hospitals)
    ids = [f.pk for f in hospitals]
    if not ids:
        return report
    _share_figures(report, ids)
    _departments(report, ids)
    _requests(report, ids)
    _runs(report, ids)
    return report


def _patients() -> Count:
    return Count("patient_key", distinct=True)


def _linked() -> Count:
    return Count("patient_key", filter=Q(linked=True), distinct=True)


def _share_figures(report: HisLinkReport, ids: list[int]) -> None:
    """Four grouped queries: distinct counts are not additive, so each level is counted by the database."""
    seen = HisVisitSeen.objects.filter(facility_id__in=ids, day__range=(report.date_from, report.date_to))
    for fid, code, day, patients, linked in (
        seen.values_list("facility_id", "department_code", "day")
        .annotate(patients=_patients(), linked=_linked())
        .values_list("facility_id", "department_code", "day", "patients", "linked")
    ):
        report.by_department_day[(fid, code, day)] = ShareFigures(patients, linked)
    for fid, code, patients, linked in (
        seen.values_list("facility_id", "department_code")
        .annotate(patients=_patients(), linked=_linked())
        .values_list("facility_id", "department_code", "patients", "linked")
    ):
        report.by_department[(fid, code)] = ShareFigures(patients, linked)
    # Per facility then summed: a patient key is a hash of a hospital's own code, not comparable across HIS.
    for day, patients, linked in (
        seen.values_list("facility_id", "day")
        .annotate(patients=_patients(), linked=_linked())
        .values_list("day", "patients", "linked")
    ):
        before = report.by_day.get(day, ShareFigures())
        report.by_day[day] = ShareFigures(before.patients + patients, before.linked + linked)
    totals = (
        seen.values_list("facility_id")
        .annotate(patients=_patients(), linked=_linked())
        .values_list("patients", "linked")
    )
    report.period = ShareFigures(sum(p for p, _ in totals), sum(n for _, n in totals))


def _departments(report: HisLinkReport, ids: list[int]) -> None:
    """Department names as the HIS wrote them on the imported visits of the range (one query)."""
    start, end = bounds(report.date_from, report.date_to)
    names: dict[tuple[int, str], str] = {}
    for fid, code, name in (
        HisVisit.objects.filter(facility_id__in=ids, admitted_at__gte=start, admitted_at__lt=end)
        .exclude(department_name="")
        .values_list("facility_id", "department_code", "department_name")
        .distinct()
    ):
        names.setdefault((fid, code), name)
    facility_names = {f.pk: f.short_name or f.name for f in report.hospitals}
    order = {f.pk: index for index, f in enumerate(report.hospitals)}
    report.departments = sorted(
        (
            Department(fid, facility_names.get(fid, ""), code, names.get((fid, code), ""))
            for fid, code in report.by_department
        ),
        key=lambda d: (order.get(d.facility_id, 0), d.code),
    )


def _requests(report: HisLinkReport, ids: list[int]) -> None:
    """The queue now (one aggregate) and the requests decided in the range (one query of three columns)."""
    requests = HisLinkRequest.objects.filter(facility_id__in=ids)
    waiting = requests.filter(status=LinkStatus.NEEDS_REVIEW).aggregate(
        n=Count("id"), oldest=Min("created_at")
    )
    report.waiting = waiting["n"] or 0
    report.oldest_waiting_at = waiting["oldest"]
    start, end = bounds(report.date_from, report.date_to)
    decided = list(
        requests.filter(decided_at__gte=start, decided_at__lt=end).values_list(
            "status", "created_at", "decided_at", "auto_linked", "his_patient_id"
        )
    )
    all_hours: list[float] = []
    manual_hours: list[float] = []
    by_day: dict[date, list[float]] = defaultdict(list)
    for status, created, decided_at, auto, his_id in decided:
        if status == LinkStatus.REJECTED:
            report.rejected += 1
            continue
        if status not in (LinkStatus.LINKED, LinkStatus.UNLINKED) or not his_id or decided_at is None:
            continue
        hours = max((decided_at - created).total_seconds(), 0) / 3600
        all_hours.append(hours)
        by_day[timezone.localtime(decided_at).date()].append(hours)
        if auto:
            report.auto_linked += 1
        else:
            manual_hours.append(hours)
    report.linked = len(all_hours)
    report.median_hours = round(statistics.median(all_hours), 2) if all_hours else None
    report.median_hours_manual = round(statistics.median(manual_hours), 2) if manual_hours else None
    report.linked_by_day = {day: len(values) for day, values in by_day.items()}
    report.median_hours_by_day = {day: round(statistics.median(v), 2) for day, v in by_day.items()}


def _runs(report: HisLinkReport, ids: list[int]) -> None:
    start, end = bounds(report.date_from, report.date_to)
    runs = ImportRun.objects.filter(facility_id__in=ids, started_at__gte=start, started_at__lt=end)
    report.runs = list(runs.select_related("facility").order_by("-started_at", "-id")[:RUNS_SHOWN])
    totals = runs.aggregate(
        runs=Count("id"),
        failed=Count("id", filter=Q(status=RunStatus.FAILED)),
        read=Sum("read_count"),
        imported=Sum("imported_count"),
        duplicates=Sum("duplicate_count"),
        rejected=Sum("rejected_count"),
    )
    report.run_totals = {key: int(value or 0) for key, value in totals.items()}
