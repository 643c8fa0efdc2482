"""The booking desk's HTML worklist does not hang on the optimizer's choice of plan (issue 11, eighth round).

Its page's ids and count come from a statement that names the (status, created_at) index on MariaDB/MySQL
(appointments.sql.worklist.requested_ids): as an ORM query, a page of 20 at the largest TTYT of the 100k data made
MariaDB walk the plain created_at index from the oldest booking of all, a page of 50 did not. The page's bookings
are then loaded by id through selectors.desk_worklist (core.idpages.IdPages): the pages, the count and the HTML
must be the ORM queryset's, for every persona of the access matrix (restricted patient A hidden from the booking
desk), at several page sizes, on every page, past the last one and on an empty list."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.paginator import Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health_f0.appointments import selectors
from health_f0.appointments.desk import worklist as worklist_pages
from health_f0.appointments.models import Appointment
from health_f0.appointments.sql import worklist
from health_f0.facilities.models import Facility
from tests.desk.test_appointments import kham_noi, new_patient, online_request
from tests.security.test_restricted import _fresh, matrix, restricted  # noqa: F401 - the fixtures
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

WORKLIST = "/desk/appointments/appointment/dat-lich/"
HINT = "USE INDEX FOR ORDER BY (appt_status_created, appt_facility_status_created)"
# A scope of many clinics (the TTYT's booking desk: core.sqllist.ScopedFrom) forces the status's index, which
# covers the statement's columns and tests the clinic in it (tenth round).
FORCED = "FROM appointments_appointment a FORCE INDEX (appt_status_created) WHERE"
CSRF = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]+(")')
NAMES = ["An", "Bình", "Cúc", "Dũng", "Giang", "Hà", "Khánh"]


@pytest.fixture
def waiting(request: Any, persona: Any) -> dict[str, Any]:
    """The matrix's requests (patient A's restricted) and seven more at Khám Nội, three of them asked at the
    same moment (the id breaks the tie), one patient with a past visit and a no-show."""
    records: dict[str, Any] = request.getfixturevalue("restricted")
    datlich = persona("datlich")
    same = timezone.now() - timedelta(hours=30)
    for i, name in enumerate(NAMES):
        patient = new_patient(f"Người Chờ Trang {name}", f"+8491600000{i}")
        booking = online_request(patient, kham_noi(), datlich, index=i, hours_ago=2 + 5 * i)
        if i in (1, 3, 5):
            Appointment.objects.filter(pk=booking.pk).update(created_at=same)
        if i == 0:
            for status, index in (("completed", 10), ("no_show", 11)):
                past = online_request(patient, kham_noi(), datlich, index=index)
                Appointment.objects.filter(pk=past.pk).update(status=status)
    return records


def _shown(rows: Any) -> list[tuple[Any, ...]]:
    """What the page shows of each booking: its id, the patient's counts, the joined and prefetched rows."""
    return [
        (
            a.pk,
            a.past_visits,
            a.past_no_shows,
            a.patient.full_name,
            a.doctor.full_name if a.doctor else None,
            a.service.name,
            a.service.facility.name,
            a.created_at,
        )
        for a in rows
    ]


@pytest.mark.parametrize("username", PERSONAS)
def test_the_pages_are_the_querysets(username: str, waiting: dict[str, Any]) -> None:
    user = _fresh(username)
    orm = selectors.desk_worklist(user=user)
    total = orm.count()
    assert selectors.desk_worklist_pages(user=user).count() == total
    for size in (1, 2, 3, 50):
        old = Paginator(orm, size)
        new = Paginator(selectors.desk_worklist_pages(user=user), size)
        assert (new.count, new.num_pages) == (old.count, old.num_pages)
        # Every page, the one past the last (the last again) and one that is not a number (the first).
        for number in (*range(1, old.num_pages + 1), old.num_pages + 1, "x"):
            assert _shown(new.get_page(number)) == _shown(old.get_page(number)), (size, number)
    listing = selectors.desk_worklist_pages(user=user)
    assert listing[total : total + 5] == []
    assert _shown(listing[0:total]) == _shown(orm)
    ids = {a.pk for a in listing}
    appt_a = waiting["appt_a"].pk
    if username in ("datlich", "tiepdon"):
        assert total >= 7 and appt_a not in ids  # restricted patient A: not for the booking desk, reception
    if username == "admin":
        assert appt_a in ids
    if username in ("thanhdong.nv", "ketoan", "bacsi.dieutri"):
        assert total == 0 and listing[0:50] == []  # no booking desk role: an empty list


