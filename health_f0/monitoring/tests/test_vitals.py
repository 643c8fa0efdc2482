"""Issue 9 item 4: physiologically impossible vitals are refused with a request to measure again (one rule,
rules.impossible_vitals, applied by the service that both the portal and the API call)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from health_f0.core.exceptions import ValidationErrors
from health_f0.monitoring import rules
from health_f0.monitoring.models import Alert, Declaration, Question
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient

pressures = st.integers(min_value=30, max_value=260).map(Decimal)


@given(systolic=pressures, diastolic=pressures)
def test_systolic_not_above_diastolic_is_always_impossible(systolic: Decimal, diastolic: Decimal) -> None:
    errors = rules.impossible_vitals({"bp_systolic": systolic, "bp_diastolic": diastolic})
    if systolic <= diastolic:
        assert errors["bp_systolic"][0][0] == "bp_systolic_not_above_diastolic"
    elif systolic - diastolic < 10:
        assert errors["bp_systolic"][0][0] == "bp_pulse_pressure_too_small"
    else:
        assert errors == {}


@given(spo2=st.integers(min_value=0, max_value=100).map(Decimal))
def test_any_spo2_up_to_100_is_possible(spo2: Decimal) -> None:
    assert rules.impossible_vitals({"spo2": spo2}) == {}


def test_abnormal_is_not_impossible() -> None:
    # Low pressure, low SpO2, narrow but real pulse pressure: triage's business, not a measuring error.
    assert rules.impossible_vitals({"bp_systolic": Decimal(85), "bp_diastolic": Decimal(55)}) == {}
    assert rules.impossible_vitals({"bp_systolic": Decimal(100), "bp_diastolic": Decimal(88)}) == {}
    assert rules.impossible_vitals({"spo2": Decimal(82)}) == {}
    assert rules.impossible_vitals({"bp_systolic": Decimal(120)}) == {}  # one value alone is fine
    assert "spo2" in rules.impossible_vitals({"spo2": Decimal(101)})


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.mark.django_db
def test_bp_70_over_120_is_refused_and_raises_no_alert(hung: Patient) -> None:
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(
            patient=hung,
            actor=hung.account,
            answers={"temperature": "36,8", "bp_systolic": "70", "bp_diastolic": "120"},
        )
    ((code, message),) = exc.value.errors["bp_systolic"]
    assert code == "bp_systolic_not_above_diastolic"
    assert "70/120 mmHg" in message and "đo lại" in message
    assert not Declaration.objects.filter(patient=hung).exists() and not Alert.objects.exists()


@pytest.mark.django_db
def test_a_possible_low_pressure_is_accepted_and_triaged(hung: Patient) -> None:
    declaration, created = declaration_submit(
        patient=hung, actor=hung.account, answers={"bp_systolic": "85", "bp_diastolic": "55"}
    )
    assert created and declaration.alert_level == "urgent"


@pytest.mark.django_db
def test_spo2_above_100_is_refused_even_if_the_range_allows_it(hung: Patient) -> None:
    Question.objects.filter(code="spo2").update(max_value=110)  # a configuration slip
    reset_caches()
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(patient=hung, actor=hung.account, answers={"spo2": "104"})
    assert exc.value.errors["spo2"][0][0] == "spo2_above_100"
