"""Constant SQL on his_hisvisit for the API's visit list (GET /api/v1|v2/visits): the patient's visits newest
first, and the lab results of one page of visits.

What: the visits (with their patient and facility) as a `core.sqllist.SqlList` ordered by the admission time
(NULL last: core.keyset.NO_TIME) then id, keyset- and offset-paged like the ORM queryset; the lab results of
the page's visits in one statement — every one of each visit for v1 (by name, with their report, as the v1
list always showed them), the first `per_visit` of each with the visit's total for v2 and for the portal's
/ho-so-kham. Those are read in the order of the index (visit_id, name, id) (his 0007, named on MariaDB), no
more rows than the page may show (`per_visit` a visit), and cut per visit in Python; only a page whose visits
hold that many results or more is numbered by a ROW_NUMBER (and COUNT) window over the page's visits' results,
on their narrow columns only, the wide columns of the kept rows read afterwards by primary key.

Why the plain read first (issue 11): the window statements cost MariaDB a sort and two temporary tables each,
on disk (Aria) when a row holds a TEXT column (the result's or the report's conclusion): 1.3-2.7 ms of server
time for a page of 5 visits and 22 results where the plain read costs 0.3-0.5 ms (Created_tmp_disk_tables 2 -> 0,
no sort, Handler_read_next 22: the page's rows). It also bounds the read: the window numbers every result of
the page's visits; the plain read stops at the LIMIT.
The public ids are read as text (api.fast.uuid_text writes them): no UUID built for each of them.

Why not the ORM: building and compiling the querysets (the visits, the window query of
his.selectors.first_lab_results_of and its scope read a second time) cost more CPU than MariaDB needs to answer
them. In-process worker CPU per request, 100k-patient set (bench/list_inproc.py, same-minute pairs), before ->
after: v1 first page 3.6 -> 1.6 ms, v2 5.0 -> 1.5 ms (5 -> 4 queries); a heavy patient's 100-visit page (900
nested results) v1 27.8 -> 19.0 ms, v2 26.8 -> 18.1 ms, most of what is left being the rows' values and JSON.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.db import connections, router

from health_f0.core.keyset import NO_TIME
from health_f0.core.sqllist import Col, SqlColumns, SqlList, columns_of, declared_index, text_column
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabReport, HisLabResult, HisVisit
from health_f0.his.sql import FACILITY_REF, PATIENT_REF, REPORT_REF, field_of
from health_f0.patients.models import Patient

# Rows in the list are selected to the end in v1 (every result of a visit): LIMIT needs a number.
_ALL = 2**62
# NO_TIME as a DATETIME literal (the database keeps UTC, naive): COALESCE of a DATETIME and a text value would be text.
_NO_TIME = f"CAST('{NO_TIME.strftime('%Y-%m-%d %H:%M:%S')}' AS DATETIME(6))"

_V, _R = field_of(HisVisit), field_of(HisLabResult)

# The columns of api.apis.his.VISIT_COLUMNS (and the sort key), named as `.values()` names them.


def _text_ids(columns: dict[str, Col], alias: str, model: Any, prefix: str = "") -> dict[str, Col]:
    """`columns` with `model`'s public id read as the database's text (core.sqllist.text_column): the API's row
    builders write it with api.fast.uuid_text, so no UUID is built for it (1,300 of them on a heavy patient's
    page of 100 visits and 1,000 results)."""
    return {**columns, f"{prefix}public_id": text_column(alias, model, "public_id")}


VISITS = SqlColumns(
    {
        **_text_ids(
            columns_of(
                "v",
                HisVisit,
                ("id", "public_id", "department_code", "department_name", "admitted_at", "discharged_at"),
            ),
            "v",
            HisVisit,
        ),
        **columns_of("v", HisVisit, ("diagnosis_text", "icd10", "source")),
        **_text_ids(columns_of("p", Patient, PATIENT_REF, prefix="patient__"), "p", Patient, "patient__"),
        **_text_ids(
            columns_of("f", Facility, FACILITY_REF, prefix="facility__"), "f", Facility, "facility__"
        ),
        "admitted_sort": Col(f"COALESCE(v.admitted_at, {_NO_TIME})", _V("admitted_at")),
    }
)
_VISITS_FROM = (
    f"{HisVisit._meta.db_table} v INNER JOIN {Patient._meta.db_table} p ON p.id = v.patient_id "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = v.facility_id"
)
VISIT_ORDER = ("-admitted_sort", "-id")


def visits(scope: tuple[str, list[Any]], patient_id: int | None = None) -> SqlList:
    """The visits `scope` keeps (access.his_records_sql on v.patient_id, v.facility_id), of one patient when
    `patient_id` is given, in VISIT_ORDER."""
    where, params = scope
    if patient_id is not None:
        where, params = f"{where} AND v.patient_id = %s", [*params, patient_id]
    return VISITS.rows(_VISITS_FROM, where, params, model=HisVisit, ordering=VISIT_ORDER)


def _as_text(alias: str, model: Any, name: str) -> Col:
    """A column read as MariaDB's text of its value (CAST AS CHAR), without the driver's or the field's
    converters: a DATETIME(6) as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC), a DECIMAL(14, 4) as its fixed-point text
    ('3.5000', what the API answers). A heavy page of visits holds 1,000 results whose times repeat per visit and
    whose ranges repeat per test: the API's row builder (api.apis.his.visit_lab_result_row) writes each distinct
    text once instead of parsing and formatting 1,000 datetimes and 2,000 decimals (issue 11)."""
    column = text_column(alias, model, name)
    return Col(f"CAST({column.sql} AS CHAR)", column.field)


# The columns of api.apis.his.VISIT_LAB_RESULT_COLUMNS, named as `.values()` names them (the result's time and
# reference range, and its report's time, as text: _as_text).
def _result_columns(alias: str, report: str) -> dict[str, Col]:
    own = (
        *("id", "visit_id", "public_id", "code", "name", "value", "unit", "reference_low", "reference_high"),
        *("reference_text", "flag", "observed_at", "report_id"),
    )
    as_text = {
        name: _as_text(alias, HisLabResult, name)
        for name in ("reference_low", "reference_high", "observed_at")
    }
    return {
        **_text_ids({**columns_of(alias, HisLabResult, own), **as_text}, alias, HisLabResult),
        **_text_ids(
            {
                **columns_of(report, HisLabReport, REPORT_REF, prefix="report__"),
                "report__issued_at": _as_text(report, HisLabReport, "issued_at"),
            },
            report,
            HisLabReport,
            "report__",
        ),
    }


_REPORT_JOIN = f"LEFT OUTER JOIN {HisLabReport._meta.db_table} rep ON rep.id = r.report_id"
ALL_RESULTS = SqlColumns(_result_columns("r", "rep"))
_RESULTS_FROM = f"{HisLabResult._meta.db_table} r {_REPORT_JOIN}"
_RESULT_ORDER = ("visit_id", "name", "id")

# The results of some visits in their order, read from the index (visit, name, id) (his 0007): a range of it per
# visit, in the order asked, so MariaDB neither sorts nor builds a temporary table and stops at the LIMIT. Named
# on MariaDB/MySQL: left to itself the optimizer enters by the patient's index (patient, observed_at) with a row-id
# filter of this one, then sorts (tests/api/test_his_sql.py pins the plan).
VISIT_NAME_INDEX = declared_index(HisLabResult, "visit", "name", "id")
_BY_VISIT_FROM_MYSQL = f"{HisLabResult._meta.db_table} r FORCE INDEX ({VISIT_NAME_INDEX}) {_REPORT_JOIN}"


def _by_visit_from() -> str:
    """his_hislabresult r (with its report) read by VISIT_NAME_INDEX, named where the connection's SQL can."""
    connection = connections[router.db_for_read(HisLabResult)]
    return _BY_VISIT_FROM_MYSQL if connection.vendor == "mysql" else _RESULTS_FROM


