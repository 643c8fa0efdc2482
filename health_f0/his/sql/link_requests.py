"""Constant SQL on his_hislinkrequest for the API's list of link requests (GET /api/v1|v2/his-links): the
requests of the account's own and family patients (access.own_patients_sql), newest first, with their patient
and facility, as a `core.sqllist.SqlList` paged like the ORM queryset; and the active links of the page's
requests in one statement (the unlink action's `already_unlinked` guard reads a request's live link).

Why not the ORM: building and compiling the queryset, model instances through a compiled serializer and one
query per linked request for its live link cost more CPU than MariaDB needs to answer them. In-process worker
CPU per request, 100k-patient set (bench/list_inproc.py, same-minute pairs), before -> after: v1 4.5 -> 1.7 ms,
v2 3.0 -> 1.4 ms.
"""

from __future__ import annotations

from typing import Any

from health_f0.core.rawsql import fetch_models
from health_f0.core.sqllist import SqlColumns, SqlList, columns_of
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLink, HisLinkRequest
from health_f0.his.sql import FACILITY_REF, PATIENT_REF
from health_f0.patients.models import Patient

_OWN = (
    "id",
    "public_id",
    "status",
    "identifier_type",
    "identifier",
    "channel",
    "auto_linked",
    "reason",
    "created_at",
    "decided_at",
    "patient_id",
    "facility_id",
    "created_by_id",
)
LINK_REQUESTS = SqlColumns(
    {
        **columns_of("r", HisLinkRequest, _OWN),
        **columns_of("p", Patient, (*PATIENT_REF, "account_id", "verified_phone"), prefix="patient__"),
        **columns_of("f", Facility, FACILITY_REF, prefix="facility__"),
    }
)
_FROM = (
    f"{HisLinkRequest._meta.db_table} r "
    f"INNER JOIN {Patient._meta.db_table} p ON p.id = r.patient_id "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = r.facility_id"
)
ORDER = ("-created_at", "-id")


def link_requests(scope: tuple[str, list[Any]], patient_id: int | None = None) -> SqlList:
    """The requests `scope` keeps (access.own_patients_sql on r.patient_id), of one patient with `patient_id`,
    newest first."""
    where, params = scope
    if patient_id is not None:
        where, params = f"{where} AND r.patient_id = %s", [*params, patient_id]
    return LINK_REQUESTS.rows(_FROM, where, params, model=HisLinkRequest, ordering=ORDER)


_ACTIVE_LINKS = f"SELECT * FROM {HisLink._meta.db_table} WHERE active AND request_id IN "  # noqa: S608


def active_links_of(request_ids: list[int]) -> dict[int, HisLink]:
    """The active link of each of these requests that has one, by request id."""
    if not request_ids:
        return {}
    sql = f"{_ACTIVE_LINKS}({', '.join(['%s'] * len(request_ids))})"
    return {link.request_id: link for link in fetch_models(HisLink, sql, request_ids)}  # type: ignore[misc]


# --- The linker's queue (his.desk.requests: hang-cho): a page's ids in the order's index ---------------------
# The queue's page is the ORM's (his.selectors.link_queue, with the patient's live link annotated by the view),
# oldest waiting request first, 20 a page. The ORM cannot name an index, and the order's column has its own
# plain index (created_at, as on every BaseModel): for a small LIMIT MariaDB weighs walking it from the oldest
# request of all (the waiting ones are the newest) against reading the (facility, status, created_at) range and
# sorting it, and the choice turns on the page's size and the backlog's (the booking desk's worklist flipped at
# a page of 20 over 2,200 waiting requests, appointments.sql.worklist). So the page's ids and the queue's count
# come from this statement, which names the filter's index for the order on MariaDB/MySQL: one facility's
# requests are read in its order, several facilities' are read by range and sorted; core.idpages.IdPages loads
# the page's requests by id through the view's queryset.
QUEUE_IDS = SqlColumns(columns_of("r", HisLinkRequest, ("id", "created_at")))
QUEUE_ORDER_INDEX = next(
    index.name
    for index in HisLinkRequest._meta.indexes
    if tuple(index.fields) == ("facility", "status", "created_at")
)
QUEUE_FROM = f"{HisLinkRequest._meta.db_table} r"
QUEUE_FROM_MYSQL = f"{QUEUE_FROM} USE INDEX FOR ORDER BY ({QUEUE_ORDER_INDEX})"


def queue_ids(scope: tuple[str, list[Any]], status: str, facility_id: int | None, *, vendor: str) -> SqlList:
    """The ids (and times) of the requests in `status` that `scope` keeps (access.facility_scope_sql on
    r.facility_id), at one facility with `facility_id`, oldest first; `vendor`: the connection's."""
    where, params = scope
    where, params = f"({where}) AND r.status = %s", [*params, status]
    if facility_id is not None:
        where, params = f"{where} AND r.facility_id = %s", [*params, facility_id]
    from_ = QUEUE_FROM_MYSQL if vendor == "mysql" else QUEUE_FROM
    return QUEUE_IDS.rows(from_, where, params, model=HisLinkRequest, ordering=("created_at", "id"))