# A statement that cuts a page: its own ORDER BY ... LIMIT at the end (not a subquery's ORDER BY NULL or an
# EXISTS' LIMIT 1).
PAGE_CUT = re.compile(r"ORDER BY [^()]*LIMIT \d+(?: OFFSET \d+)?$")


def paged(queries: Any, table: str) -> list[str]:
    """The statements on `table` among `queries` that cut a page."""
    return [q["sql"] for q in queries.captured_queries if table in q["sql"] and PAGE_CUT.search(q["sql"])]


def _page_statements(client: Any, url: str) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), paged(queries, "appointments_appointment")


@pytest.mark.parametrize("size", [2, 20, 50])
def test_the_page_is_read_in_the_order_index(
    size: int, waiting: dict[str, Any], desk: Any, monkeypatch: Any
) -> None:
    """Whatever the page's size, the one statement that cuts the page names the order's index on MariaDB/MySQL
    (the ORM's page statement named none, and its plan depended on the LIMIT); the bookings are then read by
    id, with no ORDER BY ... LIMIT of their own."""
    monkeypatch.setattr(worklist_pages, "PAGE_SIZE", size)
    client = desk("datlich")
    for page in ("1", "2"):
        html, ordered = _page_statements(client, f"{WORKLIST}?p={page}")
        assert "Người Chờ Trang" in html
        (statement,) = ordered
        # The TTYT's booking desk sees its clinics: a scope of many, the status's index forced.
        assert (FORCED in statement) == (connection.vendor == "mysql"), statement
        assert HINT not in statement
        assert "ORDER BY a.created_at ASC, a.id ASC LIMIT" in statement
    assert connection.vendor == "mysql" or "USE INDEX" not in worklist.FROM_IDS


@pytest.mark.skipif(connection.vendor != "mysql", reason="MariaDB's index hints")
def test_the_ids_statement_hint_follows_the_scope_size(waiting: dict[str, Any]) -> None:
    """requested_ids names MariaDB's choice of both order indexes for a scope of one clinic and forces the
    status's index (a covering read, the clinic tested in the index) for a scope of many; its count keeps the
    few form. The rows are the same either way."""
    from django.contrib.auth import get_user_model

    from health_f0.facilities import access
    from health_f0.facilities.models import Membership, Role

    many = _fresh("datlich")
    assert access.scope_size(many, access.BOOKING_DESK_ROLES) >= 2
    one = get_user_model().objects.create_user(username="datlich-one-clinic", password="x")
    Membership.objects.create(user=one, facility=kham_noi().facility, role=Role.BOOKING_DESK)
    one = _fresh(one.username)
    assert access.scope_size(one, access.BOOKING_DESK_ROLES) == 1
    for user, expected in ((many, FORCED), (one, HINT)):
        ids = worklist.requested_ids(user=user, roles=access.BOOKING_DESK_ROLES)
        with CaptureQueriesContext(connection) as queries:
            rows = ids.fetch(ordering=("created_at", "id"), limit=50)
            count = ids.count()
        page, counted = (q["sql"] for q in queries.captured_queries)
        assert expected in page, page
        assert "FORCE INDEX" not in counted and HINT in counted, counted
        orm = selectors.desk_worklist(user=user)
        assert [row["id"] for row in rows] == list(orm.values_list("id", flat=True)[:50])
        assert count == orm.count()


