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

from health_f0.core.sqllist import Col, SqlColumns, SqlList, stored_column, text_column
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
FROM = f"{_R.db_table} r LEFT JOIN {_F.db_table} f ON f.id = {FACILITY}"
# The receiving facility named by its public id (a constant subquery on its unique index, evaluated once).
BY_FACILITY = f"{FACILITY} = (SELECT ff.id FROM {_F.db_table} ff WHERE ff.public_id = %s)"  # noqa: S608


def queue(
    user: Any, *, status: str | None = None, facility: UUID | None = None, ordering: tuple[str, ...] = ()
) -> SqlList:
    """The staff member's queue (access.registrations_for), optionally filtered, as a `SqlList`."""
    where, scope_params = access.facility_scope_sql(user, FACILITY, access.STATION_ROLES)
    conditions, params = [where], list(scope_params)
    if status:
        conditions.append(f"r.{_R.get_field('status').column} = %s")
        params.append(status)
    if facility is not None:
        connection = connections[router.db_for_read(Registration)]
        conditions.append(BY_FACILITY)
        params.append(_F.get_field("public_id").get_db_prep_value(facility, connection))
    return QUEUE.rows(FROM, " AND ".join(conditions), params, model=Registration, ordering=ordering)
