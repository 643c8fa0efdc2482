"""HIS reads: a patient's visits and lab results, the linker's queue, the managers' figures, import runs.
Every query starts from facilities.access (his_link_requests_for / his_records_for): a patient sees only
their own (and family) records from active links; staff only their facilities'."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import formats, translation
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError
from health_f0.core.memo import Memo
from health_f0.core.sqllist import SqlList
from health_f0.facilities import access
from health_f0.facilities.models import Facility, FacilityKind
from health_f0.his.models import (
    HeldStatus,
    HisHeldRecord,
    HisLabResult,
    HisLink,
    HisLinkRequest,
    HisReexamSlip,
    HisVisit,
    HisVisitSeen,
    ImportRun,
    LabFlag,
    LinkStatus,
)
from health_f0.his.transitions import link_actions

LINK_TARGET = 0.8  # the Mộc Hóa plan: at least 80% of visiting patients linked


def visits_for(*, user: Any, patient: Any = None) -> QuerySet[HisVisit]:
    """Visits the user may read (newest first), optionally of one patient."""
    qs = access.his_records_for(user, HisVisit).select_related("facility")
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("-admitted_at", "-id")


def visits_with_lab_results_for(*, user: Any, patient: Any = None) -> QuerySet[HisVisit]:
    """visits_for with each visit's lab results prefetched (by name, with their report): the API's list."""
    from django.db.models import Prefetch

    return (
        visits_for(user=user, patient=patient)
        .select_related("patient")
        .prefetch_related(
            Prefetch(
                "lab_results",
                queryset=HisLabResult.objects.select_related("report").order_by("name", "id"),
            )
        )
    )


# FHIR DiagnosticReport statuses that withdraw a report: its results are not shown (they stay stored, and
# come back if the laboratory sets the report final again).
WITHDRAWN_REPORT_STATUSES = ("entered-in-error", "cancelled")


def lab_results_for(
    *,
    user: Any,
    patient: Any = None,
    visit: HisVisit | None = None,
    out_of_range_only: bool = False,
    by_report: bool = False,
) -> QuerySet[HisLabResult]:
    """Lab results the user may read (newest first) with their flag (H/L/N); `is_out_of_range` on each and
    `report`, the lab report they were issued in (or None). `by_report`: the results of one report follow
    each other (at the report's time), for a list that shows them under their report."""
    qs = (
        access.his_records_for(user, HisLabResult)
        .select_related("visit", "facility", "report")
        .exclude(report__status__in=WITHDRAWN_REPORT_STATUSES)
    )
    if patient is not None:
        qs = qs.filter(patient=patient)
    if visit is not None:
        qs = qs.filter(visit=visit)
    if out_of_range_only:
        qs = qs.filter(flag__in=[LabFlag.HIGH, LabFlag.LOW])
    if by_report:
        return qs.order_by(*LAB_ORDER)
    return qs.order_by("-observed_at", "name", "id")


# A patient's lab results newest first, one report's results together and by name: the stored sort key
# (HisLabResult.sort_at: the report's time, else the result's; sort_report: the report's id, 0 for none), read
# as a range of the index (patient, -sort_at, sort_report, name, id), never sorted. Keyset-ready (core.keyset:
# every column NOT NULL, the last unique).
LAB_ORDER = ("-sort_at", "sort_report", "name", "id")

# --- The portal's pages of records: keyset-ready orderings (core.keyset: every column NOT NULL, the last
# unique). ---

PORTAL_VISIT_ORDER = ("-admitted_at", "-id")
PORTAL_LAB_ORDER = LAB_ORDER


def portal_visits(*, user: Any, patient: Any) -> tuple[QuerySet[HisVisit], QuerySet[HisVisit]]:
    """visits_for one patient (the scope read once) as (visits with a time, for a keyset page in
    PORTAL_VISIT_ORDER: an index range of (patient, admitted_at), so a page reads its own rows whatever the
    history holds; visits the HIS sent without a time, newest import first, to show after the last page)."""
    visits = visits_for(user=user, patient=patient)
    return visits.filter(admitted_at__isnull=False), visits.filter(admitted_at__isnull=True).order_by("-id")


def portal_lab_results(*, user: Any, patient: Any, out_of_range_only: bool = False) -> QuerySet[HisLabResult]:
    """lab_results_for(by_report=True) of one patient, keyset-ready for PORTAL_LAB_ORDER (LAB_ORDER): the
    results of one report follow each other at the report's time, a report's results by name; a result
    without any time sorts as core.keyset.NO_TIME (last)."""
    return lab_results_for(user=user, patient=patient, out_of_range_only=out_of_range_only, by_report=True)


def visit_lab_results(
    *, user: Any, patient: Any, visits: list[HisVisit], per_visit: int | None = None
) -> QuerySet[HisLabResult]:
    """The lab results of some visits of one patient, by visit then name; with `per_visit`, at most that
    many of each visit (numbered by `rank`, 1 first), so a page of visits reads a bounded number of rows."""
    # Shown inside their visit: none of the related rows lab_results_for joins for a list is needed.
    qs = (
        lab_results_for(user=user, patient=patient)
        .filter(visit__in=visits)
        .select_related(None)
        .order_by("visit_id", "name", "id")
    )
    if per_visit is None:
        return qs
    rank = Window(RowNumber(), partition_by=[F("visit_id")], order_by=[F("name").asc(), F("id").asc()])
    return qs.annotate(rank=rank).filter(rank__lte=per_visit)


def reexam_slips_for(*, user: Any, patient: Any = None) -> QuerySet[HisReexamSlip]:
    qs = access.his_records_for(user, HisReexamSlip).select_related("appointment", "facility")
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("-date")


def links_for(*, user: Any, patient: Any = None, active_only: bool = True) -> QuerySet[HisLink]:
    qs = access.his_records_for(user, HisLink).select_related("facility", "patient")
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.filter(active=True) if active_only else qs


def desk_links_for(*, user: Any) -> QuerySet[HisLink]:
    """The desk's list of links, ended ones included: those of the facilities where the user is a HIS linker
    (HIS_LINKER_ROLES), with who linked and unlinked them."""
    return access.scope_by_facility(
        links_for(user=user, active_only=False), user, roles=access.HIS_LINKER_ROLES
    ).select_related("linked_by", "unlinked_by")


def link_requests_for(*, user: Any, patient: Any = None) -> QuerySet[HisLinkRequest]:
    """A patient's own requests (portal/API) or the requests of the linker's facilities."""
    qs = access.his_link_requests_for(user).select_related("patient", "facility")
    if patient is not None:
        qs = qs.filter(patient=patient)
    return qs.order_by("-created_at")


def link_queue(*, user: Any, facility: Facility | None = None) -> QuerySet[HisLinkRequest]:
    """The linker's queue: requests waiting for a decision, oldest first, with their candidates."""
    qs = access.his_link_requests_for(user).filter(status=LinkStatus.NEEDS_REVIEW)
    if not access.is_staff_member(user):
        return qs.none()
    if facility is not None:
        qs = qs.filter(facility=facility)
    return qs.select_related("patient", "facility").order_by("created_at", "id")


def link_queue_ids(*, user: Any, facility: Facility | None = None) -> SqlList:
    """link_queue's ids in its order, as constant SQL that names the order's index on MariaDB/MySQL
    (his.sql.link_requests.queue_ids): the desk's queue pages by them (core.idpages.IdPages), whatever the
    page's size and the backlog's. The scope is link_queue's: access.his_link_requests_for for staff
    (facility_scope_sql with the linker roles), nothing for anyone else."""
    from django.db import connections, router

    from health_f0.his.sql import link_requests as link_requests_sql

    if access.is_staff_member(user):
        scope = access.facility_scope_sql(user, "r.facility_id", access.HIS_LINKER_ROLES)
    else:
        scope = ("1 = 0", [])
    vendor = connections[router.db_for_read(HisLinkRequest)].vendor
    return link_requests_sql.queue_ids(
        scope, LinkStatus.NEEDS_REVIEW, facility.pk if facility is not None else None, vendor=vendor
    )


def held_records_for(
    *, user: Any, facility: Facility | None = None, waiting_only: bool = True
) -> QuerySet[HisHeldRecord]:
    """Imported XML records held for a linker (attached to nobody), oldest first: staff with the linker
    role at the facility only; never patients, not even the one a key pointed at."""
    if not access.is_staff_member(user):
        return HisHeldRecord.objects.none()
    qs = access.scope_by_facility(HisHeldRecord.objects.all(), user, roles=access.HIS_LINKER_ROLES)
    if waiting_only:
        qs = qs.filter(status=HeldStatus.WAITING)
    if facility is not None:
        qs = qs.filter(facility=facility)
    return qs.select_related("facility", "candidate_patient").order_by("created_at", "id")


def held_links(records: list[HisHeldRecord]) -> dict[int, HisLink]:
    """The links the held records' keys pointed at, by id (the queue's held cards show them side by side)."""
    return HisLink.objects.in_bulk([r.candidate_link_id for r in records if r.candidate_link_id])


def held_record_for(*, user: Any, pk: int) -> HisHeldRecord | None:
    """One held XML record (waiting or decided) of the linker's facilities, or None."""
    return (
        held_records_for(user=user, waiting_only=False)
        .filter(pk=pk)
        .select_related("facility", "candidate_patient")
        .first()
    )


def linker_hospitals(*, user: Any) -> QuerySet[Facility]:
    """The hospitals and TTYT whose queue the linker works (the queue page's facility filter)."""
    return (
        access.facilities_for(user, access.HIS_LINKER_ROLES)
        .filter(kind__in=HIS_FACILITY_KINDS)
        .order_by("path")
    )


def counter_requests_for(*, user: Any) -> QuerySet[HisLinkRequest]:
    """Link requests whose printable form the user may print: reception and linkers (HIS_COUNTER_ROLES) of
    the request's facility."""
    return access.scope_by_facility(
        HisLinkRequest.objects.select_related("patient", "facility"), user, roles=access.HIS_COUNTER_ROLES
    )


def counter_patients(*, user: Any, term: str, limit: int = 6) -> list[Any]:
    """Patients with an account the user may see (access.patients_for) whose CCCD, BHYT number or phone is
    `term` (spaces ignored), by name: reception's search for a request at the counter."""
    from health_f0.patients.selectors import search_phone

    term = "".join(term.split()).upper()
    condition = Q(cccd=term) | Q(bhyt=term)
    phone = search_phone(term)
    if phone:
        condition |= Q(phone=phone)
    return list(
        access.patients_for(user)
        .filter(condition, account__isnull=False)
        .select_related("facility")
        .order_by("full_name")[:limit]
    )


@dataclass(frozen=True)
class ShareRow:
    day: date
    department_code: str
    patients: int
    linked: int

    @property
    def share(self) -> float | None:
        return self.linked / self.patients if self.patients else None

    @property
    def meets_target(self) -> bool:
        return self.share is not None and self.share >= LINK_TARGET


def linked_share(*, user: Any, facility: Facility, start: date, end: date) -> list[ShareRow]:
    """Per department and day: distinct visiting patients the HIS reported and how many of them were linked
    (by the time of the import). One grouped query."""
    if not access.can_act_at(user, facility, access.HIS_RUN_ROLES):
        return []
    rows = (
        HisVisitSeen.objects.filter(facility__path__startswith=facility.path, day__range=(start, end))
        .values("day", "department_code")
        .annotate(
            patients=Count("patient_key", distinct=True),
            linked=Count("patient_key", filter=Q(linked=True), distinct=True),
        )
        .order_by("day", "department_code")
    )
    return [ShareRow(r["day"], r["department_code"], r["patients"], r["linked"]) for r in rows]


@dataclass(frozen=True)
class LinkStats:
    waiting: int
    oldest_waiting_days: int | None
    linked: int
    auto_linked: int
    rejected: int
    median_hours_to_link: float | None


def link_stats(*, user: Any, facility: Facility | None = None, since: date | None = None) -> LinkStats:
    """Requests waiting in the queue, and how long linking took (median, hours from request to link)."""
    qs = access.his_link_requests_for(user)
    if facility is not None:
        qs = qs.filter(facility__path__startswith=facility.path)
    waiting = qs.filter(status=LinkStatus.NEEDS_REVIEW)
    oldest = waiting.order_by("created_at").values_list("created_at", flat=True).first()
    decided = qs.exclude(decided_at=None)
    if since is not None:
        decided = decided.filter(decided_at__date__gte=since)
    linked_pairs = list(
        decided.filter(
            status__in=[LinkStatus.LINKED, LinkStatus.UNLINKED], his_patient_id__gt=""
        ).values_list("created_at", "decided_at", "auto_linked")
    )
    hours = [(d - c).total_seconds() / 3600 for c, d, _ in linked_pairs]
    from django.utils import timezone

    return LinkStats(
        waiting=waiting.count(),
        oldest_waiting_days=(timezone.now() - oldest).days if oldest else None,
        linked=len(linked_pairs),
        auto_linked=sum(1 for _, _, auto in linked_pairs if auto),
        rejected=decided.filter(status=LinkStatus.REJECTED).count(),
        median_hours_to_link=round(statistics.median(hours), 2) if hours else None,
    )


def import_runs_for(*, user: Any, facility: Facility | None = None, days: int = 30) -> QuerySet[ImportRun]:
    from django.utils import timezone

    qs = access.his_records_for(user, ImportRun).filter(started_at__gte=timezone.now() - timedelta(days=days))
    if facility is not None:
        qs = qs.filter(facility__path__startswith=facility.path)
    return qs.select_related("facility").order_by("-started_at")


# --- The patient's side (portal and app): which hospitals, and where each link stands. --------------

HIS_FACILITY_KINDS: tuple[str, ...] = (FacilityKind.HOSPITAL, FacilityKind.HEALTH_CENTRE)


def his_facilities_for(*, patient: Any) -> list[Facility]:
    """Hospitals and health centres (TTYT) a patient may ask to be linked with: the active ones of the
    patient's province, by name."""
    return list(
        Facility.objects.filter(
            kind__in=HIS_FACILITY_KINDS, is_active=True, province_code=patient.province_code
        ).order_by("name", "id")
    )


def his_facility_by_public_id(*, public_id: Any) -> Facility | None:
    """An active hospital or TTYT by its public id (any province: people visit hospitals elsewhere)."""
    try:
        return Facility.objects.filter(
            public_id=public_id, kind__in=HIS_FACILITY_KINDS, is_active=True
        ).first()
    except (ValueError, TypeError, DjangoValidationError):
        return None


def his_facility_default(*, patient: Any) -> Facility:
    """The facility a link request goes to when the patient did not choose: the only hospital/TTYT of the
    patient's province; DomainError(field="facility") asking to choose when there are several or none."""
    facilities = his_facilities_for(patient=patient)
    if len(facilities) == 1:
        return facilities[0]
    if not facilities:
        raise DomainError(
            _("Tỉnh của người bệnh chưa có bệnh viện/TTYT kết nối hồ sơ; vui lòng chọn cơ sở."),
            code="no_his_facility",
            field="facility",
        )
    raise DomainError(
        _("Có nhiều bệnh viện/TTYT; vui lòng chọn nơi lưu hồ sơ khám của bạn."),
        code="facility_required",
        field="facility",
    )


@dataclass(frozen=True)
class LinkOverview:
    """Where a patient's link with one hospital stands: `state` is linked, waiting, rejected, unlinked or
    none; `request` is the latest request there (its `reason` when rejected), `link` the active link."""

    facility: Facility
    link: HisLink | None
    request: HisLinkRequest | None
    # The workflow's actions open to the user on the active link (his.transitions.link_actions): "unlink".
    actions: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        if self.link is not None:
            return "linked"
        if self.request is None:
            return "none"
        if self.request.status in (LinkStatus.REQUESTED, LinkStatus.NEEDS_REVIEW):
            return "waiting"
        if self.request.status == LinkStatus.REJECTED:
            return "rejected"
        return "unlinked" if self.request.status in (LinkStatus.UNLINKED, LinkStatus.LINKED) else "none"

    @property
    def can_request(self) -> bool:
        return self.state in ("none", "rejected", "unlinked")


LINK_REQUEST_WINDOW = 200


def link_overview(*, user: Any, patient: Any) -> list[LinkOverview]:
    """Per hospital (those of the patient's province, then any other the patient has a link or request
    with): the active link, the latest request, and what the user may do on the link (LINK_WORKFLOW). Three
    queries, scoped through facilities.access, and the workflow's checks per active link."""
    return _overview(
        user,
        links=links_for(user=user, patient=patient),
        # Bounded: the latest requests only. A hospital whose last request is older than that many newer ones
        # reads as "none" (which may be asked again), whatever the patient's history holds.
        requests=link_requests_for(user=user, patient=patient)[:LINK_REQUEST_WINDOW],
        province=his_facilities_for(patient=patient),
    )


def _overview(
    user: Any, *, links: Iterable[HisLink], requests: Iterable[HisLinkRequest], province: Iterable[Any]
) -> list[LinkOverview]:
    """link_overview's rows from the patient's active links and latest requests (newest first, each with its
    facility) and the province's hospitals, whichever way they were read."""
    active_links = {link.facility_id: link for link in links}
    latest: dict[int, HisLinkRequest] = {}
    for request in requests:
        latest.setdefault(request.facility_id, request)
    pk = _FACILITY_PK  # f.pk's value (the Model.pk property is two Python calls a read)
    facilities = {pk(f): f for f in province}
    for link in active_links.values():
        facilities.setdefault(link.facility_id, link.facility)
    for request in latest.values():
        facilities.setdefault(request.facility_id, request.facility)
    rows = []
    for key, f in sorted(facilities.items(), key=_name_then_key):
        active = active_links.get(key)
        actions = tuple(link_actions(active, user)) if active is not None else ()
        rows.append(LinkOverview(facility=f, link=active, request=latest.get(key), actions=actions))
    return rows


_FACILITY_PK = attrgetter(Facility._meta.pk.attname)  # type: ignore[union-attr]


def _name_then_key(item: tuple[int, Any]) -> tuple[str, int]:
    """(f.name, f.pk) of an overview's (pk, facility) item: its order."""
    return item[1].name, item[0]


def patient_links_sql(*, user: Any, patient: Any, related: bool = True) -> list[HisLink]:
    """links_for one patient (active links) by constant SQL (his/sql/links.py) for a patient account (staff:
    links_for itself), newest first, each with its facility and, with `related`, its patient and request."""
    from health_f0.his.sql import links as links_sql

    if access.is_staff_member(user):
        return list(links_for(user=user, patient=patient))
    return links_sql.active_links(
        access.own_patients_sql(user, "l.patient_id"), patient=patient, related=related
    )


def link_overview_sql(*, user: Any, patient: Any) -> list[LinkOverview]:
    """link_overview by constant SQL (his/sql/links.py) for a patient account (staff: link_overview itself):
    the same rows, one statement (links_sql.overview: the active links, the latest requests and the province's
    hospitals), and the workflow's checks on instances that carry what they read (each
    active link's request, patient and facility), so no query per link."""
    from health_f0.his.sql import links as links_sql

    if access.is_staff_member(user):
        return link_overview(user=user, patient=patient)
    links, requests, province = links_sql.overview(
        access.own_patients_sql(user, "l.patient_id"),
        access.own_patients_sql(user, "r.patient_id"),
        patient=patient,
        limit=LINK_REQUEST_WINDOW,
        kinds=HIS_FACILITY_KINDS,
        province_code=patient.province_code,
    )
    return _overview(user, links=links, requests=requests, province=province)


# --- How HIS values read (portal and desk alike) -----------------------------------------------------


def department_label(*, code: str, name: str) -> str:
    """The department of a visit as people read it: the name the HIS sent, else the national name of its
    code (his.departments: 'K01' -> 'Khoa Khám bệnh'), else 'Khoa <code>'; '' when the HIS sent neither."""
    from health_f0.his.departments import DEPARTMENTS

    if name.strip():
        return name.strip()
    code = code.strip()
    if not code:
        return ""
    return DEPARTMENTS.get(code.upper()) or _("Khoa %(code)s") % {"code": code}


def decimal_text(value: Any, language: str | None = None) -> str:
    """A HIS number in the current language's decimal separator, without trailing zeros and without
    thousands grouping: Decimal('7.8000') -> '7,8' in Vietnamese, '7.8' in English; 100.0000 -> '100'.
    `language`: the active language (translation.get_language()), when a page's caller has it already."""
    if value is None:
        return ""
    # A list page formats hundreds of these, a test's few values over and over: each (value, language) once.
    # By its text: equal Decimals may write differently (0 and -0.0000).
    key = (type(value), str(value), language or translation.get_language(), settings.USE_THOUSAND_SEPARATOR)
    text = _DECIMAL_TEXTS.get(key)
    if text is not None:
        return text
    plain = format(Decimal(value).normalize(), "f")
    if not settings.USE_THOUSAND_SEPARATOR:
        # What number_format writes without grouping: the digits, the language's decimal separator.
        text = plain.replace(".", str(formats.get_format("DECIMAL_SEPARATOR")))
    else:
        text = str(formats.number_format(Decimal(plain), use_l10n=True, force_grouping=False))
    _DECIMAL_TEXTS.keep(key, text)
    return text


# decimal_text's answers by (type, text, language, grouping); emptied when it grows past _DECIMAL_TEXTS_KEPT.
_DECIMAL_TEXTS_KEPT = 4096
_DECIMAL_TEXTS: Memo[tuple[Any, ...], str] = Memo(_DECIMAL_TEXTS_KEPT)


def lab_value_text(result: HisLabResult, language: str | None = None) -> str:
    """A result's value: its number in the language's decimal separator, else the text the HIS sent
    ('Âm tính'). `language` as decimal_text's."""
    if result.value_number is not None:
        return decimal_text(result.value_number, language)
    return result.value


def lab_reference_text(result: HisLabResult, language: str | None = None) -> str:
    """A result's reference range with its unit: from the range's numbers when the HIS sent them (so the
    range reads with the same separator as the value, even when the HIS's own text had dots), else the
    HIS's text as sent; '' when there is none. `language` as decimal_text's."""
    if language is None:
        language = translation.get_language()
    low, high = decimal_text(result.reference_low, language), decimal_text(result.reference_high, language)
    if not (low or high):
        return result.reference_text
    return reference_range_text(low, high, result.unit)


def reference_range_text(low: str, high: str, unit: str) -> str:
    """lab_reference_text of a range from its numbers' texts (decimal_text's, '' for none; one at least)."""
    if low and high:
        text = f"{low} – {high}"
    elif high:
        text = f"≤ {high}"
    else:
        text = f"≥ {low}"
    return f"{text} {unit}".strip()


def first_lab_results_of(*, user: Any, visit_ids: list[int], per_visit: int) -> QuerySet[HisLabResult]:
    """The first `per_visit` lab results (by name) of each of some visits the user may read, with their report,
    each carrying `visit_total` (how many the visit has): one query whatever a visit holds (API v2 visits)."""
    by_visit = [F("visit_id")]
    return (
        lab_results_for(user=user)
        .filter(visit_id__in=visit_ids)
        .select_related(None)
        .select_related("report")
        .annotate(
            position=Window(RowNumber(), partition_by=by_visit, order_by=[F("name").asc(), F("id").asc()]),
            visit_total=Window(Count("id"), partition_by=by_visit),
        )
        .filter(position__lte=per_visit)
        .order_by("visit_id", "name", "id")
    )


# --- The patient's lists as constant SQL (issue 11: his/sql; API /visits, /lab-results, /his-links) -----------


@dataclass(frozen=True)
class RecordScope:
    """access.his_records_sql for one request: the rule written once (a patient's active links read once) and
    put on the columns of each statement that needs it (a page of visits, then their lab results)."""

    sql: str
    params: tuple[Any, ...]
    # A patient account's (patient, facility) pairs of active links (access.his_active_pairs), which the rule
    # binds; None for staff.
    pairs: tuple[tuple[int, int], ...] | None = None

    _PATIENT = "{patient}"
    _FACILITY = "{facility}"

    @classmethod
    def of(cls, user: Any) -> RecordScope:
        pairs = access.his_active_pairs(user)
        if pairs is None:
            sql, params = access.his_records_sql(user, cls._PATIENT, cls._FACILITY)
        else:
            sql, params = access.his_pairs_sql(pairs, cls._PATIENT, cls._FACILITY)
        return cls(sql, tuple(params), pairs)

    def linked(self, patient: Any) -> bool:
        """Whether `patient` has an active link that the scope reads (`bool(links_for(user, patient))`), from
        the pairs already read; a staff account's scope asks links_for."""
        if self.pairs is None:
            raise ValueError("RecordScope.linked is for a patient account's scope")
        return any(patient_id == patient.pk for patient_id, _facility_id in self.pairs)

    def on(self, patient_column: str, facility_column: str) -> tuple[str, list[Any]]:
        sql = self.sql.replace(self._PATIENT, patient_column).replace(self._FACILITY, facility_column)
        return sql, list(self.params)


def visit_rows_for(*, scope: RecordScope, patient: Any = None) -> Any:
    """visits_for as a core.sqllist.SqlList of dicts (his/sql/visits.py), in his.sql.visits.VISIT_ORDER
    (newest admission first, visits without a time last)."""
    from health_f0.his.sql import visits

    return visits.visits(
        scope.on("v.patient_id", "v.facility_id"), patient.pk if patient is not None else None
    )


def visit_lab_result_rows(*, visit_ids: list[int]) -> list[dict[str, Any]]:
    """Every lab result of these visits (the caller's: v1's list) but those of withdrawn reports, by visit then
    name, with their report."""
    from health_f0.his.sql import visits

    return visits.lab_results_of(visit_ids, withdrawn=WITHDRAWN_REPORT_STATUSES)


def first_lab_result_rows_of(
    *, scope: RecordScope, visit_ids: list[int], per_visit: int
) -> list[dict[str, Any]]:
    """first_lab_results_of as dicts (his/sql/visits.py): the first `per_visit` results of each visit that the
    scope keeps, not of a withdrawn report, each with `visit_total`; by visit then name."""
    from health_f0.his.sql import visits

    return visits.first_lab_results_of(
        visit_ids,
        scope.on("r.patient_id", "r.facility_id"),
        per_visit=per_visit,
        withdrawn=WITHDRAWN_REPORT_STATUSES,
    )


def portal_visit_rows(*, scope: RecordScope, patient: Any, timed: bool | None) -> Any:
    """portal_visits (`timed` True: the visits with a time; False: those without; None: visits_for the patient,
    all of them) as a core.sqllist.SqlList of dicts (his/sql/visits.py PORTAL_VISITS: what /ho-so-kham and its
    printed summary show of a visit, its bill and its facility), in his.sql.visits.VISIT_ORDER; the timed ones
    keyset-paged in PORTAL_VISIT_ORDER with the same cursors."""
    from health_f0.his.sql import visits

    return visits.portal_visits(scope.on("v.patient_id", "v.facility_id"), patient_id=patient.pk, timed=timed)


def dated_portal_visit_rows(*, scope: RecordScope, patient: Any, undated_limit: int) -> Any:
    """portal_visit_rows(timed=True) whose pages read forwards (in PORTAL_VISIT_ORDER) also read the first
    `undated_limit` visits without a time, in the same statement: its `undated_rows` after such a page (the rows
    of portal_visit_rows(timed=False) in ("-id",)), None before (his.sql.visits.DatedVisits)."""
    from health_f0.his.sql import visits

    return visits.dated_portal_visits(
        scope.on("v.patient_id", "v.facility_id"),
        patient_id=patient.pk,
        undated_limit=undated_limit,
        forward=PORTAL_VISIT_ORDER,
    )


def portal_visit_lab_result_rows(
    *,
    user: Any,
    patient: Any,
    visit_ids: list[int],
    per_visit: int | None,
    scope: RecordScope | None = None,
) -> list[dict[str, Any]]:
    """visit_lab_results as dicts (his/sql/visits.py portal_lab_results_of: what the visits pages' tables show
    of a result): the first `per_visit` results (all of them with None) of each of these visits of the patient,
    by visit then name. `scope`: the request's RecordScope when it has one (else read for `user`)."""
    from health_f0.his.sql import visits

    return visits.portal_lab_results_of(
        visit_ids,
        (scope or RecordScope.of(user)).on("r.patient_id", "r.facility_id"),
        patient_id=patient.pk,
        per_visit=per_visit,
        withdrawn=WITHDRAWN_REPORT_STATUSES,
    )


def lab_result_rows_for(
    *, user: Any, patient: Any = None, out_of_range_only: bool = False, visit_public_id: Any = None
) -> Any:
    """lab_results_for(by_report=True), optionally of one visit (by its public id), as a core.sqllist.SqlList
    of dicts (his/sql/lab_results.py) in LAB_ORDER."""
    from health_f0.his.sql import lab_results

    return lab_results.lab_results(
        RecordScope.of(user).on("r.patient_id", "r.facility_id"),
        ordering=LAB_ORDER,
        withdrawn=WITHDRAWN_REPORT_STATUSES,
        patient_id=patient.pk if patient is not None else None,
        flags=(LabFlag.HIGH.value, LabFlag.LOW.value) if out_of_range_only else (),
        visit_public_id=visit_public_id,
    )


def portal_lab_result_rows(
    *, user: Any, patient: Any, out_of_range_only: bool = False, scope: RecordScope | None = None
) -> Any:
    """portal_lab_results as a core.sqllist.SqlList of dicts (his/sql/lab_results.py PORTAL_LAB_RESULTS: what
    /ket-qua-xet-nghiem shows of a result, its report, its visit's department and its facility) in
    PORTAL_LAB_ORDER, keyset-paged with the same cursors. `scope`: the request's RecordScope when it has one
    (else read for `user`)."""
    from health_f0.his.sql import lab_results

    return lab_results.portal_lab_results(
        (scope or RecordScope.of(user)).on("r.patient_id", "r.facility_id"),
        ordering=PORTAL_LAB_ORDER,
        withdrawn=WITHDRAWN_REPORT_STATUSES,
        patient_id=patient.pk,
        flags=(LabFlag.HIGH.value, LabFlag.LOW.value) if out_of_range_only else (),
    )


def link_request_rows_for(*, user: Any, patient: Any = None) -> Any:
    """A patient account's link_requests_for as a core.sqllist.SqlList of dicts (his/sql/link_requests.py),
    newest first. Patient accounts only: staff read the requests of their facilities through the desk."""
    from health_f0.his.sql import link_requests

    if access.is_staff_member(user):
        raise ValueError("link_request_rows_for is the patient's list")
    scope = access.own_patients_sql(user, "r.patient_id")
    return link_requests.link_requests(scope, patient.pk if patient is not None else None)


def live_links_of_requests(*, request_ids: list[int]) -> dict[int, HisLink]:
    """The active link of each of these link requests that has one, by request id (one statement: the unlink
    action's `already_unlinked` guard reads it, his.transitions.LIVE_LINK)."""
    from health_f0.his.sql import link_requests

    return link_requests.active_links_of(request_ids)
