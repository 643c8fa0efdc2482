"""The public queue display for the waiting hall: no login, numbers being called per service and the next
few, no personal data, updates itself from a small JSON state (a chime, a flash and a spoken call in
Vietnamese for each call and recall), nothing loaded from elsewhere, never an online consultation."""

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


def test_display_updates_itself_and_loads_nothing_from_elsewhere(client: Any, called: Service) -> None:
    response = client.get(DISPLAY)
    html = response.content.decode()
    # It polls its JSON state (no reload); without JavaScript it reloads itself.
    assert 'data-state="/hang-doi/KKB-HD/trang-thai/"' in html
    assert '<noscript><meta http-equiv="refresh" content="15"></noscript>' in html
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script src" not in html  # one self-contained page
    nonce = re.search(r'<script nonce="([^"]+)">', html)
    assert nonce and nonce.group(1) in response["Content-Security-Policy"]
    assert len(html) < 20_000


def test_display_of_a_health_centre_covers_its_rooms_and_unknown_codes_are_404(
    client: Any, called: Service
) -> None:
    assert '<div class="now">3</div>' in client.get("/hang-doi/TTYT-HD/").content.decode()
    assert client.get("/hang-doi/KHONG-CO/").status_code == 404
    assert client.post(DISPLAY).status_code == 405


def test_display_shows_the_next_numbers_in_calling_order(client: Any, called: Service) -> None:
    html = client.get(DISPLAY).content.decode()
    assert "Số tiếp theo" in html and '<div class="numbers next"><span>4</span></div>' in html


@pytest.fixture
def speech_dir(tmp_path: Any, settings: Any) -> Any:
    settings.HALL_SPEECH_DIR = tmp_path / "speech"
    return settings.HALL_SPEECH_DIR


def test_state_is_numbers_only_and_announces_each_call_and_recall(
    client: Any, called: Service, persona: Any, speech_dir: Any
) -> None:
    response = client.get(DISPLAY + "trang-thai/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
    text = response.content.decode()
    for private in ("Hoàng", "091400000", "+8491400000", "031080001234"):
        assert private not in text
    row = next(r for r in response.json()["rows"] if r["service"] == "Khám Nội")
    assert (row["now_calling"], row["recent"], row["next"]) == (3, [2, 1], [4])
    assert row["announcement"]["text"] == "Mời số 3 đến Phòng khám Nội 1"
    first = row["announcement"]["id"]
    ticket = called.appointments.get(queue_number=3)
    services.queue_recall(appointment=ticket, actor=persona("tiepdon"))
    row = next(r for r in client.get(DISPLAY + "trang-thai/").json()["rows"] if r["service"] == "Khám Nội")
    assert row["now_calling"] == 3 and row["announcement"]["id"] != first  # a recall is announced again
    # The place said is the service's call point when it has one.
    called.call_point = "quầy 2"
    called.save()
    row = next(r for r in client.get(DISPLAY + "trang-thai/").json()["rows"] if r["service"] == "Khám Nội")
    assert row["announcement"]["text"] == "Mời số 3 đến quầy 2"


def test_the_spoken_call_is_made_once_per_text_and_only_for_a_current_call(
    client: Any, called: Service, speech_dir: Any
) -> None:
    row = next(r for r in client.get(DISPLAY + "trang-thai/").json()["rows"] if r["service"] == "Khám Nội")
    url = row["announcement"]["speech"]
    assert url and url.startswith("/hang-doi/KKB-HD/loa/") and url.endswith(".wav")
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "audio/wav"
    body = b"".join(response.streaming_content)
    assert body[:4] == b"RIFF" and body[8:12] == b"WAVE" and len(body) > 10_000
    cached = list(speech_dir.iterdir())
    assert len(cached) == 1
    assert client.get(url).status_code == 200 and list(speech_dir.iterdir()) == cached  # from the cache
    # Any other key (an old call, a made-up text) is not spoken.
    assert client.get("/hang-doi/KKB-HD/loa/" + "0" * 32 + ".wav").status_code == 404
    assert client.get("/hang-doi/KKB-HD/loa/abc.wav").status_code == 404
    assert client.get(url.replace("KKB-HD", "TTYT-HD")).status_code == 200  # the centre's hall shows it too
    assert client.get(url.replace("KKB-HD", "KHONG-CO")).status_code == 404
    assert client.post(url).status_code == 405


def test_online_consultations_never_appear_on_the_hall(client: Any, called: Service, persona: Any) -> None:
    Service.objects.create(
        facility=called.facility, code="tu-van-noi", name="Tư vấn Nội trực tuyến", kind="online"
    )
    assert "Tư vấn Nội trực tuyến" not in client.get(DISPLAY).content.decode()
    services_ = [r["service"] for r in client.get(DISPLAY + "trang-thai/").json()["rows"]]
    assert "Khám Nội" in services_ and "Tư vấn Nội trực tuyến" not in services_


def test_a_client_polling_far_faster_than_any_screen_is_answered_429(monkeypatch: Any) -> None:
    from django.test import Client

    from health_f0.appointments import views

    monkeypatch.setattr(views, "HALL_REQUESTS_PER_MINUTE", 5)
    flood = Client(REMOTE_ADDR="198.51.100.70")
    assert [flood.get(DISPLAY + "trang-thai/").status_code for _n in range(5)] == [200] * 5
    refused = flood.get(DISPLAY + "trang-thai/")
    assert refused.status_code == 429 and refused["Retry-After"] == "60"
    assert "Quá nhiều yêu cầu" in refused.content.decode()
    assert flood.get(DISPLAY).status_code == 429  # page and state count together
    # Another screen's address is not affected.
    assert Client(REMOTE_ADDR="198.51.100.71").get(DISPLAY + "trang-thai/").status_code == 200
