"""Shared fixtures: a clinic service with a weekly schedule, fixed clocks, patients."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count

import pytest

from health_f0.appointments.models import ScheduleTemplate, Service
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

# Friday 20/11/2026, 09:00 in Hà Nội; the booked day is Monday 23/11/2026.
MONDAY = date(2026, 11, 23)
_phones = count(1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """A Vietnam wall-clock time as aware UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=UTC) - timedelta(hours=7)


NOW = local(MONDAY - timedelta(days=3), 9)


def make_service(facility: Facility, **fields) -> Service:
    defaults = {
        "code": f"svc-{next(_phones)}",
        "name": "Khám Nội",
        "short_name": "Kham Noi",
        "duration_minutes": 15,
        "capacity_per_slot": 3,
        "min_notice_hours": 2,
        "booking_horizon_days": 30,
        "cancel_cutoff_hours": 2,
    }
    defaults.update(fields)
    service = Service.objects.create(facility=facility, **defaults)
    for weekday in range(5):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(7), end_time=time(11, 30)
        )
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(13, 30), end_time=time(16, 30)
        )
    return service


def make_patient(facility: Facility, name: str = "Trần Thị Bình", phone: str | None = None) -> Patient:
    return Patient.objects.create(
        full_name=name,
        date_of_birth=date(1960, 1, 1),
        sex="female",
        phone=phone or f"+8491{next(_phones):07d}",
        province_code=31,
        ward_code=10510,
        facility=facility,
    )


@pytest.fixture
def clinic(demo):
    return make_service(Facility.objects.get(code="PK-NOI1"))


@pytest.fixture
def patient(demo):
    return Patient.objects.get(account__username="bn0000001")


@pytest.fixture
def patient_user(patient):
    return patient.account


def add_doctor(service: Service, full_name: str, title: str = "BS.CKI", weekdays=range(5)):
    """A doctor of the service's facility working its morning window (07:00-11:30) on `weekdays`."""
    from health_f0.appointments.models import Doctor

    doctor = Doctor.objects.create(facility=service.facility, title=title, full_name=full_name)
    for weekday in weekdays:
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(7), end_time=time(11, 30), doctor=doctor
        )
    return doctor
