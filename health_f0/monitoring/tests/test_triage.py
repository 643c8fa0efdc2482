"""Triage thresholds as rules: adults and each child age band, boundaries by hypothesis, trends."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from health_f0.monitoring import triage

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 09:00 in Ha Noi
TODAY = date(2026, 11, 23)
ADULT = date(1980, 1, 1)
CHILD_3 = date(2023, 6, 1)
CHILD_8 = date(2018, 6, 1)
INFANT = date(2026, 3, 1)


@pytest.fixture(scope="module")
def rules():
    """The seeded rules, read from the same fixture file the loader uses (no database needed)."""
    data = json.loads((Path(settings.BASE_DIR) / "fixtures" / "monitoring.json").read_text(encoding="utf-8"))
    return [
        triage.Rule(
            **{k: v for k, v in row.items() if k not in ("value", "reason_en")},
            value=Decimal(str(row["value"])) if row.get("value") is not None else None,
        )
        for row in data["rules"]
    ]


def run(rules, dob=ADULT, symptoms=(), history=(), **values):
    return triage.triage(
        rules=rules,
        values={k: Decimal(str(v)) for k, v in values.items()},
        symptoms=symptoms,
        date_of_birth=dob,
        now=NOW,
        today=TODAY,
        history=history,
    )


@given(spo2=st.integers(min_value=50, max_value=100))
def test_spo2_bands(rules, spo2):
    level = run(rules, spo2=spo2).level
    assert level == ("emergency" if spo2 < 94 else "urgent" if spo2 <= 96 else "none")


@given(rr=st.integers(min_value=5, max_value=80))
def test_adult_breathing_rate(rules, rr):
    level = run(rules, breathing_rate=rr).level
    assert level == ("emergency" if rr > 25 else "urgent" if rr >= 20 else "none")


@given(rr=st.integers(min_value=5, max_value=80))
def test_child_1_to_5_breathing_rate(rules, rr):
    assert run(rules, dob=CHILD_3, breathing_rate=rr).level == ("urgent" if rr >= 40 else "none")


@given(rr=st.integers(min_value=5, max_value=80))
def test_child_5_to_12_breathing_rate(rules, rr):
    assert run(rules, dob=CHILD_8, breathing_rate=rr).level == ("urgent" if rr >= 30 else "none")


@given(rr=st.integers(min_value=5, max_value=80))
def test_infant_breathing_rate(rules, rr):
    assert run(rules, dob=INFANT, breathing_rate=rr).level == ("urgent" if rr >= 50 else "none")


def test_age_band_changes_on_birthday(rules):
    turned_five_today = date(TODAY.year - 5, TODAY.month, TODAY.day)
    day_before = turned_five_today + timedelta(days=1)
    assert run(rules, dob=turned_five_today, breathing_rate=35).level == "urgent"  # 5-12 band: >= 30
    assert run(rules, dob=day_before, breathing_rate=35).level == "none"  # still 1-5 band: >= 40


@given(pulse=st.integers(min_value=30, max_value=220))
def test_pulse(rules, pulse):
    assert run(rules, pulse=pulse).level == ("urgent" if pulse > 120 or pulse < 50 else "none")


def test_blood_pressure(rules):
    assert run(rules, bp_systolic=89).level == "urgent"
    assert run(rules, bp_systolic=90, bp_diastolic=60).level == "none"
    assert run(rules, bp_diastolic=59).level == "urgent"


def test_danger_symptoms_and_reasons_in_vietnamese(rules):
    result = run(rules, symptoms=["shortness_of_breath", "cough"], spo2=95)
    assert result.level == "emergency"
    assert "Khó thở" in result.reasons
    assert any("SpO2 95%" in r for r in result.reasons)


def test_only_most_severe_threshold_reported(rules):
    result = run(rules, spo2=92)
    assert result.reasons == ["SpO2 92% dưới 94% (mức độ nặng)"]


def test_child_signs_only_for_children(rules):
    assert run(rules, dob=CHILD_3, symptoms=["child_feeding"]).level == "urgent"
    assert run(rules, dob=ADULT, symptoms=["child_feeding"]).level == "none"


def test_fever_high_in_under_fives(rules):
    assert run(rules, dob=CHILD_3, temperature="39.2").level == "urgent"
    assert run(rules, dob=ADULT, temperature="39.2").level == "watch"


def reading(hours_ago, **values):
    at = NOW - timedelta(hours=hours_ago)
    return triage.PastReading(
        submitted_at=at,
        local_date=(at + timedelta(hours=7)).date(),
        values={k: Decimal(str(v)) for k, v in values.items()},
    )


def test_spo2_drop_within_48_hours(rules):
    result = run(rules, spo2=97, history=[reading(30, spo2=100)])
    assert result.level == "urgent"
    assert any("giảm 3 điểm" in r for r in result.reasons)
    assert run(rules, spo2=97, history=[reading(50, spo2=100)]).level == "none"
    assert run(rules, spo2=98, history=[reading(30, spo2=100)]).level == "none"


def test_fever_three_days_running(rules):
    history = [reading(24, temperature="38.2"), reading(48, temperature="38.5")]
    result = run(rules, temperature="38.1", history=history)
    assert result.level == "urgent"
    assert "Sốt 3 ngày liên tiếp" in result.reasons
    gap = [reading(24, temperature="37.0"), reading(48, temperature="38.5")]
    assert run(rules, temperature="38.1", history=gap).level == "watch"
