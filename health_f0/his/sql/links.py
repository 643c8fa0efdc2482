"""Constant SQL for the portal's page of links (/lien-ket-ho-so, his.selectors.link_overview): one patient's
active links with their facility, patient and request; the patient's latest link requests with their facility;
the hospitals and TTYT of the patient's province. Model instances as the ORM's select_related builds them
(core.rawsql.fetch_joined), so the page and the link workflow (his.transitions.link_actions) read them as before,
without a query per active link for its request.

Why not the ORM: building and compiling the three querysets, and the link workflow's read of each active link's
request, cost about half of the page's own CPU (docs/benchmarks.md, issue 11's fourth round).
tests/api/test_his_sql.py checks link_overview_sql against link_overview.
"""

from __future__ import annotations

from typing import Any

from health_f0.core.rawsql import fetch_joined, select_list
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLink, HisLinkRequest
from health_f0.patients.models import Patient

# The links' patient is the caller's (the statement reads one patient's links): not read again.
_LINKS = (
    f"SELECT {select_list('l', HisLink)}, {select_list('f', Facility)}, "  # noqa: S608
    f"{select_list('q', HisLinkRequest)} FROM {HisLink._meta.db_table} l "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = l.facility_id "
    f"LEFT OUTER JOIN {HisLinkRequest._meta.db_table} q ON q.id = l.request_id "
    "WHERE l.patient_id = %s AND l.active AND {scope} ORDER BY l.linked_at DESC, l.id DESC"
)


_LINKS_ONLY = (
    f"SELECT {select_list('l', HisLink)}, {select_list('f', Facility)} FROM {HisLink._meta.db_table} l "  # noqa: S608
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = l.facility_id "
    "WHERE l.patient_id = %s AND l.active AND {scope} ORDER BY l.linked_at DESC, l.id DESC"
)


def active_links(scope: tuple[str, list[Any]], *, patient: Patient, related: bool = True) -> list[HisLink]:
    """The patient's active links that `scope` keeps (access.own_patients_sql on l.patient_id), newest first
    (HisLink's ordering), each with its facility and, with `related`, `patient` (the caller's instance: the
    links are its own) and its request (None when made without one), the request with the link's patient and
    facility when they are its own."""
    where, params = scope
    if not related:
        found = fetch_joined((HisLink, Facility), _LINKS_ONLY.format(scope=where), [patient.pk, *params])
        for link, facility in found:
            HisLink.facility.field.set_cached_value(link, facility)
        return [link for link, _facility in found]
    links = []
    for link, facility, request in fetch_joined(
        (HisLink, Facility, HisLinkRequest), _LINKS.format(scope=where), [patient.pk, *params]
    ):
        HisLink.facility.field.set_cached_value(link, facility)
        HisLink.patient.field.set_cached_value(link, patient)
        HisLink.request.field.set_cached_value(link, request)
        if request is not None:
            if request.patient_id == patient.pk:
                HisLinkRequest.patient.field.set_cached_value(request, patient)
            if request.facility_id == facility.pk:
                HisLinkRequest.facility.field.set_cached_value(request, facility)
        links.append(link)
    return links


_REQUESTS = (
    f"SELECT {select_list('r', HisLinkRequest)}, {select_list('f', Facility)} "  # noqa: S608
    f"FROM {HisLinkRequest._meta.db_table} r INNER JOIN {Facility._meta.db_table} f ON f.id = r.facility_id "
    "WHERE r.patient_id = %s AND {scope} ORDER BY r.created_at DESC, r.id DESC LIMIT %s"
)


def latest_requests(scope: tuple[str, list[Any]], *, patient_id: int, limit: int) -> list[HisLinkRequest]:
    """The patient's latest `limit` link requests that `scope` keeps (access.own_patients_sql on r.patient_id),
    newest first, each with its facility."""
    where, params = scope
    requests = []
    for request, facility in fetch_joined(
        (HisLinkRequest, Facility), _REQUESTS.format(scope=where), [patient_id, *params, limit]
    ):
        HisLinkRequest.facility.field.set_cached_value(request, facility)
        requests.append(request)
    return requests


_FACILITIES = (
    f"SELECT {select_list('f', Facility)} FROM {Facility._meta.db_table} f "  # noqa: S608
    "WHERE f.kind IN ({kinds}) AND f.is_active AND f.province_code = %s ORDER BY f.name, f.id"
)


def province_facilities(*, kinds: tuple[str, ...], province_code: str) -> list[Facility]:
    """The active facilities of these kinds in the province, by name."""
    sql = _FACILITIES.format(kinds=", ".join(["%s"] * len(kinds)))
    return [facility for (facility,) in fetch_joined((Facility,), sql, [*kinds, province_code])]
