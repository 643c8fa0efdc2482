"""Public holidays are data, one file per year (issue 9, item 20: "the holiday data ends in 2027"): the loader
reads every year's file, refuses a malformed one whole, lets an official schedule replace an estimate, and
the desk warns on the schedule pages when next year's data is missing or still estimated."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from health_f0.appointments import selectors
from health_f0.appointments.management.commands.load_holidays import HOLIDAYS_DIR
from health_f0.appointments.models import Holiday

pytestmark = pytest.mark.django_db


def load(*args: str) -> str:
    from io import StringIO

    out = StringIO()
    call_command("load_holidays", *args, stdout=out)
    return out.getvalue()


def write(path: Path, year: int, rows: list[tuple[str, str]], status: str = "official") -> Path:
    path.write_text(
        json.dumps(
            {
                "year": year,
                "status": status,
                "source": "test",
                "holidays": [{"date": d, "name": n} for d, n in rows],
            }
        ),
        encoding="utf-8",
    )
    return path


def test_every_year_file_is_loaded_with_2028_marked_approximate() -> None:
    years = sorted(int(p.stem.split("-")[1]) for p in HOLIDAYS_DIR.glob("vn-*.json"))
    assert years[:3] == [2026, 2027, 2028]
    output = load()
    assert "2028: 16 ngày lễ" in output and "dự kiến" in output
    assert Holiday.objects.get(date=date(2028, 1, 26)).name.startswith("Tết Nguyên đán (Mùng 1")
    assert Holiday.objects.filter(date=date(2028, 4, 4)).exists()  # Giỗ Tổ, 10/3 âm lịch
    # Every file is well formed: its dates are in its year, each once, each named.
    for path in HOLIDAYS_DIR.glob("vn-*.json"):
        data = json.loads(path.read_text(encoding="utf-8"))
        days = [row["date"] for row in data["holidays"]]
        assert len(days) == len(set(days)) and all(d.startswith(str(data["year"])) for d in days), path
        assert data["source"] and data["status"] in ("official", "approximate"), path


def test_a_malformed_file_is_refused_whole(tmp_path: Path) -> None:
    bad = write(
        tmp_path / "vn-2030.json", 2030, [("2030-01-01", "Tết Dương lịch"), ("2031-02-03", "Sai năm")]
    )
    with pytest.raises(CommandError, match="không thuộc năm 2030"):
        load("--file", str(bad))
    assert not Holiday.objects.filter(date__year=2030).exists()
    twice = write(tmp_path / "vn-2031.json", 2031, [("2031-01-01", "A"), ("2031-01-01", "B")])
    with pytest.raises(CommandError, match="bị lặp"):
        load("--file", str(twice))


def test_the_official_schedule_replaces_the_estimate(tmp_path: Path) -> None:
    estimate = write(
        tmp_path / "vn-2030.json",
        2030,
        [("2030-02-02", "Tết Nguyên đán (Giao thừa, dự kiến)"), ("2030-02-08", "Nghỉ bù (dự kiến)")],
        status="approximate",
    )
    load("--file", str(estimate))
    Holiday.objects.create(date=date(2030, 3, 8), name="Ngày nghỉ của tỉnh")  # added by hand: kept
    official = write(
        tmp_path / "vn-2030.json",
        2030,
        [("2030-02-02", "Tết Nguyên đán (Giao thừa)"), ("2030-02-07", "Nghỉ bù Tết")],
    )
    output = load("--file", str(official))
    assert "bỏ 1 ngày dự kiến cũ: 08/02/2030" in output
    assert sorted(Holiday.objects.filter(date__year=2030).values_list("date", flat=True)) == [
        date(2030, 2, 2),
        date(2030, 2, 7),
        date(2030, 3, 8),
    ]


def test_status_names_a_missing_next_year_and_estimated_years() -> None:
    load()
    status = selectors.holiday_data_status(today=date(2027, 6, 1))
    assert status.missing == [] and status.approximate == [2027, 2028]
    status = selectors.holiday_data_status(today=date(2028, 6, 1))
    assert status.missing == [2029]
    Holiday.objects.filter(date__year=2028).delete()
    assert selectors.holiday_data_status(today=date(2027, 12, 1)).missing == [2028]


def test_schedule_pages_warn_when_next_year_is_missing(persona: Any, settings: Any) -> None:
    from django.utils import timezone

    load()
    client = Client()
    client.force_login(persona("ttyt.lanhdao"))
    next_year = timezone.localdate().year + 1
    Holiday.objects.filter(date__year=next_year).delete()
    for url in (
        "/desk/appointments/service/",
        "/desk/appointments/scheduleoverride/",
        "/desk/appointments/holiday/",
    ):
        page = client.get(url).content.decode()
        assert f"Chưa có dữ liệu ngày nghỉ lễ năm {next_year}" in page, url
    load()
    page = client.get("/desk/appointments/service/").content.decode()
    assert f"Chưa có dữ liệu ngày nghỉ lễ năm {next_year}" not in page
