"""Issue 9, items 12 and 13: the SMS short links (/h/<code>) and the walk-in's ticket page.

A short code carries no personal data, is drawn from a large unambiguous space, and only redirects: the
booking page behind it keeps its OTP gate, the ticket page shows a queue place and nothing about the person.
Unknown codes are counted per client address, so nobody can walk the code space."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from health_f0.appointments import services
from health_f0.appointments.models import Appointment, Service
from health_f0.appointments.tests.conftest import make_patient, make_service
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

AMBIGUOUS = set("01ILO")


@pytest.fixture(autouse=True)
def _fresh_counters() -> None:
    cache.clear()


@pytest.fixture
def service(demo: Any) -> Service:
    return make_service(Facility.objects.get(code="PK-NOI1"), booked_priority="arrival")


def _walk_in(service: Service, reception: Any, name: str = "Vũ Thị Ngọc Ánh") -> Appointment:
    patient = make_patient(Facility.objects.get(code="TYT-10510"), name)
    return services.walk_in_register(patient=patient, service=service, actor=reception)


def _booking(service: Service, desk: Any) -> Appointment:
    from health_f0.appointments import selectors

    slot = next(
        s
        for s in selectors.slots_free(
            service=service,
            start=timezone.localdate() + timezone.timedelta(days=3),
            end=timezone.localdate() + timezone.timedelta(days=10),
            for_staff=True,
        )
        if s.free
    )
    patient = make_patient(Facility.objects.get(code="TYT-10510"), "Hoàng Văn Bảo")
    return services.appointment_book(
        patient=patient, service=service, slot_start=slot.start, channel="phone", actor=desk
    )


def _text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_codes_are_long_random_unambiguous_and_say_nothing_about_the_person(
    service: Service, persona: Any
) -> None:
    assert len(services.LINK_CODE_ALPHABET) == 31 and not AMBIGUOUS & set(services.LINK_CODE_ALPHABET)
    assert services.LINK_CODE_LENGTH == 8  # 31^8 = 8.5e11 codes
    reception = persona("tiepdon")
    tickets = [_walk_in(service, reception, f"Người Thứ {chr(65 + i)}") for i in range(12)]
    codes = [t.link_code for t in tickets]
    assert len(set(codes)) == len(codes)
    for ticket in tickets:
        assert len(ticket.link_code) == 8 and set(ticket.link_code) <= set(services.LINK_CODE_ALPHABET)
        assert ticket.link_code != ticket.check_in_code
        digits = re.sub(r"\D", "", ticket.patient.phone)
        assert ticket.link_code not in digits and str(ticket.queue_number) != ticket.link_code


def test_a_booking_link_leads_to_the_otp_gate_and_shows_nothing_more(service: Service, persona: Any) -> None:
    booking = _booking(service, persona("datlich"))
    client = Client()
    response = client.get(f"/h/{booking.link_code.lower()}")
    assert response.status_code == 302 and response["Location"] == f"/lich-hen/{booking.public_id}"
    assert response["X-Robots-Tag"] == "noindex" and "no-store" in response["Cache-Control"]
    gate = client.get(response["Location"])
    page = _text(gate)
    assert gate.status_code == 200 and "OTP" in page
    assert booking.patient.full_name not in page and booking.check_in_code not in page
    # The ticket page exists for walk-ins only: a booking's number stays behind the gate.
    assert client.get(f"/so-thu-tu/{booking.public_id}").status_code == 404


def test_a_walk_in_ticket_shows_the_queue_place_and_no_personal_data(service: Service, persona: Any) -> None:
    reception = persona("tiepdon")
    first = _walk_in(service, reception, "Đinh Văn Một")
    ticket = _walk_in(service, reception)
    response = Client().get(f"/h/{ticket.link_code}")
    assert response.status_code == 302 and response["Location"] == f"/so-thu-tu/{ticket.public_id}"
    page_response = Client().get(response["Location"])
    page = _text(page_response)
    assert page_response.status_code == 200 and "noindex" in page_response.content.decode()
    assert "Số thứ tự của bạn 2" in page and "Còn 1 người trước bạn" in page and "Khám Nội" in page
    patient: Patient = ticket.patient
    assert (
        patient.full_name not in page and patient.phone[-9:] not in page and ticket.check_in_code not in page
    )
    # Nothing to act on: the only form is the site's language switch.
    assert page_response.content.decode().count("<form") == 1 and 'action="/i18n/setlang/"' in (
        page_response.content.decode()
    )
    services.queue_call_next(service=service, actor=reception)
    assert "Bạn là người tiếp theo" in _text(Client().get(response["Location"]))
    services.queue_call_next(service=service, actor=reception)
    assert "mời vào phòng khám" in _text(Client().get(response["Location"]))
    services.appointment_complete(appointment=ticket, actor=reception)
    assert "Lượt khám đã xong" in _text(Client().get(response["Location"]))
    assert first.pk != ticket.pk


def test_unknown_codes_are_limited_per_client_address(service: Service, persona: Any, settings: Any) -> None:
    settings.SHORT_LINK_MISSES_PER_WINDOW = 5
    ticket = _walk_in(service, persona("tiepdon"))
    walker = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(5):
        response = walker.get(f"/h/ABCDEFG{services.LINK_CODE_ALPHABET[i]}")
        assert response.status_code == 404 and "Không tìm thấy" in _text(response)
    blocked = walker.get(f"/h/{ticket.link_code}")
    assert blocked.status_code == 429 and blocked["Retry-After"]
    assert "Bạn đã thử quá nhiều" in _text(blocked)
    # Someone else in the same waiting hall (another address) is not affected; garbage is a 404, never a 500.
    other = Client(REMOTE_ADDR="203.0.113.8")
    assert other.get(f"/h/{ticket.link_code}").status_code == 302
    assert other.get("/h/%3Cscript%3E").status_code == 404
    assert other.get("/h/" + "A" * 300).status_code == 404


def test_a_walk_in_link_of_the_old_form_opens_its_ticket(service: Service, persona: Any) -> None:
    ticket = _walk_in(service, persona("tiepdon"))
    response = Client().get(f"/lich-hen/{ticket.public_id}")
    assert response.status_code == 302 and response["Location"] == f"/so-thu-tu/{ticket.public_id}"
    assert Client().post(f"/lich-hen/{ticket.public_id}", {"action": "otp"}).status_code == 404
