"""A small, realistic month of home care at two demo stations, for the managers' reports.

Range D0..D3 = 02/11/2026 .. 05/11/2026 (before the demo patient's episode, which starts on the day the demo
is seeded). Local time is UTC+7; the deadline is 10:00 local.

Station A (TYT-10510, Thành Đông):
  P1 started 30/10, active throughout: D0 08:00 normal; D1 11:00 late, fever (watch, acknowledged after
     10 min); D2 silent; D3 08:00 normal.
  P2 started 27/10: D0 09:00 normal; D1 07:00 SpO2 95 (urgent, acknowledged after 30 min) and again 12:00
     late; D2 08:00 normal; completed D2 15:00.
  P3 started D1: D1 09:30 SpO2 92 (emergency, acknowledged after 5 min); transferred D1 14:00.
  P4 started 20/10, completed 01/11 23:30 local (never active in the range).
  P7 started D0, never declares.
Station B (TYT-10532, Lê Thanh Nghị):
  P5 started 31/10: D0 10:30 late; D1 08:00 fever (watch, acknowledged after 40 min); silent D2, D3.
  P6 started D2: D2 00:30 local (17:30 UTC the day before) SpO2 96 (urgent, never acknowledged);
     D3 08:30 normal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Alert, Episode
from health_f0.monitoring.services import (
    alert_acknowledge,
    declaration_submit,
    episode_close,
    episode_complete,
    episode_start,
    reset_caches,
)
from health_f0.patients.services import patient_create

D0, D1, D2, D3 = (date(2026, 11, 2) + timedelta(days=i) for i in range(4))
LOCAL = timedelta(hours=7)

NORMAL = {"temperature": "36.8", "spo2": "98"}
FEVER = {"temperature": "38.2", "spo2": "98"}


def at(day: date, hh: int, mm: int = 0) -> datetime:
    """A local wall-clock time as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC) - LOCAL


@dataclass
class Dataset:
    station_a: Facility
    station_b: Facility
    station_c: Facility
    ttyt: Facility
    province: Facility
    episodes: dict[str, Episode]


def _patient(name: str, phone: str, station: Facility, ward: int) -> Any:
    return patient_create(
        full_name=name,
        date_of_birth=date(1980, 5, 17),
        sex="female",
        phone=phone,
        facility=station,
        province_code=station.province_code,
        ward_code=ward,
    )


@pytest.fixture
def dataset(demo: Any, persona: Any) -> Dataset:
    reset_caches()
    a = Facility.objects.get(code="TYT-10510")
    b = Facility.objects.get(code="TYT-10532")
    nurse_a, nurse_b = persona("thanhdong.nv"), persona("lethanhnghi.nv")
    episodes: dict[str, Episode] = {}

    def start(key: str, name: str, phone: str, station: Facility, ward: int, on: date) -> Any:
        patient = _patient(name, phone, station, ward)
        episodes[key] = episode_start(patient=patient, facility=station, actor=nurse_a, start_date=on)
        return patient

    def declare(patient: Any, when: datetime, answers: dict[str, str]) -> Any:
        declaration, created = declaration_submit(patient=patient, actor=None, answers=answers, now=when)
        assert created
        return declaration

    def acknowledge(declaration: Any, actor: Any, minutes: int) -> None:
        alert = Alert.objects.get(declaration=declaration)
        alert_acknowledge(alert=alert, actor=actor, outcome="stable")
        Alert.objects.filter(pk=alert.pk).update(
            acknowledged_at=alert.created_at + timedelta(minutes=minutes)
        )

    def ended(key: str, when: datetime) -> None:
        Episode.objects.filter(pk=episodes[key].pk).update(ended_at=when)

    p4 = start("P4", "Phạm Thị Bốn", "+84912000004", a, 10510, date(2026, 10, 20))
    del p4
    episode_complete(
        episode=episodes["P4"],
        actor=nurse_a,
        negative_test_date=date(2026, 11, 1),
        negative_test_type="rapid",
        today=date(2026, 11, 1),
    )
    ended("P4", at(date(2026, 11, 1), 23, 30))

    p1 = start("P1", "Nguyễn Văn Một", "+84912000001", a, 10510, date(2026, 10, 30))
    p2 = start("P2", "Trần Thị Hai", "+84912000002", a, 10510, date(2026, 10, 27))
    p5 = start("P5", "Lê Văn Năm", "+84912000005", b, 10532, date(2026, 10, 31))
    p7 = start("P7", "Đỗ Văn Bảy", "+84912000007", a, 10510, D0)
    del p7

    # D0
    declare(p1, at(D0, 8), NORMAL)
    declare(p2, at(D0, 9), NORMAL)
    declare(p5, at(D0, 10, 30), NORMAL)
    # D1
    p3 = start("P3", "Vũ Thị Ba", "+84912000003", a, 10510, D1)
    acknowledge(declare(p1, at(D1, 11), FEVER), nurse_a, 10)
    acknowledge(declare(p2, at(D1, 7), {"temperature": "37.0", "spo2": "95"}), nurse_a, 30)
    declare(p2, at(D1, 12), NORMAL)
    acknowledge(declare(p3, at(D1, 9, 30), {"temperature": "37.2", "spo2": "92"}), nurse_a, 5)
    acknowledge(declare(p5, at(D1, 8), FEVER), nurse_b, 40)
    episode_close(
        episode=episodes["P3"], actor=nurse_a, status="transferred", reason="Chuyển viện do SpO2 92%"
    )
    ended("P3", at(D1, 14))
    # D2
    p6 = start("P6", "Hoàng Văn Sáu", "+84912000006", b, 10532, D2)
    declare(p6, at(D2, 0, 30), {"temperature": "37.0", "spo2": "96"})
    declare(p2, at(D2, 8), NORMAL)
    episode_complete(
        episode=episodes["P2"], actor=nurse_a, negative_test_date=D2, negative_test_type="rapid", today=D2
    )
    ended("P2", at(D2, 15))
    # D3
    declare(p1, at(D3, 8), NORMAL)
    declare(p6, at(D3, 8, 30), NORMAL)

    return Dataset(
        station_a=a,
        station_b=b,
        station_c=Facility.objects.get(code="TYT-10537"),
        ttyt=Facility.objects.get(code="TTYT-HD"),
        province=Facility.objects.get(code="SYT-31"),
        episodes=episodes,
    )
