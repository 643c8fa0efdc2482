"""The public queue display for the waiting hall: no login, numbers being called per service, no personal
data, refreshes itself, nothing loaded from elsewhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.utils import timezone

from health_f0.appointments import services
from health_f0.appointments.models import Service
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """These pages work on the demo's clinic services and bookings."""


DISPLAY = "/hang-doi/KKB-HD/"


def walk_in(name: str, phone: str, service: Service, reception: Any) -> Any:
    patient = Patient.objects.create(
        full_name=name,
        date_of_birth=timezone.localdate().replace(year=1980),
        sex="male",
        phone=phone,
        province_code=31,
        ward_code=0,
        facility=Facility.objects.get(code="TTYT-HD"),
        cccd="031080001234",
    )
    return services.walk_in_register(patient=patient, service=service, actor=reception)


@pytest.fixture
def called(demo: Any, persona: Any) -> Service:
    reception = persona("tiepdon")
    service = Service.objects.get(code="kham-noi")
    for i, name in enumerate(["Hoàng Văn Một", "Hoàng Văn Hai", "Hoàng Văn Ba", "Hoàng Văn Bốn"]):
        walk_in(name, f"+8491400000{i}", service, reception)
    for _ in range(3):
        services.queue_call_next(service=service, actor=reception)
    return service


def test_display_needs_no_login_and_shows_the_numbers_called(client: Any, called: Service) -> None:
    response = client.get(DISPLAY)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Khoa Khám bệnh" in html and "Khám Nội" in html and "Phòng khám Nội 1" in html
    assert re.search(r'<div class="now">3</div>', html)
    assert "<span>2</span><span>1</span>" in html  # the numbers called before
    assert "Khám Nhi" in html and '<div class="now none">Chưa gọi</div>' in html  # a room with no calls yet
    assert "Đang mời số" in html and 'lang="vi"' in html


def test_display_shows_no_personal_data(client: Any, called: Service) -> None:
    html = client.get(DISPLAY).content.decode()
    for private in ("Hoàng Văn", "Hoàng", "091400000", "+8491400000", "031080001234"):
        assert private not in html


def test_display_refreshes_itself_and_loads_nothing_from_elsewhere(client: Any, called: Service) -> None:
    response = client.get(DISPLAY)
    html = response.content.decode()
    assert '<meta http-equiv="refresh" content="15">' in html
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script" not in html and "<link" not in html  # one self-contained page
    assert len(html) < 20_000


def test_display_of_a_health_centre_covers_its_rooms_and_unknown_codes_are_404(
    client: Any, called: Service
) -> None:
    assert '<div class="now">3</div>' in client.get("/hang-doi/TTYT-HD/").content.decode()
    assert client.get("/hang-doi/KHONG-CO/").status_code == 404
    assert client.post(DISPLAY).status_code == 405
