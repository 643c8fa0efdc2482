"""No double booking through the real HTTP stack: 20 patients, each with their own token, POST at once to
one slot of capacity 5 on pytest-django's live server (a threaded WSGI server, one database connection
per request thread, MariaDB row locks). Exactly 5 bookings succeed; the 15 others get 409 slot_full."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.utils import timezone

from health_f0.api.services import api_token_issue
from health_f0.appointments.models import Appointment, Holiday, ScheduleTemplate, Service, SlotCounter
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.facilities.models import Facility
from health_f0.patients.services import patient_create

CLIENTS = 20
CAPACITY = 5


def _patient_tokens(station: Facility) -> list[str]:
    tokens = []
    for i in range(CLIENTS):
        phone = f"+8498555{i:04d}"
        patient = patient_create(
            full_name=f"Người Đặt {i}",
            date_of_birth=date(1980, 1, 1),
            sex="male",
            phone=phone,
            facility=station,
            province_code=31,
            ward_code=10510,
        )
        user = get_user_model().objects.create_user(
            username=f"race{i:03d}", password="x-Pass-2026", phone=phone, must_change_password=False
        )
        patient.account = user
        patient.save(update_fields=["account"])
        raw, _ = api_token_issue(user=user)
        tokens.append(raw)
    return tokens


@pytest.mark.django_db(transaction=True)
def test_twenty_parallel_http_bookings_of_a_five_place_slot(demo: Any, live_server: Any) -> None:
    Holiday.objects.all().delete()
    service = Service.objects.create(
        facility=Facility.objects.get(code="PK-NOI1"),
        code="race",
        name="Khám đua",
        duration_minutes=20,
        capacity_per_slot=CAPACITY,
        min_notice_hours=2,
        booking_horizon_days=30,
    )
    for weekday in range(7):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(5), end_time=time(6)
        )
    tokens = _patient_tokens(Facility.objects.get(code="TYT-10510"))
    start = datetime.combine(timezone.localdate() + timedelta(days=3), time(5), tzinfo=LOCAL_TZ)
    body = {"service": str(service.public_id), "slot": start.isoformat()}
    url = f"{live_server.url}/api/v1/appointments"
    barrier = threading.Barrier(CLIENTS)
    results: list[Any] = [None] * CLIENTS

    def run(index: int) -> None:
        try:
            barrier.wait(30)
            response = requests.post(
                url, json=body, headers={"Authorization": f"Bearer {tokens[index]}"}, timeout=60
            )
            code = response.json().get("code") if response.status_code != 201 else "created"
            results[index] = (response.status_code, code)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            results[index] = ("error", repr(exc))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)

    assert Counter(results) == {(201, "created"): CAPACITY, (409, "slot_full"): CLIENTS - CAPACITY}, results
    assert Appointment.objects.filter(service=service, slot_start=start).count() == CAPACITY
    assert SlotCounter.objects.get(service=service, slot_start=start).booked == CAPACITY
