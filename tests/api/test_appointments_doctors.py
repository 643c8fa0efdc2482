# ruff: noqa: F811  (the fixtures imported from test_appointments)
"""Appointments API v1 with doctors, limits per patient and the calendar file: GET /services/{id}/doctors,
GET /slots?doctor=, `doctor` on booking create (id or null = any doctor) and in the booking, the 409
limit codes, GET /appointments/{id}/calendar.ics (own bookings only)."""

from __future__ import annotations

from datetime import UTC, date, time
from typing import Any

import pytest
from rest_framework.test import APIClient

from health_f0.appointments.models import AppointmentPolicy, Doctor, ScheduleTemplate, Service
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from tests.api.test_appointments import (  # noqa: F401  (fixtures)
    APPOINTMENTS,
    SLOTS,
    appt_demo,
    as_patient,
    at,
    book,
    clinic,
    day,
    iso,
    make_account_patient,
    me,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctors(clinic: Service) -> tuple[Doctor, Doctor]:
    """Two doctors on the test service's hours (05:00-06:40) every day, one seat each per slot."""
    made = []
    for title, name in (("ThS.BS", "Nguyễn Văn An"), ("BS.CKI", "Lê Thị Bình")):
        doctor = Doctor.objects.create(facility=clinic.facility, title=title, full_name=name)
        for weekday in range(7):
            ScheduleTemplate.objects.create(
                service=clinic, weekday=weekday, start_time=time(5), end_time=time(6, 40), doctor=doctor
            )
        made.append(doctor)
    Service.objects.filter(pk=clinic.pk).update(capacity_per_slot=1)
    clinic.refresh_from_db()
    return made[0], made[1]


def test_service_doctors_and_slots_per_doctor(
    clinic: Service, doctors: tuple[Doctor, Doctor], day: date, client_api: APIClient
) -> None:
    an, binh = doctors
    listed = client_api.get(f"/api/v1/services/{clinic.public_id}/doctors")
    assert listed.status_code == 200
    assert [(d["display_name"], d["title"]) for d in listed.json()] == [
        ("BS.CKI Lê Thị Bình", "BS.CKI"),
        ("ThS.BS Nguyễn Văn An", "ThS.BS"),
    ]
    assert client_api.get("/api/v1/services/nope/doctors").status_code == 404
    every = client_api.get(SLOTS, {"service": str(clinic.public_id), "date": day.isoformat()}).json()
    first = every["slots"][0]
    assert first["capacity"] == 3 and first["free"] == 3
    assert {d["doctor"]: d["free"] for d in first["doctors"]} == {
        None: 1,
        str(an.public_id): 1,
        str(binh.public_id): 1,
    }
    only_an = client_api.get(
        SLOTS, {"service": str(clinic.public_id), "date": day.isoformat(), "doctor": str(an.public_id)}
    ).json()
    assert only_an["slots"][0]["capacity"] == 1
    stranger = Doctor.objects.create(facility=clinic.facility, full_name="Không khám dịch vụ này")
    refused = client_api.get(
        SLOTS, {"service": str(clinic.public_id), "date": day.isoformat(), "doctor": str(stranger.public_id)}
    )
    assert refused.status_code == 400 and "doctor" in refused.json()["errors"]


def test_book_a_doctor_or_any_doctor(
    clinic: Service, doctors: tuple[Doctor, Doctor], day: date, me: Patient, as_patient: APIClient
) -> None:
    an, binh = doctors
    chosen = book(as_patient, clinic, at(day, 5), doctor=str(an.public_id))
    assert chosen.status_code == 201, chosen.json()
    assert chosen.json()["doctor"]["display_name"] == "ThS.BS Nguyễn Văn An"
    # Any doctor: the most free seats (ties: the lowest doctor id, seats of no doctor last). The demo
    # patient's family member books the same slot (one patient never holds two bookings at one time).
    family = make_account_patient("Trần Thị Mai", me.phone, born=date(2015, 5, 5))
    anyone = book(as_patient, clinic, at(day, 5), doctor=None, patient=str(family.public_id))
    assert anyone.status_code == 201, anyone.json()
    assert anyone.json()["doctor"]["id"] == str(binh.public_id)
    detail = as_patient.get(f"{APPOINTMENTS}/{chosen.json()['id']}").json()
    assert detail["doctor"]["id"] == str(an.public_id)


def test_a_full_doctor_answers_409_and_an_unknown_one_400(
    clinic: Service, doctors: tuple[Doctor, Doctor], day: date, as_patient: APIClient, persona: Any
) -> None:
    from health_f0.appointments import services

    an, _binh = doctors
    station = Facility.objects.get(code="TYT-10510")
    someone = Patient.objects.create(
        full_name="Người khác",
        date_of_birth=date(1970, 1, 1),
        sex="male",
        phone="+84912000888",
        province_code=31,
        ward_code=10510,
        facility=station,
    )
    services.appointment_book(
        patient=someone,
        service=clinic,
        slot_start=at(day, 5),
        channel="phone",
        actor=persona("datlich"),
        doctor=an,
    )
    full = book(as_patient, clinic, at(day, 5), doctor=str(an.public_id))
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    unknown = book(as_patient, clinic, at(day, 5), doctor="7d8f1c1e-0000-4000-8000-000000000000")
    assert unknown.status_code == 400 and "doctor" in unknown.json()["errors"]
    bad = book(as_patient, clinic, at(day, 5), doctor="x")
    assert bad.status_code == 400


def test_limit_per_day_answers_409_with_its_code(clinic: Service, day: date, as_patient: APIClient) -> None:
    AppointmentPolicy.objects.update_or_create(
        facility=Facility.objects.get(code="TTYT-HD"), defaults={"max_per_day": 1, "max_live_per_service": 0}
    )
    assert book(as_patient, clinic, at(day, 5)).status_code == 201
    second = book(as_patient, clinic, at(day, 6))
    assert second.status_code == 409 and second.json()["code"] == "limit_day"
    assert not second.json()["detail"].isascii()


def test_calendar_file_of_ones_own_booking_only(
    clinic: Service, doctors: tuple[Doctor, Doctor], day: date, as_patient: APIClient, as_user: Any
) -> None:
    an, _binh = doctors
    booked = book(as_patient, clinic, at(day, 5, 20), doctor=str(an.public_id)).json()
    url = f"{APPOINTMENTS}/{booked['id']}/calendar.ics"
    response = as_patient.get(url, HTTP_ACCEPT="text/calendar")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    assert response["Content-Disposition"].startswith('attachment; filename="lich-hen-')
    body = response.content.decode()
    unfolded = body.replace("\r\n ", "")
    assert body.startswith("BEGIN:VCALENDAR\r\n") and body.endswith("END:VCALENDAR\r\n")
    assert f"UID:{booked['id']}@" in unfolded
    assert f"DTSTART:{at(day, 5, 20).astimezone(UTC):%Y%m%dT%H%M%SZ}" in unfolded
    assert "ThS.BS Nguyễn Văn An" in unfolded and "STATUS:TENTATIVE" in unfolded
    assert all(len(line.encode()) <= 75 for line in body.split("\r\n"))
    assert booked["check_in_code"] not in unfolded  # no code, no name in a calendar synced elsewhere
    assert as_patient.get(url).status_code == 200  # Accept */* too
    # Another account: 404, as for the booking itself.
    make_account_patient("Trần Văn Cường", "+84912000999")
    other_user = Patient.objects.get(phone="+84912000999").account.username
    assert as_user(other_user).get(url).status_code == 404
