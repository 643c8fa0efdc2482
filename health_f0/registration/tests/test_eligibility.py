"""Home-care eligibility thresholds as rules (DESIGN.md section 5), checked with hypothesis."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from health_f0.registration.eligibility import ELIGIBLE, HOSPITAL, REVIEW, Screening, age_in_years, assess
from health_f0.registration.screening import DANGER_SYMPTOMS

TODAY = date(2026, 3, 15)
ADULT = date(1990, 6, 1)  # 35, fully vaccinated below: no age or vaccine rule fires


def _adult(**kw: object) -> str:
    return assess(Screening(date_of_birth=ADULT, vaccine_doses=2, **kw), today=TODAY).outcome  # type: ignore[arg-type]


def _born_years_ago(years: int, days_before_birthday: int = 0) -> date:
    born = date(TODAY.year - years, TODAY.month, TODAY.day)
    return date.fromordinal(born.toordinal() + days_before_birthday)


@given(st.integers(min_value=50, max_value=100))
def test_spo2_bands(spo2: int) -> None:
    expected = ELIGIBLE if spo2 > 96 else REVIEW if spo2 >= 94 else HOSPITAL
    assert _adult(spo2=spo2, breathing_rate=16) == expected


@given(st.integers(min_value=5, max_value=80))
def test_adult_breathing_rate_bands(rate: int) -> None:
    expected = ELIGIBLE if rate < 20 else REVIEW if rate <= 25 else HOSPITAL
    assert _adult(spo2=98, breathing_rate=rate) == expected


def test_adult_boundaries_exactly() -> None:
    assert [_adult(spo2=98, breathing_rate=r) for r in (19, 20, 25, 26)] == [
        ELIGIBLE,
        REVIEW,
        REVIEW,
        HOSPITAL,
    ]
    assert [_adult(spo2=s, breathing_rate=16) for s in (97, 96, 94, 93)] == [
        ELIGIBLE,
        REVIEW,
        REVIEW,
        HOSPITAL,
    ]


@given(st.integers(min_value=1, max_value=11), st.integers(min_value=5, max_value=80))
def test_child_breathing_rate_thresholds(age: int, rate: int) -> None:
    limit = 40 if age < 5 else 30
    s = Screening(date_of_birth=_born_years_ago(age), spo2=98, breathing_rate=rate, vaccine_doses=0)
    result = assess(s, today=TODAY)
    assert result.outcome == (REVIEW if rate >= limit else ELIGIBLE)
    assert result.outcome != HOSPITAL  # a child's fast breathing calls a doctor, not the adult > 25 rule


def test_child_age_bands_switch_on_the_birthday() -> None:
    # The band changes on the birthday itself, not the day before.
    assert age_in_years(_born_years_ago(5, days_before_birthday=1), TODAY) == 4
    assert age_in_years(_born_years_ago(5), TODAY) == 5
    rate35 = [
        assess(Screening(date_of_birth=d, spo2=98, breathing_rate=35), today=TODAY).outcome
        for d in (_born_years_ago(5, 1), _born_years_ago(5))
    ]
    assert rate35 == [ELIGIBLE, REVIEW]  # 35 is normal under 5 (limit 40), fast from 5 (limit 30)
    rate25 = [
        assess(Screening(date_of_birth=d, spo2=98, breathing_rate=25, vaccine_doses=2), today=TODAY).outcome
        for d in (_born_years_ago(12, 1), _born_years_ago(12))
    ]
    assert rate25 == [ELIGIBLE, REVIEW]  # at 12 the adult bands apply (20-25 moderate)


@given(st.sampled_from(sorted(DANGER_SYMPTOMS)))
def test_danger_symptoms_mean_hospital(symptom: str) -> None:
    result = assess(
        Screening(date_of_birth=ADULT, symptoms=(symptom,), spo2=99, breathing_rate=14, vaccine_doses=2),
        today=TODAY,
    )
    assert result.outcome == HOSPITAL
    assert any("nguy hiểm" in reason for reason in result.reasons)


def test_missing_measurements_are_notes_not_refusals() -> None:
    result = assess(Screening(date_of_birth=ADULT, vaccine_doses=2), today=TODAY)
    assert result.outcome == ELIGIBLE and len(result.notes) == 2


def test_other_review_rules() -> None:
    base = {"spo2": 98, "breathing_rate": 16}
    assert assess(Screening(date_of_birth=_born_years_ago(0), **base), today=TODAY).outcome == REVIEW  # type: ignore[arg-type]
    assert _adult(pregnant=True, **base) == REVIEW
    assert _adult(care="none", **base) == REVIEW
    assert _adult(can_phone=False, **base) == REVIEW
    assert _adult(conditions=("diabetes",), conditions_stable=False, **base) == REVIEW
    assert _adult(conditions=("diabetes",), **base) == ELIGIBLE
    old = assess(Screening(date_of_birth=_born_years_ago(50), vaccine_doses=1, **base), today=TODAY)  # type: ignore[arg-type]
    assert old.outcome == REVIEW


# --- The thresholds are rule data shared with triage (fixtures/monitoring.json, monitoring.rule_data). ---


def test_every_rule_cites_its_source_and_intake_vitals_name_a_triage_rule() -> None:
    from health_f0.monitoring import rule_data
    from health_f0.registration import eligibility

    triage_rules = rule_data.triage_rules()
    assert triage_rules and all(rule.source.strip() for rule in triage_rules.values())
    intake = rule_data.intake_rules()
    assert intake and all(rule["source"].strip() for rule in intake)
    assert {rule["kind"] for rule in intake} <= set(eligibility._KINDS)
    for rule in intake:
        assert rule["outcome"] in (ELIGIBLE, REVIEW, HOSPITAL)
        for key in ("uses", "band_from", "band_to"):
            if key in rule:
                assert rule[key] in triage_rules, rule["code"]


def test_intake_follows_the_triage_threshold_it_uses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Moving the triage rule's SpO2 threshold moves intake's: the number is written once."""
    from dataclasses import replace
    from decimal import Decimal

    from health_f0.monitoring import rule_data

    rules = dict(rule_data.triage_rules())
    rules["spo2-severe"] = replace(rules["spo2-severe"], value=Decimal(92))
    monkeypatch.setattr(rule_data, "triage_rules", lambda: rules)
    result = assess(Screening(date_of_birth=ADULT, vaccine_doses=2, spo2=93, breathing_rate=16), today=TODAY)
    assert result.outcome == REVIEW
    assert result.reasons == ["SpO2 93% trong khoảng 92–96% (mức độ trung bình)"]
