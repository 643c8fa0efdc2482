"""Constant SQL on registration_registration: the staff queue as a list (GET /api/v1|v2/registrations,
`registration.selectors.registration_queue_rows`).

What: the registrations the staff member may see (access.registrations_for's rule, written out by
`access.facility_scope_sql`), optionally by status and receiving facility, in the queue's stored order
(selectors.QUEUE_ORDER: queue_rank, -decided_sort, created_at, id — the reg_queue_order indexes), with the
facility's reference columns LEFT JOINed (a LEFT JOIN cannot start from the facility table, the plan that made
MariaDB sort a TTYT's whole queue when the facility was joined by the ORM). Rows are dicts keyed as
`.values()` would key them (`facility__code`…), the public ids as text;
`api.apis.registrations.registration_rows` builds the answer. tests/api/test_sql_lists.py checks the rows
equal the ORM queue's for every persona.

Why not the ORM: building and compiling the queue's queryset, its `.values()` rows, a UUID per public id and
the page's separate facility query were about half of the request's CPU. In process on the 100k data set, 100
rows (station TYT-10999 / manager of TTYT-B4), before and after in the same minute on a loaded machine (with
access's constant membership reads): v2 4.3 -> 2.4 / 4.4 -> 2.6 ms of CPU, v1 4.8 -> 3.0 / 5.2 -> 3.1 ms; one
query fewer (issue 11).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.db import connections, router

from health_f0.core.sqllist import (
    Col,
    ScopedFrom,
    SqlColumns,
    SqlList,
    declared_index,
    stored_column,
    text_column,
)
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.registration.models import Registration

_R = Registration._meta
_F = Facility._meta


def _col(name: str) -> Col:
    field: Any = _R.get_field(name)
    return Col(f"r.{field.column}", field)


def _text(meta: Any, alias: str, name: str) -> Col:
    return text_column(alias, meta.model, name)


QUEUE = SqlColumns(
    {
        "queue_rank": stored_column("r", Registration, "queue_rank"),
        "decided_sort": stored_column("r", Registration, "decided_sort"),
        "created_at": _col("created_at"),
        "id": _col("id"),
        "public_id": _text(_R, "r", "public_id"),
        "status": _col("status"),
        "channel": _col("channel"),
        "full_name": _col("full_name"),
        "date_of_birth": _col("date_of_birth"),
        "sex": _col("sex"),
        "phone": _col("phone"),
        "ward_name": _col("ward_name"),
        "eligibility": _col("eligibility"),
        "facility_id": _col("facility"),
        "facility__public_id": _text(_F, "f", "public_id"),
        "facility__code": Col("f.code", _F.get_field("code")),
        "facility__name": Col("f.name", _F.get_field("name")),
    }
)
FACILITY = f"r.{_R.get_field('facility').column}"
_JOIN = f"LEFT JOIN {_F.db_table} f ON f.id = {FACILITY}"
FROM = f"{_R.db_table} r {_JOIN}"


# On MariaDB/MySQL the queue is read in one of the two indexes of its order, and MariaDB is told so (issue 11,
# ninth round): choosing among every index on the facility and the cursor's columns cost more than reading the
# page. With the scope's 22 facilities of the largest TTYT of the 100k data, the first page's plan took 0.46 ms
# of MariaDB's CPU of 1.25 ms, the next page's (the cursor's OR of four ranges, times 22) 3.2 ms of 4.6; named,
# 0.28 and 0.71 ms, the same plan and rows. One facility: reg_queue_order (read in order).
# Filtered by status, the (facility, status, created_at) index stays a choice (one status of a facility, then
# sorted, can be fewer rows than the facility's queue walked to them).
#
# Many facilities (core.sqllist.MANY_FACILITIES: a TTYT's stations, two stations, a superuser), unfiltered: the
# page reads reg_queue_order_all named with FORCE INDEX, as a range (`queue_rank >= 0`, which every row meets: the
# generated rank is 0-3, never NULL), and the index ends with the facility, so MariaDB tests each entry's facility
# in the index (index condition pushdown) and reads the page's rows only (issue 11, twelfth round). Left to
# choose, MariaDB read that index (without the facility) as a full index scan, a whole row for every registration
# of the province it walked until the page was full, after weighing 22 ranges of reg_queue_order. MariaDB's CPU of
# the first page's statement (bench/statements_cpu.py, 100 runs x 3 rounds on a copy of the table): the largest
# TTYT (37 % of the province's queue) 0.73-0.77 -> 0.53 ms, the smallest (16 %) 2.08-2.09 -> 0.64 ms, the two
# smallest stations (627 registrations) 1.59-1.61 -> 1.69 ms (the forced index walks the province's entries; the
# old index forced instead cost 26 ms there, each entry's row read). v1's COUNT(*) keeps the choice and no range
# (on the new index the range made the largest TTYT's count 6.6 -> 20 ms).
QUEUE_ORDER_INDEXES = (
    declared_index(Registration, "facility", "queue_rank", "-decided_sort", "created_at", "id"),
    declared_index(Registration, "queue_rank", "-decided_sort", "created_at", "id", "facility"),
)
BY_STATUS_INDEX = declared_index(Registration, "facility", "status", "created_at")
FROM_MYSQL = f"{_R.db_table} r USE INDEX ({', '.join(QUEUE_ORDER_INDEXES)}) {_JOIN}"
FROM_MYSQL_BY_STATUS = (
    f"{_R.db_table} r USE INDEX ({', '.join((*QUEUE_ORDER_INDEXES, BY_STATUS_INDEX))}) {_JOIN}"
)
QUEUE_FROM = ScopedFrom(
    plain=FROM,
    few=FROM_MYSQL,
    many=f"{_R.db_table} r FORCE INDEX ({QUEUE_ORDER_INDEXES[1]}) {_JOIN}",
    many_where=f"r.{_R.get_field('queue_rank').column} >= 0",
)
# The receiving facility named by its public id (a constant subquery on its unique index, evaluated once).
BY_FACILITY = f"{FACILITY} = (SELECT ff.id FROM {_F.db_table} ff WHERE ff.public_id = %s)"  # noqa: S608


def queue(
    user: Any, *, status: str | None = None, facility: UUID | None = None, ordering: tuple[str, ...] = ()
) -> SqlList:
    """The staff member's queue (access.registrations_for), optionally filtered, as a `SqlList`."""
    where, scope_params = access.facility_scope_sql(user, FACILITY, access.STATION_ROLES)
    conditions, params = [where], list(scope_params)
    connection = connections[router.db_for_read(Registration)]
    if status:
        conditions.append(f"r.{_R.get_field('status').column} = %s")
        params.append(status)
    if facility is not None:
        conditions.append(BY_FACILITY)
        params.append(_F.get_field("public_id").get_db_prep_value(facility, connection))
    if status and connection.vendor == "mysql":
        from_, count_from, page_where = FROM_MYSQL_BY_STATUS, FROM_MYSQL_BY_STATUS, ""
    else:
        chosen = None if facility is None else (facility,)
        facilities = access.scope_size(user, access.STATION_ROLES, chosen)
        from_, count_from, page_where = QUEUE_FROM.choose_page(connection, facilities)
    return QUEUE.rows(
        from_,
        " AND ".join(conditions),
        params,
        model=Registration,
        ordering=ordering,
        count_from=count_from,
        page_where=page_where,
    )
