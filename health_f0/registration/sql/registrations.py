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

from health_f0.core.sqllist import Col, SqlColumns, SqlList, declared_index, stored_column, text_column
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
# 0.28 and 0.71 ms, the same plan and rows. MariaDB still chooses between the two by cost: reg_queue_order for
# one facility (read in order), reg_queue_order_all for many (read in order, each row's facility tested).
# Filtered by status, the (facility, status, created_at) index stays a choice (one status of a facility, then
# sorted, can be fewer rows than the facility's queue walked to them).
QUEUE_ORDER_INDEXES = (
    declared_index(Registration, "facility", "queue_rank", "-decided_sort", "created_at", "id"),
    declared_index(Registration, "queue_rank", "-decided_sort", "created_at", "id"),
)
BY_STATUS_INDEX = declared_index(Registration, "facility", "status", "created_at")
FROM_MYSQL = f"{_R.db_table} r USE INDEX ({', '.join(QUEUE_ORDER_INDEXES)}) {_JOIN}"
FROM_MYSQL_BY_STATUS = (
    f"{_R.db_table} r USE INDEX ({', '.join((*QUEUE_ORDER_INDEXES, BY_STATUS_INDEX))}) {_JOIN}"
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
    from_ = FROM
    if connection.vendor == "mysql":
        from_ = FROM_MYSQL_BY_STATUS if status else FROM_MYSQL
    return QUEUE.rows(from_, " AND ".join(conditions), params, model=Registration, ordering=ordering)