@pytest.mark.parametrize("username", ["datlich", "admin"])
@pytest.mark.parametrize("size", [3, 50])
def test_the_html_is_the_orm_pages(
    username: str, size: int, waiting: dict[str, Any], desk: Any, monkeypatch: Any
) -> None:
    """The page rendered from the ids is the page rendered from the ORM queryset, byte for byte (CSRF masks
    differ on every response), on each page and past the last."""
    monkeypatch.setattr(worklist_pages, "PAGE_SIZE", size)
    client = desk(username)
    pages = max(1, -(-selectors.desk_worklist(user=_fresh(username)).count() // size))
    rendered: dict[str, list[str]] = {"ids": [], "orm": []}
    for number in range(1, pages + 2):
        url = f"{WORKLIST}?p={number}"
        with monkeypatch.context() as patch:
            rendered["ids"].append(CSRF.sub(r"\1\2", client.get(url).content.decode()))
            patch.setattr(selectors, "desk_worklist_pages", selectors.desk_worklist)
            rendered["orm"].append(CSRF.sub(r"\1\2", client.get(url).content.decode()))
    assert rendered["ids"] == rendered["orm"]
    assert "Người Chờ Trang" in "".join(rendered["ids"])


# --- The HIS linker's queue (his.desk.requests: hang-cho) --------------------------------------------------

HIS_QUEUE = "/desk/his/hislinkrequest/hang-cho/"
QUEUE_HINT = "USE INDEX FOR ORDER BY (his_hislink_facilit_44bf09_idx)"


@pytest.fixture
def linking(demo: Any, persona: Any, settings: Any) -> list[Any]:
    """Five requests waiting for the linker at TTYT-HD (two asked at the same moment), one at another hospital
    with its own linker."""
    from health_f0.his.models import HisLinkRequest
    from tests.desk.test_his_desk import other_linker, waiting

    settings.HIS_FHIR_BASE_URL = ""
    requests = [waiting(persona) for _ in range(5)]
    same = timezone.now() - timedelta(hours=3)
    HisLinkRequest.objects.filter(pk__in=[requests[1].pk, requests[3].pk]).update(created_at=same)
    other = other_linker(Facility.objects.get(code="TTYT-HD"))
    elsewhere = waiting(persona)
    HisLinkRequest.objects.filter(pk=elsewhere.pk).update(facility=other.memberships.get().facility)
    return requests


@pytest.mark.parametrize("username", ["lienket.his", "lienket.bvkhac", "admin", "tiepdon", "datlich"])
def test_the_link_queue_pages_are_the_querysets(username: str, linking: list[Any]) -> None:
    from health_f0.core.idpages import IdPages
    from health_f0.his import selectors as his_selectors

    user = _fresh(username)
    for facility in (None, Facility.objects.get(code="TTYT-HD"), Facility.objects.get(code="BV-KHAC")):
        orm = his_selectors.link_queue(user=user, facility=facility)
        total = orm.count()
        for size in (1, 2, 3, 20):
            old = Paginator(orm, size)
            new = Paginator(IdPages(his_selectors.link_queue_ids(user=user, facility=facility), orm), size)
            assert (new.count, new.num_pages) == (old.count, old.num_pages)
            for number in (*range(1, old.num_pages + 1), old.num_pages + 1, "x"):
                shown = [(r.pk, r.patient.full_name, r.facility.code) for r in new.get_page(number)]
                assert shown == [(r.pk, r.patient.full_name, r.facility.code) for r in old.get_page(number)]
        if username == "lienket.his" and facility is None:
            assert total == 5
        if username in ("tiepdon", "datlich"):
            assert total == 0  # not linkers: an empty queue


@pytest.mark.parametrize("size", [2, 20])
def test_the_link_queue_is_read_in_the_order_index(
    size: int, linking: list[Any], desk: Any, monkeypatch: Any
) -> None:
    """The queue's page statement names the filter's index for the order on MariaDB/MySQL, whatever the page's
    size; and the page it renders is the ORM queryset's, byte for byte (CSRF masks apart)."""
    from health_f0.his.desk import requests as his_pages

    monkeypatch.setattr(his_pages, "QUEUE_PAGE_SIZE", size)
    client = desk("lienket.his")
    for page in ("1", "2", "4"):
        url = f"{HIS_QUEUE}?p={page}"
        with CaptureQueriesContext(connection) as queries:
            html = client.get(url).content.decode()
        (statement,) = paged(queries, "his_hislinkrequest")
        assert (QUEUE_HINT in statement) == (connection.vendor == "mysql"), statement
        with monkeypatch.context() as patch:
            patch.setattr(his_pages, "IdPages", lambda ids, rows: rows)
            orm_html = client.get(url).content.decode()
        assert CSRF.sub(r"\1\2", html) == CSRF.sub(r"\1\2", orm_html)
