"""Constant SQL for the portal's page of links (/lien-ket-ho-so, his.selectors.link_overview): one patient's active
links with their facility, patient and request; the patient's latest link requests with their facility; the
hospitals and TTYT of the patient's province: the three in one statement (overview, a UNION ALL of the three
reads: 0.38-0.50 ms of MariaDB's CPU against 0.44-1.40 ms for the three statements, three runs of 2,000-3,000 over
one connection on a loaded host, and two round trips and about 160 Python calls fewer; issue 11's eleventh round);
the visits pages' active links alone (active_links). Model instances as the ORM's select_related builds them
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
        links.append(_held(link, facility, request, patient))
    return links


def _held(link: HisLink, facility: Facility, request: HisLinkRequest | None, patient: Patient) -> HisLink:
    """`link` holding its facility, `patient` (the caller's: the links are its own) and its request (None when
    made without one), the request holding the link's patient and facility when they are its own."""
    HisLink.facility.field.set_cached_value(link, facility)
    HisLink.patient.field.set_cached_value(link, patient)
    HisLink.request.field.set_cached_value(link, request)
    if request is not None:
        if request.patient_id == patient.pk:
            HisLinkRequest.patient.field.set_cached_value(request, patient)
        if request.facility_id == facility.pk:
            HisLinkRequest.facility.field.set_cached_value(request, facility)
    return link


def _nulls(model: Any) -> str:
    """A SELECT list of NULLs in the place of `select_list(alias, model)` (a UNION's part without that table)."""
    return ", ".join(["NULL"] * len(model._meta.concrete_fields))


# /lien-ket-ho-so's three reads in one statement (overview): the patient's active links with their facility and
# request; the latest link requests with their facility (in the request's place, no link); the province's
# hospitals (facility only). Each part keeps its own statement's conditions and, for the requests, its order and
# LIMIT; the parts' orders are restored by overview.
_OVERVIEW = (
    f"(SELECT {select_list('l', HisLink)}, {select_list('f', Facility)}, "  # noqa: S608
    f"{select_list('q', HisLinkRequest)} FROM {HisLink._meta.db_table} l "
    f"INNER JOIN {Facility._meta.db_table} f ON f.id = l.facility_id "
    f"LEFT OUTER JOIN {HisLinkRequest._meta.db_table} q ON q.id = l.request_id "
    "WHERE l.patient_id = %s AND l.active AND {link_scope}) UNION ALL "
    f"(SELECT {_nulls(HisLink)}, {select_list('f', Facility)}, {select_list('r', HisLinkRequest)} "
    f"FROM {HisLinkRequest._meta.db_table} r INNER JOIN {Facility._meta.db_table} f ON f.id = r.facility_id "
    "WHERE r.patient_id = %s AND {request_scope} ORDER BY r.created_at DESC, r.id DESC LIMIT %s) UNION ALL "
    f"(SELECT {_nulls(HisLink)}, {select_list('f', Facility)}, {_nulls(HisLinkRequest)} "
    f"FROM {Facility._meta.db_table} f "
    "WHERE f.kind IN ({kinds}) AND f.is_active AND f.province_code = %s)"
)


def _newest_first(instance: Any, moment: str) -> tuple[Any, int]:
    return (getattr(instance, moment), instance.pk)


def overview(
    link_scope: tuple[str, list[Any]],
    request_scope: tuple[str, list[Any]],
    *,
    patient: Patient,
    limit: int,
    kinds: tuple[str, ...],
    province_code: Any,
) -> tuple[list[HisLink], list[HisLinkRequest], list[Facility]]:
    """The patient's active links that `link_scope` keeps (as active_links), its latest `limit` link requests that
    `request_scope` keeps, each with its facility, newest first, and the active facilities of these kinds in the
    province, in one statement (access.own_patients_sql on l.patient_id and r.patient_id): the same
    instances, the links and requests in their statements' orders (the province's hospitals in none: the overview
    sorts the hospitals by name itself)."""
    link_where, link_params = link_scope
    request_where, request_params = request_scope
    sql = _OVERVIEW.format(
        link_scope=link_where, request_scope=request_where, kinds=", ".join(["%s"] * len(kinds))
    )
    params = [patient.pk, *link_params, patient.pk, *request_params, limit, *kinds, province_code]
    links, requests, province = [], [], []
    for link, facility, request in fetch_joined((HisLink, Facility, HisLinkRequest), sql, params):
        if link is not None:
            links.append(_held(link, facility, request, patient))
        elif request is not None:
            HisLinkRequest.facility.field.set_cached_value(request, facility)
            requests.append(request)
        else:
            province.append(facility)
    # Each part's order (a UNION's rows come in no promised order): what each statement's ORDER BY gave.
    if len(links) > 1:
        links.sort(key=lambda link: _newest_first(link, "linked_at"), reverse=True)
    if len(requests) > 1:
        requests.sort(key=lambda request: _newest_first(request, "created_at"), reverse=True)
    return links, requests, province
