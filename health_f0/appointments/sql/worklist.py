"""Constant SQL of the booking desk's worklist (GET /api/v1|v2/staff/appointments).

What: the bookings a desk member may see (access.staff_appointments_for, written out by
access.scope_hiding_restricted_sql), filtered by status, facility subtree and day as
appointments.selectors.staff_appointments filters them, in its ordering (requested: oldest request first;
other statuses: by visit time), with the columns the list answers with, the page's patient, service, room
and doctor joined (LEFT JOINs on primary keys: MariaDB still reads the bookings first, in the index order, and
eliminates the joins from the v1 count), and the patient's completed visits and no-shows from the maintained
tally (models.PatientVisitTally), joined the same way.

Why not the ORM: building and compiling the selector's query, its annotation subqueries and the four
queries by primary key for the page's patients, services, rooms and doctors cost most of the 11.5–13.7 ms
of CPU a 100-row page took at the largest TTYT of the 100k data set (bench/list_inproc.py, booking desk of
TTYT-B4); as one constant statement, with one workflow answer per page (core.workflow.available_each), it
costs 5.5–8.6 ms, 4–5 queries instead of 8–9 (same minute, loaded machine; docs/benchmarks.md, issue 11).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date
from typing import Any

from django.db import connections, router
from django.db.models import Model

from health_f0.appointments import slots as slotlib
from health_f0.appointments.models import Appointment, Doctor, PatientVisitTally, Service, Status
from health_f0.appointments.queue_rules import FacilityPolicy
from health_f0.core.sqllist import (
    Col,
    ScopedFrom,
    SqlColumns,
    SqlList,
    columns_of,
    declared_index,
    text_column,
)
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient


def cols(alias: str, prefix: str, model: type[Model], names: tuple[str, ...]) -> dict[str, Col]:
    """The columns `names` (field names) of `model` under the table alias `alias`, each named by its attname
    after `prefix` (e.g. "p_full_name")."""
    meta = model._meta
    attnames = tuple(getattr(meta.get_field(name), "attname", name) for name in names)
    return columns_of(alias, model, attnames, prefix=prefix)


def public_ids_as_text(
    columns: dict[str, Col], alias: str, model: type[Model], prefix: str
) -> dict[str, Col]:
    """`columns` with `model`'s public id read as the database's text (core.sqllist.text_column): the row
    builders write it with api.fast.uuid_text, so no UUID is built for it (500 a page of 100 bookings)."""
    name = f"{prefix}public_id"
    if name in columns:
        columns = {**columns, name: text_column(alias, model, "public_id")}
    return columns


# What the workflow's guards read of a booking: the bare booking the page's actions are asked about holds these
# (api.apis.appointments.staff_appointment_rows).
WORKFLOW_FIELDS = (
    "id",
    "patient",
    "service",
    "facility",
    "status",
    "slot_start",
    "is_walk_in",
    "is_reexam",
    "called_at",
    "queue_number",
    "recall_count",
    "skip_count",
)
# Where a row holds what the workflow reads of the booking it stands for (core.workflow.Workflow.available_rows:
# the attribute path -> the row's key; a booking column is keyed by its own attname, as WORKFLOW_FIELDS are).
# The queue's guards read the booking's room policy (`_queue_policy`, queue_rules.ticket_policy): not a column, a
# key hold_queue_policies adds to the rows that need it.
QUEUE_POLICY_KEY = "queue_policy"
WORKFLOW_ROW_KEYS = {
    "pk": "id",
    "service.cancel_cutoff_hours": "s_cancel_cutoff_hours",
    "_queue_policy": QUEUE_POLICY_KEY,
}
# The booking's own columns: the workflow's, and what the row answers.
BOOKING_FIELDS = (
    *WORKFLOW_FIELDS,
    "public_id",
    "channel",
    "check_in_code",
    "slot_end",
    "doctor",
    "reason",
    "created_at",
    "confirmed_at",
    "checked_in_at",
    "cancel_source",
    "cancel_reason",
)
# What the row answers of the patient, plus the account the workflow's owner check reads.
PATIENT_FIELDS = ("public_id", "full_name", "date_of_birth", "sex", "phone", "account")
# What the row answers of the service, plus what the guards read (the patient's cut-off).
SERVICE_FIELDS = ("public_id", "name", "kind", "cancel_cutoff_hours", "facility")
# What the row answers of the room, plus its place in the tree (the queue policy up the tree).
FACILITY_FIELDS = ("public_id", "code", "name", "path")
DOCTOR_FIELDS = ("public_id", "title", "full_name")

_A = Appointment._meta.db_table


# The patient's completed visits and no-shows: the maintained tally (models.PatientVisitTally, written with every
# status change), read by its primary key (LEFT JOIN: a patient without a row has none of either). It replaced a
# correlated count of the patient's bookings in the (patient, status, slot_start) index for each row of the page,
# 0.55-0.6 ms of MariaDB's 1.45-1.7 ms for a 100-row page at the largest TTYT of the 100k data.
# The 0 is unsigned as the tally's columns are: COALESCE(unsigned, 0) is a DECIMAL on MariaDB (a Decimal in Python).
_TALLY = PatientVisitTally._meta
PAST_COLUMNS = {
    "past_visits": Col("COALESCE(t.completed, CAST(0 AS UNSIGNED))", _TALLY.get_field("completed")),
    "past_no_shows": Col("COALESCE(t.no_shows, CAST(0 AS UNSIGNED))", _TALLY.get_field("no_shows")),
}


def hold_queue_policies(rows: list[dict[str, Any]], states: Collection[str]) -> None:
    """Give each row in one of `states` (those whose guards read the queue policy: transitions.QUEUE_POLICY_STATES)
    its room's policy under QUEUE_POLICY_KEY, one queue_rules.FacilityPolicy per room of the page: it reads the
    policy the first time a guard asks, once a room, and not at all for an actor whose plan asks no queue guard."""
    held: dict[int, FacilityPolicy] = {}
    for row in rows:
        if row["status"] in states:
            pk = row["facility_id"]
            policy = held.get(pk)
            if policy is None:
                policy = held[pk] = FacilityPolicy(pk, row["f_path"])
            row[QUEUE_POLICY_KEY] = policy


def _text_ids(alias: str, prefix: str, model: type[Model], names: tuple[str, ...]) -> dict[str, Col]:
    return public_ids_as_text(cols(alias, prefix, model, names), alias, model, prefix)


# The public ids are text (public_ids_as_text); the bare instances the page's guards read hold them as text too
# (no guard reads a public id).
ROWS = SqlColumns(
    {
        **_text_ids("a", "", Appointment, BOOKING_FIELDS),
        **PAST_COLUMNS,
        **_text_ids("p", "p_", Patient, PATIENT_FIELDS),
        **_text_ids("s", "s_", Service, SERVICE_FIELDS),
        **_text_ids("f", "f_", Facility, FACILITY_FIELDS),
        **_text_ids("d", "d_", Doctor, DOCTOR_FIELDS),
    }
)
# The API's page reads the rows as tuples (SqlList.as_tuples: no 43-key dict built, then read, for each of a page's
# 100 rows): a column at its position in ROWS; a page that needs the queue policy holds it after the columns
# (hold_queue_policy_tuples). What the workflow reads of such a row (available_rows' columns): each column by its
# position, and WORKFLOW_ROW_KEYS' paths at their keys' positions.
ROW_INDEX = {name: index for index, name in enumerate(ROWS.names)}
QUEUE_POLICY_INDEX = len(ROWS.names)
WORKFLOW_ROW_INDEXES: dict[str, int] = {
    **ROW_INDEX,
    **{
        path: QUEUE_POLICY_INDEX if key == QUEUE_POLICY_KEY else ROW_INDEX[key]
        for path, key in WORKFLOW_ROW_KEYS.items()
    },
}


def hold_queue_policy_tuples(
    rows: Sequence[tuple[Any, ...]], states: Collection[str]
) -> list[tuple[Any, ...]]:
    """hold_queue_policies for tuple rows: each row with, after its columns (QUEUE_POLICY_INDEX), its room's
    policy where it is in one of `states` (None elsewhere), one queue_rules.FacilityPolicy per room of the page."""
    status, facility, path = ROW_INDEX["status"], ROW_INDEX["facility_id"], ROW_INDEX["f_path"]
    held: dict[int, FacilityPolicy] = {}
    out = []
    for row in rows:
        policy = None
        if row[status] in states:
            pk = row[facility]
            policy = held.get(pk)
            if policy is None:
                policy = held[pk] = FacilityPolicy(pk, row[path])
        out.append((*row, policy))
    return out


_JOINS = (
    f"LEFT JOIN {Patient._meta.db_table} p ON p.id = a.patient_id "
    f"LEFT JOIN {Service._meta.db_table} s ON s.id = a.service_id "
    f"LEFT JOIN {Facility._meta.db_table} f ON f.id = a.facility_id "
    f"LEFT JOIN {Doctor._meta.db_table} d ON d.id = a.doctor_id "
    f"LEFT JOIN {_TALLY.db_table} t ON t.patient_id = a.patient_id"
)
FROM = f"{_A} a {_JOINS}"
# The requested bookings oldest first, on MariaDB/MySQL: sorted by the (status, created_at) index. Without the
# hint, a small page (LIMIT 2 to about 50) made MariaDB walk the plain created_at index from the oldest booking
# of all and test each row's status: the waiting requests are the newest, so it read 132,000 rows (2.3 s) for a
# page of 1 at the largest TTYT of the 100k data, where the hinted plan reads 11 (docs/benchmarks.md, seventh
# round). The hint only says which index gives the order; the rows and their order are the same.
REQUESTED_ORDER_INDEX = declared_index(Appointment, name="appt_status_created")


# Both indexes that give the order: (status, created_at, ...) for a scope of many facilities (a TTYT's clinics:
# read in order, each row's facility tested), and (facility, status, created_at) for a scope of one (read in
# order, nothing tested: naming the first alone made MariaDB sort that facility's requests, or walk every
# facility's for a small page). MariaDB chooses between them by cost, never the plain created_at index. The API's
# list names both for a scope of one facility only (REQUESTED_FROM below); the desk's HTML worklist always.
REQUESTED_ORDER_INDEXES = (
    REQUESTED_ORDER_INDEX,
    declared_index(Appointment, name="appt_facility_status_created"),
)
FROM_REQUESTED_MYSQL = f"{_A} a USE INDEX FOR ORDER BY ({', '.join(REQUESTED_ORDER_INDEXES)}) {_JOINS}"

# A scope of many clinics (a TTYT's; core.sqllist.MANY_FACILITIES) is read in the status's order index, named with
# FORCE INDEX: both order indexes end with the facility, so MariaDB tests each entry's clinic in the index (index
# condition pushdown) and reads the rows of the page only. Left to choose (USE INDEX FOR ORDER BY), MariaDB read
# the same index without the pushdown, a row for every entry: at the largest TTYT of the 100k data 298 rows (920
# pages) for the 101 of a page of requests, 275 for the confirmed visits; forced, 101 rows and 315 pages, 1.66 ->
# 1.33 ms and 1.61-1.71 -> 1.24-1.29 ms of MariaDB's CPU (first page; next page 1.88-1.94 -> 1.31-1.38 and
# 1.86-1.97 -> 1.23-1.27; 1,000 runs over one connection, two alternating pairs). Confirmed visits had no hint:
# for two clinics MariaDB read 898 rows in (status, slot_start) for 101 (2.26-2.37 -> 1.19-1.28 ms), for two
# small ones 2,505 (4.53-5.17 -> 1.39-1.47 ms). One clinic keeps the plan MariaDB chooses ((facility, status,
# created_at) for requests, read in order). The forced plans were measured without a day; a day keeps the
# optimizer's choice (the day's range is not in the requests' index).
SLOT_ORDER_INDEX = declared_index(Appointment, name="appt_status_slot")
REQUESTED_FROM = ScopedFrom(
    plain=FROM, few=FROM_REQUESTED_MYSQL, many=f"{_A} a FORCE INDEX ({REQUESTED_ORDER_INDEX}) {_JOINS}"
)
CONFIRMED_FROM = ScopedFrom(plain=FROM, few=FROM, many=f"{_A} a FORCE INDEX ({SLOT_ORDER_INDEX}) {_JOINS}")

# v1's COUNT(*) reads the bookings alone: the LEFT JOINs on primary keys neither drop nor repeat a booking and the
# condition (_condition) reads the booking's own columns only, so the count is the same, but MariaDB eliminated
# the five joins only after weighing them (0.60 -> 0.44 ms of ANALYZE's query_optimization, the TTYT's requests)
# and, the joined columns counted as read, could not count from an index that holds every column the condition
# reads (with the patient appended to the (facility, status, ...) indexes: the largest TTYT's 2,311 requests
# 7.2 -> 1.6 ms of MariaDB's CPU, 7,011 -> 72 pages; issue 11, fourteenth round). The FROM of the page's
# statement -> the count's, with the same index hint.
COUNT_FROM = {
    FROM: f"{_A} a",
    FROM_REQUESTED_MYSQL: f"{_A} a USE INDEX FOR ORDER BY ({', '.join(REQUESTED_ORDER_INDEXES)})",
}

# MariaDB keeps an expression cache for a correlated subquery of the SELECT list (optimizer_switch subquery_cache):
# each row looks its parameters up in a temporary table and, missing, adds them. The past counts' parameter is the
# row's patient, a different one on nearly every row of a page (ANALYZE: 101 loops, hit ratio 0), so the cache only
# costs: the page's statement runs with it off for itself alone (SET STATEMENT ... FOR: the session keeps its
# settings). MariaDB's CPU for the largest TTYT's first page of requests, 300 runs over one connection, 7 rounds
# alternated on a loaded host: 1.97 -> 1.77 ms (median), 1.80 -> 1.67 ms (best); the rows are the same, the cache
# never changes an answer. Since the past counts come from the tally (PAST_COLUMNS) the SELECT list has no
# subquery left, only the scope's NOT EXISTS on restricted patients in the WHERE; the setting is kept (harmless),
# its worth without the counts not measured apart (1,000 runs with and without were within the host's noise).
NO_SUBQUERY_CACHE = "SET STATEMENT optimizer_switch='subquery_cache=off' FOR "


class WorklistRows(SqlList):
    """The worklist's SqlList: its page statement (fetch, v1's slices, v2's keyset pages) runs on MariaDB without
    the subquery cache (NO_SUBQUERY_CACHE); `statement()` stays the plain SELECT (EXPLAIN reads it), and the
    count is SqlList's. `order_by` keeps the class (SqlList._with)."""

    def run(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        connection: Any = self.connection
        if connection.vendor == "mysql" and connection.mysql_is_mariadb:
            sql = NO_SUBQUERY_CACHE + sql
        return super().run(sql, params)


def _worklist_rows(
    from_: str,
    where: str,
    params: list[Any],
    *,
    ordering: tuple[str, ...],
    count_from: str | None = None,
) -> WorklistRows:
    return WorklistRows(
        ROWS, from_, where, params, model=Appointment, ordering=ordering, count_from=count_from
    )


def worklist(
    *,
    user: Any,
    roles: frozenset[str],
    status: str | None = None,
    facility_ids: list[int] | None = None,
    day: date | None = None,
) -> SqlList:
    """selectors.staff_appointments as constant SQL: rows (dicts keyed by ROWS' names) in its ordering.
    `facility_ids`: the chosen facility's subtree (selectors.facility_subtree_ids), None for no filter."""
    where, params = _condition(user=user, roles=roles, status=status, facility_ids=facility_ids, day=day)
    if status in (Status.REQUESTED, Status.CONFIRMED):
        connection = connections[router.db_for_read(Appointment)]
        scoped = REQUESTED_FROM if status == Status.REQUESTED else CONFIRMED_FROM
        if day is None:
            from_, count_from = scoped.choose(connection, access.scope_size(user, roles, facility_ids))
        else:  # the forced plans were measured without a day: one day's list keeps MariaDB's choice
            from_, count_from = scoped.choose(connection, 1)
        ordering = ("created_at", "id") if status == Status.REQUESTED else ("slot_start", "id")
        return _worklist_rows(from_, where, params, ordering=ordering, count_from=COUNT_FROM[count_from])
    return _worklist_rows(FROM, where, params, ordering=("slot_start", "id"), count_from=COUNT_FROM[FROM])


def _condition(
    *,
    user: Any,
    roles: frozenset[str],
    status: str | None,
    facility_ids: list[int] | None,
    day: date | None,
) -> tuple[str, list[Any]]:
    """The worklist's WHERE condition and its parameters (the selector's filters)."""
    where, params = access.scope_hiding_restricted_sql(
        user, roles, facility_column="a.facility_id", patient_column="a.patient_id"
    )
    conditions, params = [where], list(params)
    if status:
        conditions.append("a.status = %s")
        params.append(status)
    if facility_ids is not None:
        if not facility_ids:
            conditions.append("1 = 0")
        else:
            conditions.append(f"a.facility_id IN ({', '.join(['%s'] * len(facility_ids))})")
            params.extend(facility_ids)
    if day is not None:
        start, end = slotlib.local_day_bounds(day)
        connection = connections[router.db_for_read(Appointment)]
        field = Appointment._meta.get_field("slot_start")
        conditions.append("a.slot_start >= %s AND a.slot_start < %s")
        params.extend(field.get_db_prep_value(moment, connection) for moment in (start, end))
    return " AND ".join(conditions), params


# --- The desk's HTML worklist (appointments.desk.worklist): a page's ids in the order's index ----------------
# The desk's page of waiting requests is the ORM's (selectors.desk_worklist: model instances with the patient's
# counts, rendered by templates), but the ORM cannot name an index, and it had the API's plan defect
# (REQUESTED_ORDER_INDEX above) as a matter of the page's size: at the largest TTYT of the 100k data (2,215
# waiting requests of 150,000 bookings) MariaDB read the requests in the (status, created_at) index's order for
# a page of 50, and for a page of 20 walked the plain created_at index from the oldest booking of all
# (docs/benchmarks.md, eighth round). So the page's ids and the list's count come from this statement, which
# names the order's indexes on MariaDB/MySQL; selectors.desk_worklist_pages then loads the page's bookings by id
# (core.idpages.IdPages).


REQUESTED_IDS = SqlColumns(columns_of("a", Appointment, ("id", "created_at")))
FROM_IDS = f"{_A} a"
FROM_IDS_MYSQL = f"{_A} a USE INDEX FOR ORDER BY ({', '.join(REQUESTED_ORDER_INDEXES)})"
# As the API's list (REQUESTED_FROM): a scope of many clinics forces the (status, created_at, id, facility) index,
# which holds every column this statement reads (a covering read: no row at all) and tests the clinic in it. At
# the largest TTYT of the 100k data, 0.36-0.38 -> 0.18 ms of MariaDB's CPU for a page of 20 and 0.46-0.50 ->
# 0.22-0.26 ms for 50 (500 runs over one connection, alternated); one clinic keeps MariaDB's choice.
REQUESTED_IDS_FROM = ScopedFrom(
    plain=FROM_IDS, few=FROM_IDS_MYSQL, many=f"{_A} a FORCE INDEX ({REQUESTED_ORDER_INDEX})"
)


def requested_ids(*, user: Any, roles: frozenset[str]) -> SqlList:
    """The ids (and request times) of the requested bookings `user` sees with `roles`, oldest request first:
    `worklist(status=REQUESTED)`'s condition (access.scope_hiding_restricted_sql), read without the joins and,
    on MariaDB/MySQL, in one of the order's indexes whatever the page's size (REQUESTED_IDS_FROM: the status's
    index forced for a scope of many clinics, MariaDB's choice of REQUESTED_ORDER_INDEXES for one)."""
    where, params = _condition(user=user, roles=roles, status=Status.REQUESTED, facility_ids=None, day=None)
    connection = connections[router.db_for_read(Appointment)]
    from_, count_from = REQUESTED_IDS_FROM.choose(connection, access.scope_size(user, roles))
    return REQUESTED_IDS.rows(
        from_, where, params, model=Appointment, ordering=("created_at", "id"), count_from=count_from
    )
