"""Issue 8, item 6: every online consultation has its own unguessable room, shown to the patient and the
doctor only, only from shortly before its time; the online booking's page and SMS carry that link and no
reception QR code or street address."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments import reminders, selectors, services, texts
from health_f0.appointments.models import Appointment, Channel, Service
from health_f0.appointments.tests.conftest import MONDAY, NOW, local
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db
SHARED_ROOM = "ttyt-haiduong-tuvan"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def online(appointments_demo: Any) -> Service:
    return Service.objects.get(code="tu-van-online")


@pytest.fixture
def patient(appointments_demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")


def _book(service: Service, patient: Patient, hour: int = 19, minute: int = 0) -> Appointment:
    return services.appointment_book(
        patient=patient,
        service=service,
        slot_start=local(MONDAY, hour, minute),
        channel=Channel.WEB,
        actor=patient.account,
        now=NOW,
    )


def _move_to(appointment: Appointment, starts_in: timedelta) -> Appointment:
    """Put a booked consultation at `starts_in` from the real clock (pages read timezone.now())."""
    start = timezone.now() + starts_in
    Appointment.objects.filter(pk=appointment.pk).update(
        slot_start=start, slot_end=start + timedelta(minutes=appointment.service.duration_minutes)
    )
    appointment.refresh_from_db()
    return appointment


def _room_url(appointment: Appointment) -> str:
    url = selectors.meeting_url(appointment)
    assert url.startswith(settings.VIDEO_MEETING_BASE_URL.rstrip("/") + "/"), url
    return url


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_each_online_booking_gets_its_own_unguessable_room(
    online: Service, patient: Patient, persona: Any
) -> None:
    other = Patient.objects.create(
        full_name="Lê Văn Nam",
        date_of_birth=patient.date_of_birth,
        sex="male",
        phone="+84912000777",
        province_code=31,
        ward_code=10510,
        facility=patient.facility,
    )
    desk = persona("datlich")
    first = _book(online, patient)
    second = services.appointment_book(
        patient=other,
        service=online,
        slot_start=local(MONDAY, 19, 20),
        channel=Channel.PHONE,
        actor=desk,
        now=NOW,
    )
    rooms = {_room_url(first), _room_url(second)}
    assert len(rooms) == 2
    for url in rooms:
        name = url.rsplit("/", 1)[1]
        # 128 random bits, URL-safe and case-insensitive (Jitsi folds room names to lower case).
        assert re.fullmatch(r"[a-z0-9-]{26,}", name), name
        assert SHARED_ROOM not in url
    # The shared public room is gone from the demo data and from the service's fields.
    assert SHARED_ROOM not in (ROOT / "fixtures" / "appointments_demo.json").read_text(encoding="utf-8")
    assert "meeting_url" not in {field.name for field in Service._meta.get_fields()}
    # An examination in a clinic room has no video room.
    visit = services.appointment_book(
        patient=other,
        service=Service.objects.get(code="kham-noi"),
        slot_start=local(MONDAY, 9),
        channel=Channel.PHONE,
        actor=desk,
        now=NOW,
    )
    assert selectors.meeting_url(visit) == ""


def test_the_link_shows_only_from_shortly_before_the_slot_until_its_end(
    online: Service, patient: Patient
) -> None:
    appointment = _book(online, patient)
    opens = appointment.slot_start - timedelta(minutes=settings.VIDEO_ROOM_OPEN_MINUTES)
    assert selectors.meeting_link(appointment=appointment, now=opens - timedelta(minutes=1)) is None
    assert selectors.meeting_link(appointment=appointment, now=opens) == _room_url(appointment)
    assert selectors.meeting_link(appointment=appointment, now=appointment.slot_end) == _room_url(appointment)
    assert (
        selectors.meeting_link(appointment=appointment, now=appointment.slot_end + timedelta(seconds=1))
        is None
    )

    client = _client(patient.account)
    page_url = reverse("www:appointment", args=[appointment.public_id])
    _move_to(appointment, timedelta(hours=2))
    early = client.get(page_url).content.decode()
    assert _room_url(appointment) not in early
    assert "phòng tư vấn" in early.lower()  # says when the link will appear
    _move_to(appointment, timedelta(minutes=5))
    soon = client.get(page_url).content.decode()
    assert _room_url(appointment) in soon
    _move_to(appointment, -timedelta(hours=1))
    assert _room_url(appointment) not in client.get(page_url).content.decode()
    # The API gives the mobile app the same link at the same moments only.
    from rest_framework.test import APIClient

    from health_f0.api.services import api_token_issue

    raw, _token = api_token_issue(user=patient.account)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get(f"/api/v1/appointments/{appointment.public_id}").json()["meeting_url"] is None
    _move_to(appointment, timedelta(minutes=5))
    assert api.get(f"/api/v1/appointments/{appointment.public_id}").json()["meeting_url"] == _room_url(
        appointment
    )


def test_online_booking_page_has_no_reception_qr_code_nor_street_address(
    online: Service, patient: Patient
) -> None:
    appointment = _move_to(_book(online, patient), timedelta(minutes=5))
    page = _client(patient.account).get(reverse("www:appointment", args=[appointment.public_id]))
    html = page.content.decode()
    assert page.status_code == 200
    assert _room_url(appointment) in html
    code = appointment.check_in_code
    assert (
        code not in html and f"{code[:4]} {code[4:]}" not in html and "<svg" not in html.split("<main", 1)[1]
    )
    address = appointment.facility.address or appointment.facility.parent.address
    assert address and address not in html
    # The link leaves no trace of the booking's page with the video service.
    assert 'rel="noopener noreferrer"' in html


def test_the_doctor_sees_the_room_on_the_desk_other_staff_do_not(
    online: Service, patient: Patient, persona: Any
) -> None:
    appointment = _move_to(_book(online, patient), timedelta(minutes=5))
    url = reverse("admin:appointments_appointment_change", args=[appointment.pk])
    doctor_page = _client(persona("bacsi.noi")).get(url)
    assert doctor_page.status_code == 200
    assert _room_url(appointment) in doctor_page.content.decode()
    desk_page = _client(persona("datlich")).get(url)
    assert desk_page.status_code == 200
    assert _room_url(appointment) not in desk_page.content.decode()
    # Not yet: two hours before, even the doctor sees when it opens, not the link.
    _move_to(appointment, timedelta(hours=2))
    assert _room_url(appointment) not in _client(persona("bacsi.noi")).get(url).content.decode()


def test_sms_of_an_online_booking_carry_the_room_whole_and_no_check_in_code(
    online: Service, patient: Patient, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    # A long portal address: the links must still never be cut.
    settings.PORTAL_URL = "https://chamsocsuckhoe.soyte.haiphong.example.gov.vn"
    with django_capture_on_commit_callbacks(execute=True):
        appointment = _book(online, patient)
    confirmed = OutboxMessage.objects.filter(to=patient.phone, kind="appointment").latest("pk").body
    assert "tiep don" not in confirmed.lower() and appointment.check_in_code not in confirmed
    assert texts.short_link(appointment) in confirmed
    # The reminders carry the room whole, the last one as the room opens.
    kinds = set(appointment.reminders.values_list("kind", flat=True))
    assert "room" in kinds
    sent = reminders.reminders_send_due(now=appointment.slot_start - timedelta(minutes=10))
    assert sent >= 1
    bodies = [
        m.body
        for m in OutboxMessage.objects.filter(to=patient.phone, kind="appointment_reminder").order_by("pk")
    ]
    assert bodies and all(_room_url(appointment) in body for body in bodies)
    assert all(texts.short_link(appointment) in body for body in bodies)
    assert all(len(body) <= 306 for body in bodies)


def test_render_never_cuts_a_link() -> None:
    link = (
        "https://chamsocsuckhoe.soyte.haiphong.example.gov.vn/lich-hen/0f4c3a34-58d8-4d1e-9a0c-8e7e2b3f9b11"
    )
    body = texts.render(
        "reminder",
        label="TTYT khu vuc Hai Duong",
        what="kham",
        service="Tu van suc khoe truc tuyen cho nguoi benh man tinh",
        when="19:00 23/11/2026",
        days=0,
        link=link,
    )
    assert link in body


def test_demo_fixture_has_no_shared_room() -> None:
    data = json.loads((ROOT / "fixtures" / "appointments_demo.json").read_text(encoding="utf-8"))
    assert all("meeting_url" not in row for row in data["services"])
