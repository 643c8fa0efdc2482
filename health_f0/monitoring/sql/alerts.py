"""Constant SQL on monitoring_alert: the staff's open alerts as a list (GET /api/v1|v2/alerts,
`monitoring.selectors.alert_list_rows`).

What: the open alerts (not acknowledged, episode active) of the facilities the staff member watches over
(access.alerts_for's rule, written out by `access.facility_scope_sql`), optionally of a facility's subtree and
of one level, most severe and then oldest first (the stored `level_rank`, created_at, id: read in the order of
Alert's index alert_open_order, or alert_open_order_all for many facilities), joined as the ORM's select_related
joined them (episode, patient; the acknowledging user and the facility's reference LEFT JOINed: a LEFT JOIN
cannot start from the small facility table, the plan that made MariaDB sort a TTYT's every open alert when the
ORM joined it). Rows are dicts keyed as `.values()` would key them (`episode__patient__full_name`…), the public
ids as text, or for the API's page (`as_tuples()`) tuples of the same values in OPEN_ALERTS' order;
`api.apis.monitoring.alert_rows` builds the answer a column at a time. tests/api/test_sql_lists.py checks the
rows equal the ORM list's for every persona (the ORM reads the declaration itself).

The declaration's public id and answers are the alert's copy of them (Alert.declaration_public_id,
declaration_answers; the declaration's own where the copy is NULL), not a join (issue 11, thirteenth round): a
page read 101 declaration rows by primary key, wide rows of a table of 1.5 million, for two short values. On a
copy of the 100k data set (migrated), the statement's Handler_read_key 387 -> 286 (TTYT), 305 -> 204 (largest
station); MariaDB's CPU of the statement (bench/statements_cpu.py replay, 200 runs x 16 alternating rounds on a
loaded host, medians) 1.90 -> 1.48 ms (TTYT), 1.73 -> 1.41 ms (station).

The page's Python work by row (issue 11, eleventh round): a dict built and read per row, the JSON columns decoded
by a Python call per value and the answer built with some fifteen helper calls per row made about 20 calls a
row; tuple rows, the JSON decoded a column at a time (core.sqllist.json_column) and alert_rows' column checks
leave two. With the page vouched plain (the renderer's marshal pass and NaN scan skipped), in process through the
WSGI handler on the 100k data set: 3,588 -> 1,830 calls a request (largest station), 3,672 -> 1,914 (TTYT
manager), 3,892 -> 2,140 (its next page); CPU 2.37-2.58 -> 2.02-2.31 ms (station), 2.41-2.54 -> 2.03-2.24 ms
(TTYT), alternating with the base in the same minutes on a loaded host.

Why not the ORM: building and compiling the list's queryset (joins, CASE annotation, keyset filter), its
`.values()` rows, a UUID per public id and the page's separate facility query took most of the request's CPU.
In process on the 100k data set, 100 rows (station TYT-10999 / manager of TTYT-B4), before and after in the
same minute on a loaded machine (with access's constant membership reads): v2 6.9 -> 4.3 / 6.3 -> 3.6 ms of
CPU, v1 6.8 -> 4.1 / 8.0 -> 3.7 ms; one query fewer (issue 11).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connections, router

from health_f0.core.sqllist import (
    Col,
    ScopedFrom,
    SqlColumns,
    SqlList,
    declared_index,
    json_column,
    stored_column,
    text_column,
)
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Alert, Declaration, Episode, EpisodeStatus
from health_f0.patients.models import Patient

_A = Alert._meta
_D = Declaration._meta
_E = Episode._meta
_P = Patient._meta
_F = Facility._meta
_U = get_user_model()._meta


def _col(meta: Any, alias: str, name: str) -> Col:
    field = meta.get_field(name)
    return Col(f"{alias}.{field.column}", field)


def _text(meta: Any, alias: str, name: str) -> Col:
    return text_column(alias, meta.model, name)


def _json(meta: Any, alias: str, name: str) -> Col:
    """A JSON column decoded as its JSONField decodes it, a column at a time (core.sqllist.json_column)."""
    return json_column(alias, meta.model, name)


def _copied(name: str, declared: str, read: Any) -> Col:
    """The alert's copy of its declaration's `declared` column (Alert.declaration_public_id, declaration_answers),
    typed as `read` types the copy; where the copy is NULL (an alert written without it: the previous release
    while `migrate` runs, raw SQL) the declaration's own, read by primary key for that row only (COALESCE
    evaluates its second argument only for a NULL first)."""
    col = read("a", Alert, name)
    own = _col(_D, "d", declared).sql
    return Col(
        f"COALESCE({col.sql}, (SELECT {own} FROM {_D.db_table} d "  # noqa: S608 (constant names)
        f"WHERE d.id = a.{_A.get_field('declaration').column}))",
        col.field,
    )


_PATIENT = "episode__patient__"
# The columns api.apis.monitoring.alert_rows answers with first, in its order (it reads a page of tuple rows a
# column at a time), then the order's and the scope's.
OPEN_ALERTS = SqlColumns(
    {
        "declaration__public_id": _copied("declaration_public_id", "public_id", text_column),
        "level": _col(_A, "a", "level"),
        "reasons": _json(_A, "a", "reasons"),
        "created_at": _col(_A, "a", "created_at"),
        "facility__public_id": _text(_F, "f", "public_id"),
        "facility__code": _col(_F, "f", "code"),
        "facility__name": _col(_F, "f", "name"),
        f"{_PATIENT}public_id": _text(_P, "p", "public_id"),
        f"{_PATIENT}full_name": _col(_P, "p", "full_name"),
        f"{_PATIENT}date_of_birth": _col(_P, "p", "date_of_birth"),
        f"{_PATIENT}phone": _col(_P, "p", "phone"),
        f"{_PATIENT}ward_name": _col(_P, "p", "ward_name"),
        "declaration__answers": _copied("declaration_answers", "answers", json_column),
        "acknowledged_at": _col(_A, "a", "acknowledged_at"),
        "acknowledged_by__username": _col(_U, "u", "username"),
        "outcome": _col(_A, "a", "outcome"),
        "note": _col(_A, "a", "note"),
        "id": _col(_A, "a", "id"),
        "level_rank": stored_column("a", Alert, "level_rank"),
        "facility_id": _col(_A, "a", "facility"),
    }
)
FACILITY = f"a.{_A.get_field('facility').column}"
# The patient is LEFT JOINed although every alert has one (NOT NULL foreign keys): the same rows, and v1's
# COUNT(*) need not read it (MariaDB drops an unused LEFT JOIN on a unique key). The declaration is not joined:
# the alert holds what the list shows of it (_copied).
_JOINS = (
    f"INNER JOIN {_E.db_table} e ON e.id = a.{_A.get_field('episode').column} "
    f"LEFT JOIN {_P.db_table} p ON p.id = e.{_E.get_field('patient').column} "
    f"LEFT JOIN {_U.db_table} u ON u.id = a.{_A.get_field('acknowledged_by').column} "
    f"LEFT JOIN {_F.db_table} f ON f.id = {FACILITY}"
)
FROM = f"{_A.db_table} a {_JOINS}"
OPEN = f"a.{_A.get_field('acknowledged_at').column} IS NULL AND e.{_E.get_field('status').column} = %s"


# On MariaDB/MySQL the alerts are read in one of the two indexes of the list's order, and MariaDB is told so
# (issue 11, ninth round): choosing among every index on the facility and the cursor's columns cost more than
# reading the page. With the scope's 22 facilities of the largest TTYT of the 100k data (alert_open_order walks
# 22 ranges, the four other indexes on facility_id, created_at, episode_id and the primary key were weighed too)
# the first page's plan took 0.61 ms of MariaDB's CPU of 2.1 ms, the next page's (the cursor's OR of three
# ranges, times 22) 3.0 ms of 6.2; named, 0.35 and 0.68 ms, the same plan and rows. MariaDB still chooses
# between the two by cost: alert_open_order for one facility (read in order, nothing tested), alert_open_order_all
# for many (read in order, each row's facility tested). v1's COUNT(*) reads alert_open_order (the same entries as
# the (facility, acknowledged_at, created_at) index it read before).
OPEN_ORDER_INDEXES = (
    declared_index(Alert, name="alert_open_order"),
    declared_index(Alert, name="alert_open_order_all"),
)
FROM_MYSQL = f"{_A.db_table} a USE INDEX ({', '.join(OPEN_ORDER_INDEXES)}) {_JOINS}"
# A scope of many facilities (core.sqllist.MANY_FACILITIES: a TTYT's stations, two stations) is read in
# alert_open_order_all named with FORCE INDEX: the index ends with the facility, so MariaDB tests each entry's
# station in the index (index condition pushdown) and reads the rows of the page only. Left to choose, it read
# that index without the pushdown, a row for every open alert of the province until the page was full: at the
# largest TTYT of the 100k data 262 rows (789 pages) for 101, for its two largest stations 465 sorted (first page)
# and 698 (next page); forced, 101 rows and 306 pages. MariaDB's CPU of the statement (1,000 runs over one
# connection, two alternating pairs): TTYT 1.18-1.21 -> 0.85-0.86 ms (first page), 1.39-1.48 -> 0.87-0.92 ms (next
# page); two stations 1.24-1.31 -> 0.80-0.87, 1.53-1.59 -> 0.88-0.94 ms; two small stations (73 open alerts) lose,
# 0.65-0.68 -> 0.82-0.91 ms (the forced index walks the province's open alerts). One station keeps FROM_MYSQL
# (alert_open_order reads its own entries only), and so does v1's count (ScopedFrom).
OPEN_FROM = ScopedFrom(
    plain=FROM,
    few=FROM_MYSQL,
    many=f"{_A.db_table} a FORCE INDEX ({declared_index(Alert, name='alert_open_order_all')}) {_JOINS}",
)


def open_alerts(
    user: Any,
    *,
    facility_ids: Sequence[int] | None = None,
    level: str | None = None,
    ordering: tuple[str, ...] = (),
) -> SqlList:
    """The staff member's open alerts (access.alerts_for), optionally only at `facility_ids` and of `level`,
    as a `SqlList`."""
    scope, scope_params = access.facility_scope_sql(user, FACILITY, access.ALERT_READER_ROLES)
    conditions, params = [scope, OPEN], [*scope_params, EpisodeStatus.ACTIVE.value]
    if facility_ids is not None:
        if facility_ids:
            conditions.append(f"{FACILITY} IN ({', '.join(['%s'] * len(facility_ids))})")
            params.extend(facility_ids)
        else:
            conditions.append("1 = 0")
    if level:
        conditions.append(f"a.{_A.get_field('level').column} = %s")
        params.append(level)
    facilities = access.scope_size(user, access.ALERT_READER_ROLES, facility_ids)
    from_, count_from = OPEN_FROM.choose(connections[router.db_for_read(Alert)], facilities)
    return OPEN_ALERTS.rows(
        from_, " AND ".join(conditions), params, model=Alert, ordering=ordering, count_from=count_from
    )
