"""Desk test helpers: log in as a demo persona, find the demo registrations, make more of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from health_f0.facilities.models import Facility
from health_f0.registration.models import Registration
from health_f0.registration.services import RegistrationInput, _create, registration_validate


@pytest.fixture
def desk(persona: Any) -> Any:
    """desk("thanhdong.nv") -> a test client logged in as that persona."""

    def login(username: str) -> Client:
        client = Client()
        client.force_login(persona(username))
        return client

    return login


def pending(code: str) -> Registration:
    """A waiting demo registration at the station with this code."""
    registration = Registration.objects.filter(facility__code=code, status="submitted").order_by("id").first()
    assert registration is not None
    return registration


def change_url(registration: Registration) -> str:
    return reverse("admin:registration_registration_change", args=[registration.pk])


def action_url(registration: Registration, name: str) -> str:
    return reverse(f"admin:registration_registration_{name}", args=[registration.pk])


NAMES = ["An", "Bình", "Cúc", "Dũng", "Giang", "Hà", "Khánh", "Lan", "Minh", "Nga", "Phúc", "Quân"]


def make_registrations(count: int, *, station_code: str = "TYT-10510", ward_code: int = 10510) -> None:
    """Queue `count` more web registrations at a station (through the service's create step)."""
    station = Facility.objects.get(code=station_code)
    for i in range(count):
        data = registration_validate(
            RegistrationInput(
                full_name=f"Người Thử {NAMES[i % len(NAMES)]} {NAMES[i // len(NAMES)]}",
                date_of_birth=date(1980, 1, 1) + timedelta(days=i),
                sex="male",
                phone=f"0977{123400 + i:06d}",
                province_code=31,
                ward_code=ward_code,
                test_type="rapid",
                positive_date=timezone.localdate(),
                care="self_care",
                consent=True,
                spo2=98,
                breathing_rate=16,
                vaccine_doses=2,
            )
        )
        _create(data, channel="web", facility=station, actor=None)
