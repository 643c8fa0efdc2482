"""The desk's five worklists cost the same number of queries with N rows as with 3N (issue 11): the registration
queue, the monitoring board (and its silent list), the booking desk's worklist, reception (the check-in search and
today's queue) and the HIS linker's queue. Each page is rendered as the role that works it, once to warm the
per-process caches, then with N rows and with 3N rows."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from health_f0.appointments import services as appointment_services
from health_f0.appointments.models import Appointment
from health_f0.facilities.models import Facility
from health_f0.registration.models import Registration
from health_f0.registration.services import RegistrationInput, _create, registration_validate
from tests.desk.test_appointments import kham_noi, new_patient, online_request
from tests.desk.test_his_desk import waiting
from tests.desk.test_monitoring import add_episodes, declare

pytestmark = pytest.mark.django_db

N = 3


def queries(client: Any, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return [q["sql"] for q in ctx.captured_queries]


def assert_constant(client: Any, url: str, add: Callable[[int, int], Any]) -> int:
    """Rows [0, N) then [N, 3N): the page asks as many queries with 3N rows as with N. Each count is the second
    rendering, so a per-process or Redis cache filled by the first (content types, the sidebar's badges) is
    not counted as a per-row query."""
    add(0, N)
    queries(client, url)  # warm: content types, the session, per-process rule caches
    few = queries(client, url)
    add(N, 3 * N)
    queries(client, url)  # new rows change cached counts (the sidebar's priority badge): warm again
    many = queries(client, url)
    assert len(many) == len(few), "\n".join(
        difflib.unified_diff([q[:200] for q in few], [q[:200] for q in many], lineterm="", n=1)
    )
    return len(few)


# --- Registrations queue ------------------------------------------------------------------------------

QUEUE = "/desk/registration/registration/?status__exact=submitted"


WORDS = ["An", "Bình", "Cúc", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Minh", "Nga", "Phúc", "Quân"]


def _registrations(start: int, end: int) -> None:
    """Web registrations waiting at TYT-10510, numbered from `start` (distinct names and phones)."""
    station = Facility.objects.get(code="TYT-10510")
    for i in range(start, end):
        data = registration_validate(
            RegistrationInput(
                full_name=f"Người Đăng Ký {WORDS[i % len(WORDS)]} {WORDS[i // len(WORDS)]}",
                date_of_birth=date(1950, 1, 1) + timedelta(days=400 * i),
                sex="female",
                phone=f"0978{200000 + i:06d}",
                province_code=31,
                ward_code=10510,
                test_type="rapid",
                positive_date=timezone.localdate(),
                care="self_care",
                consent=True,
                spo2=93 if i % 3 == 0 else 98,  # some need the hospital: the priority flag
                breathing_rate=16,
                vaccine_doses=2,
            )
        )
        _create(data, channel="web", facility=station, actor=None)


@pytest.mark.parametrize("username", ["thanhdong.nv", "ttyt.lanhdao"])
def test_registration_queue(desk: Any, username: str) -> None:
    assert_constant(desk(username), QUEUE, _registrations)
    assert Registration.objects.filter(facility__code="TYT-10510", status="submitted").count() >= 3 * N


# --- The monitoring board and its silent list ---------------------------------------------------------

BOARD = "/desk/monitoring/episode/board/"
SILENT = "/desk/monitoring/episode/chua-khai-bao/"


def _episodes(start: int, end: int) -> None:
    episodes = add_episodes(end - start, start=start)
    for i, episode in enumerate(episodes[:2]):  # open alerts on some: alert cards
        declare(episode.patient, f"q{start + i}", temperature="38.6")


@pytest.mark.parametrize("username", ["thanhdong.nv", "ttyt.lanhdao"])
def test_board(desk: Any, username: str) -> None:
    url = f"{BOARD}?facility={Facility.objects.get(code='TYT-10510').pk}"
    assert_constant(desk(username), url, _episodes)


def test_silent_list(desk: Any) -> None:
    assert_constant(desk("thanhdong.nv"), SILENT, _episodes)


# --- Appointments: the booking desk's worklist, reception's search and today's queue --------------------

APPOINTMENTS = "/desk/appointments/appointment/"
WORKLIST = APPOINTMENTS + "dat-lich/"
CHECKIN = APPOINTMENTS + "tiep-don/"
TODAYS_QUEUE = APPOINTMENTS + "hang-doi/"


@pytest.fixture
def _appointments(appointments_demo: Any) -> None:
    pass


@pytest.mark.usefixtures("_appointments")
def test_booking_worklist(desk: Any, persona: Any) -> None:
    datlich = persona("datlich")

    def add(start: int, end: int) -> None:
        for i in range(start, end):
            patient = new_patient(f"Người Chờ Duyệt {WORDS[i]}", f"+8491400000{i}")
            online_request(patient, kham_noi(), datlich, index=i)
            # A past visit and a no-show: the worklist shows the patient's record.
            for status in ("completed", "no_show"):
                past = online_request(patient, kham_noi(), datlich, index=20 + 2 * i)
                Appointment.objects.filter(pk=past.pk).update(status=status)

    assert_constant(desk("datlich"), WORKLIST, add)


def _booked_today(start: int, end: int, datlich: Any) -> list[Appointment]:
    from tests.desk.test_appointments import free_slots

    booked = []
    slots = free_slots(kham_noi())
    for i in range(start, end):
        patient = new_patient(f"Người Đến Khám {WORDS[i]}", f"+8491500000{i:02d}")
        appointment = appointment_services.appointment_book(
            patient=patient, service=kham_noi(), slot_start=slots[i].start, channel="phone", actor=datlich
        )
        booked.append(appointment)
    now = timezone.now()
    Appointment.objects.filter(pk__in=[a.pk for a in booked]).update(slot_start=now)
    return booked


@pytest.mark.usefixtures("_appointments")
def test_reception_search(desk: Any, persona: Any) -> None:
    datlich = persona("datlich")

    def add(start: int, end: int) -> None:
        _booked_today(start, end, datlich)

    assert_constant(desk("tiepdon"), CHECKIN + "?q=Người Đến Khám", add)


@pytest.mark.usefixtures("_appointments")
def test_todays_queue(desk: Any, persona: Any) -> None:
    datlich, tiepdon = persona("datlich"), persona("tiepdon")

    def add(start: int, end: int) -> None:
        for appointment in _booked_today(start, end, datlich):
            appointment_services.appointment_check_in(code=appointment.check_in_code, actor=tiepdon)
        appointment_services.queue_call_next(service=kham_noi(), actor=tiepdon)

    assert_constant(desk("tiepdon"), TODAYS_QUEUE + f"?service={kham_noi().pk}", add)


# --- The HIS linker's queue -----------------------------------------------------------------------------

HIS_QUEUE = "/desk/his/hislinkrequest/hang-cho/"


@pytest.fixture
def _no_fhir(settings: Any) -> None:
    settings.HIS_FHIR_BASE_URL = ""


@pytest.mark.usefixtures("_no_fhir")
def test_his_link_queue(desk: Any, persona: Any) -> None:
    def add(start: int, end: int) -> None:
        for _ in range(start, end):
            waiting(persona)

    assert_constant(desk("lienket.his"), HIS_QUEUE, add)