def _first_of_each(rows: list[dict[str, Any]], per_visit: int, *, total: bool) -> list[dict[str, Any]]:
    """The first `per_visit` of each visit's `rows` (all of its rows, by visit then name), with `visit_total`
    (how many rows the visit has) when `total`: the window statements' answer, from rows read in their order."""
    counts = Counter(row["visit_id"] for row in rows) if total else None
    kept: list[dict[str, Any]] = []
    visit_id, position = None, 0
    for row in rows:
        if row["visit_id"] != visit_id:
            visit_id, position = row["visit_id"], 0
        position += 1
        if position <= per_visit:
            if counts is not None:
                row["visit_total"] = counts[visit_id]
            kept.append(row)
    return kept


def _marks(values: list[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def lab_results_of(visit_ids: list[int], *, withdrawn: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every lab result of these visits (the caller's) whose report is not `withdrawn`, by visit then name,
    with their report (v1). Until issue 11 v1 also showed the results of withdrawn reports (entered in error,
    cancelled), which v2, /lab-results and the portal hide."""
    if not visit_ids:
        return []
    where = f"r.visit_id IN ({_marks(visit_ids)}) AND {_SHOWN.format(_marks(list(withdrawn)))}"
    rows = ALL_RESULTS.rows(_RESULTS_FROM, where, [*visit_ids, *withdrawn], model=HisLabResult)
    return rows.fetch(ordering=_RESULT_ORDER, limit=_ALL)


# The first results of each visit: the window numbers and counts the page's visits' results on their narrow
# columns (id, visit, name, and what the scope and the report's status need), the outer statement keeps the first
# `per_visit` of each and only then reads their wide columns (value, reference, the report's conclusion) by
# primary key: a visit of thousands of results costs its narrow rows, not thousands of wide ones materialized and
# sorted twice.
# The order's columns are the window's (x): MariaDB sorts the numbered rows before joining the wide ones, with no
# temporary table of them (sorting on the joined r's columns needed one, on disk for the report's conclusion).
_NUMBERED_ORDER = {name: Col(f"x.{name}", _R(name)) for name in ("id", "visit_id", "name")}
FIRST_RESULTS = SqlColumns(
    {**_result_columns("r", "rep"), **_NUMBERED_ORDER, "visit_total": Col("x.visit_total", _R("id"))}
)
# (The visit's total is a count: typed by an integer field of the table, no converter turns it into anything.)
# Withdrawn reports' results are not shown (his.selectors.WITHDRAWN_REPORT_STATUSES, lab_results_for).
_SHOWN = "(rep.id IS NULL OR rep.status NOT IN ({}))"


def first_lab_results_of(
    visit_ids: list[int], scope: tuple[str, list[Any]], *, per_visit: int, withdrawn: tuple[str, ...]
) -> list[dict[str, Any]]:
    """The first `per_visit` lab results (by name, then id) of each of these visits that `scope` keeps
    (access.his_records_sql on r.patient_id, r.facility_id) and whose report is not `withdrawn`, each with
    `visit_total`: how many such results the visit has. By visit, then name."""
    if not visit_ids:
        return []
    scope_sql, scope_params = scope
    shown = _SHOWN.format(_marks(list(withdrawn)))
    # Most pages: every result of the page's visits is fewer rows than the page may show (`per_visit` each):
    # read them all in the index's order (no window, no sort, no temporary table) and keep the first of each
    # here. A page whose visits hold as many results or more is read by the window statement below.
    budget = len(visit_ids) * per_visit
    every = ALL_RESULTS.rows(
        _by_visit_from(),
        f"r.visit_id IN ({_marks(visit_ids)}) AND {scope_sql} AND {shown}",
        [*visit_ids, *scope_params, *withdrawn],
        model=HisLabResult,
    ).fetch(ordering=_RESULT_ORDER, limit=budget)
    if len(every) < budget:
        return _first_of_each(every, per_visit, total=True)
    from_ = (
        "(SELECT r.id AS id, r.visit_id AS visit_id, r.name AS name, "  # noqa: S608
        "ROW_NUMBER() OVER (PARTITION BY r.visit_id ORDER BY r.name, r.id) AS position, "
        "COUNT(*) OVER (PARTITION BY r.visit_id) AS visit_total "
        f"FROM {_RESULTS_FROM} WHERE r.visit_id IN ({_marks(visit_ids)}) AND {scope_sql} "
        f"AND {_SHOWN.format(_marks(list(withdrawn)))}) x "
        f"INNER JOIN {HisLabResult._meta.db_table} r ON r.id = x.id {_REPORT_JOIN}"
    )
    rows = FIRST_RESULTS.rows(
        from_, "x.position <= %s", [*visit_ids, *scope_params, *withdrawn, per_visit], model=HisLabResult
    )
    return rows.fetch(ordering=_RESULT_ORDER, limit=len(visit_ids) * per_visit)


# What the portal's visits page (/ho-so-kham) shows of a visit's lab result, in its table.
_PORTAL_RESULT_FIELDS = (
    *("id", "visit_id", "name", "value", "value_number", "unit", "reference_low", "reference_high"),
    *("reference_text", "flag", "conclusion"),
)
PORTAL_RESULTS = SqlColumns({name: Col(f"x.{name}", _R(name)) for name in _PORTAL_RESULT_FIELDS})
# The same columns read from the table itself (the statement without a window).
PORTAL_RESULTS_OWN = SqlColumns(
    {name: Col(f"r.{_R(name).column}", _R(name)) for name in _PORTAL_RESULT_FIELDS}
)
# ... and joined by id to the window's numbered rows (x: id, visit and name, the order's columns).
PORTAL_RESULTS_NUMBERED = SqlColumns({**PORTAL_RESULTS_OWN.columns, **_NUMBERED_ORDER})


def portal_lab_results_of(
    visit_ids: list[int],
    scope: tuple[str, list[Any]],
    *,
    patient_id: int,
    per_visit: int | None,
    withdrawn: tuple[str, ...],
) -> list[dict[str, Any]]:
    """The first `per_visit` lab results (by name, then id; every one with None) of each of these visits of one
    patient that `scope` keeps (access.his_records_sql on r.patient_id, r.facility_id) and whose report is not
    `withdrawn`, with PORTAL_RESULTS' columns; by visit, then name (his.selectors.visit_lab_results).

    Read in VISIT_NAME_INDEX's order with no window: every result (the printed summary), or, when the visits'
    results are fewer than `per_visit` each on average, all of them cut here (first_lab_results_of says why); a
    page whose visits hold more is numbered by the window statement."""
    if not visit_ids:
        return []
    scope_sql, scope_params = scope
    where = (
        f"r.visit_id IN ({_marks(visit_ids)}) AND r.patient_id = %s AND {scope_sql} "
        f"AND {_SHOWN.format(_marks(list(withdrawn)))}"
    )
    params = [*visit_ids, patient_id, *scope_params, *withdrawn]
    every = PORTAL_RESULTS_OWN.rows(_by_visit_from(), where, params, model=HisLabResult)
    if per_visit is None:
        return every.fetch(ordering=_RESULT_ORDER, limit=_ALL)
    budget = len(visit_ids) * per_visit
    rows = every.fetch(ordering=_RESULT_ORDER, limit=budget)
    if len(rows) < budget:
        return _first_of_each(rows, per_visit, total=False)
    # Numbered on the narrow columns only (a derived table holding the conclusion TEXT went to disk), the kept
    # rows' own columns read by id.
    from_ = (
        "(SELECT r.id AS id, r.visit_id AS visit_id, r.name AS name, "  # noqa: S608
        "ROW_NUMBER() OVER (PARTITION BY r.visit_id ORDER BY r.name, r.id) AS position "
        f"FROM {_RESULTS_FROM} WHERE {where}) x INNER JOIN {HisLabResult._meta.db_table} r ON r.id = x.id"
    )
    numbered = PORTAL_RESULTS_NUMBERED.rows(
        from_, "x.position <= %s", [*params, per_visit], model=HisLabResult
    )
    return numbered.fetch(ordering=_RESULT_ORDER, limit=len(visit_ids) * per_visit)


# What the portal's visits pages (/ho-so-kham, /ho-so-kham/in) show of a visit: its times, department,
# diagnosis and bill, and its facility's name and path (payments.selectors.gateways_offered reads the path: which
# gateways the facility, or one above it, offers). The public id is a UUID, as the ORM gives it (the bill's
# "Thanh toán" link).
PORTAL_VISITS = SqlColumns(
    {
        **columns_of(
            "v",
            HisVisit,
            (
                *("id", "public_id", "department_code", "department_name", "admitted_at", "discharged_at"),
                *("diagnosis_text", "icd10", "bill_total", "bill_insurance", "bill_patient", "facility_id"),
            ),
        ),
        **columns_of("f", Facility, ("name", "path"), prefix="facility__"),
        "admitted_sort": Col(f"COALESCE(v.admitted_at, {_NO_TIME})", _V("admitted_at")),
    }
)
_PORTAL_VISITS_FROM = (
    f"{HisVisit._meta.db_table} v INNER JOIN {Facility._meta.db_table} f ON f.id = v.facility_id"
)
# Which of a patient's visits: those with a time (a keyset page in (-admitted_at, -id): an index range of
# (patient, admitted_at)), those without one (after the last page, newest import first), or all of them.
_TIMED = {True: " AND v.admitted_at IS NOT NULL", False: " AND v.admitted_at IS NULL", None: ""}


def portal_visits(scope: tuple[str, list[Any]], *, patient_id: int, timed: bool | None) -> SqlList:
    """One patient's visits that `scope` keeps (access.his_records_sql on v.patient_id, v.facility_id) with
    PORTAL_VISITS' columns: those with an admission time (`timed` True), those without (False) or all (None),
    in VISIT_ORDER (newest admission first, visits without a time last)."""
    where, params = scope
    where = f"v.patient_id = %s AND {where}{_TIMED[timed]}"
    return PORTAL_VISITS.rows(
        _PORTAL_VISITS_FROM, where, [patient_id, *params], model=HisVisit, ordering=VISIT_ORDER
    )


class DatedVisits(SqlList):
    """portal_visits(timed=True) for /ho-so-kham, whose pages read forwards (`forward`: the pager's ordering)
    also bring, in the same statement on MariaDB/MySQL, the first `undated_limit` visits without a time (newest
    import first: `undated`'s rows in ("-id",)), which the page shows after the last dated visit: `undated_rows`,
    None until such a page was read. The two halves are a UNION ALL of two ranges of the (patient, admitted_at)
    index, neither sorted nor kept in a temporary table (one statement instead of two on the last page, which is
    the first for nearly every patient; issue 11); each half is put back in its own order here."""

    def __init__(self, dated: SqlList, *, undated: SqlList, undated_limit: int, forward: tuple[str, ...]):
        super().__init__(
            dated.columns, dated.from_, dated.where, dated.params, model=dated.model, ordering=dated.ordering
        )
        self.undated, self.undated_limit, self.forward = undated, undated_limit, forward
        self.undated_rows: list[dict[str, Any]] | None = None

    def fetch(
        self,
        *,
        where: str = "",
        params: Any = (),
        ordering: Any,
        limit: int,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        if tuple(ordering) != self.forward or offset or self.connection.vendor != "mysql":
            return super().fetch(where=where, params=params, ordering=ordering, limit=limit, offset=offset)
        dated_sql, dated_params = self.statement(where=where, params=params, ordering=ordering, limit=limit)
        undated_sql, undated_params = self.undated.statement(ordering=("-id",), limit=self.undated_limit)
        rows = self.run(f"({dated_sql}) UNION ALL ({undated_sql})", [*dated_params, *undated_params])
        dated = [row for row in rows if row["admitted_at"] is not None]
        undated = [row for row in rows if row["admitted_at"] is None]
        # UNION ALL leaves the order of its output unsaid: each half in its own order again (a page of each).
        dated.sort(key=_newest_first, reverse=True)
        undated.sort(key=_id, reverse=True)
        self.undated_rows = undated
        return dated


def _newest_first(row: dict[str, Any]) -> tuple[Any, int]:
    return row["admitted_at"], row["id"]


def _id(row: dict[str, Any]) -> int:
    return int(row["id"])


def dated_portal_visits(
    scope: tuple[str, list[Any]], *, patient_id: int, undated_limit: int, forward: tuple[str, ...]
) -> DatedVisits:
    """portal_visits(timed=True) whose forward pages also read the first `undated_limit` undated visits
    (DatedVisits)."""
    return DatedVisits(
        portal_visits(scope, patient_id=patient_id, timed=True),
        undated=portal_visits(scope, patient_id=patient_id, timed=False),
        undated_limit=undated_limit,
        forward=forward,
    )
