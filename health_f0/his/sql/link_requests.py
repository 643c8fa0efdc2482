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
