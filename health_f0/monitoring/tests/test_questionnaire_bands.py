"""Issue 9 item 5: temperature is optional (what cannot be measured is left blank) and child-only danger
signs are asked of children only: age bands and "required" are data on the questions and their options."""

from __future__ import annotations

import importlib
from datetime import date, timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from health_f0.core.exceptions import ValidationErrors
from health_f0.monitoring import rules
from health_f0.monitoring.models import Question, QuestionnaireVersion
from health_f0.monitoring.services import (
    active_questionnaire,
    declaration_submit,
    episode_start,
    policy_for,
    questions_for_patient,
    reset_caches,
)
from health_f0.patients.models import Patient
from health_f0.patients.services import patient_create

pytestmark = pytest.mark.django_db

CHILD_SIGNS = {"child_breathing_signs", "child_feeding"}


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.select_related("account", "facility").get(account__username="bn0000001")


def child_of(hung: Patient, persona: Any, born: date) -> Patient:
    child = patient_create(
        full_name="Nguyễn Minh Khang",
        date_of_birth=born,
        sex="male",
        phone=hung.phone,
        facility=hung.facility,
        province_code=31,
        ward_code=10510,
    )
    episode_start(patient=child, facility=hung.facility, actor=persona("thanhdong.nv"))
    return child


def option_codes(questions: list[Question]) -> set[str]:
    return {o["code"] for q in questions for o in q.options}


def test_a_declaration_without_a_temperature_is_accepted(hung: Patient) -> None:
    declaration, created = declaration_submit(patient=hung, actor=hung.account, answers={"spo2": "98"})
    assert created and declaration.temperature is None and declaration.alert_level == "none"


def test_child_signs_are_not_asked_of_an_adult(hung: Patient) -> None:
    _version, questions = active_questionnaire()
    shown = questions_for_patient(questions=questions, patient=hung, on=timezone.localdate())
    assert not CHILD_SIGNS & option_codes(shown)
    assert option_codes(questions) >= CHILD_SIGNS  # the shared, cached questionnaire is left whole
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(patient=hung, actor=hung.account, answers={"symptoms": ["cough", "child_feeding"]})
    ((code, message),) = exc.value.errors["symptoms"]
    assert code == "option_not_for_age" and "Trẻ em: bỏ ăn" in message


def test_child_signs_are_asked_of_a_child_and_raise_the_alert(hung: Patient, persona: Any) -> None:
    today = timezone.localdate()
    child = child_of(hung, persona, born=today.replace(year=today.year - 3))
    _version, questions = active_questionnaire()
    assert option_codes(questions_for_patient(questions=questions, patient=child, on=today)) >= CHILD_SIGNS
    declaration, _ = declaration_submit(
        patient=child, actor=hung.account, answers={"symptoms": ["child_feeding"]}
    )
    assert declaration.alert_level == "urgent"  # the seeded rule for poor feeding


def test_the_band_ends_at_12_years_like_the_triage_rules(hung: Patient, persona: Any) -> None:
    today = timezone.localdate()
    twelve = child_of(hung, persona, born=today.replace(year=today.year - 12) - timedelta(days=1))
    _version, questions = active_questionnaire()
    assert not CHILD_SIGNS & option_codes(
        questions_for_patient(questions=questions, patient=twelve, on=today)
    )


def test_a_question_outside_its_band_is_neither_asked_nor_required(hung: Patient) -> None:
    Question.objects.filter(code="bp_systolic").update(age_min_months=18 * 12, required=True)
    Question.objects.filter(code="pulse").update(age_max_months=12, required=True)  # infants only
    reset_caches()
    _version, questions = active_questionnaire()
    shown = {
        q.code for q in questions_for_patient(questions=questions, patient=hung, on=timezone.localdate())
    }
    assert "pulse" not in shown and "bp_systolic" in shown
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(patient=hung, actor=hung.account, answers={"pulse": "80"})
    assert exc.value.errors["pulse"][0][0] == "not_for_age"
    assert exc.value.errors["bp_systolic"][0][0] == "required"  # in his band, required


def test_the_migration_corrects_a_stored_questionnaire(demo: Any) -> None:
    """A questionnaire loaded before the fix (temperature required, child signs for everyone) is corrected
    in place by the data migration; other options and questions are left alone."""
    migration = importlib.import_module(
        "health_f0.monitoring.migrations.0005_positive_dates_and_questionnaire_bands"
    )
    old = QuestionnaireVersion.objects.create(version=90, title="cũ", is_active=False)
    Question.objects.create(
        questionnaire=old, code="temperature", type="number", text_vi="Nhiệt độ", required=True
    )
    Question.objects.create(
        questionnaire=old,
        code="symptoms",
        type="multi",
        text_vi="Triệu chứng",
        options=[
            {"code": "cough", "vi": "Ho"},
            {"code": "child_feeding", "vi": "Trẻ em: bỏ ăn", "danger": True},
            {"code": "child_breathing_signs", "vi": "Trẻ em: thở rên", "age_max_months": 60},
        ],
    )
    migration.questionnaire_bands(django_apps, None)
    assert not Question.objects.get(questionnaire=old, code="temperature").required
    options = {o["code"]: o for o in Question.objects.get(questionnaire=old, code="symptoms").options}
    assert "age_max_months" not in options["cough"]
    assert options["child_feeding"]["age_max_months"] == 144
    assert options["child_breathing_signs"]["age_max_months"] == 60  # a band set on purpose is kept


def test_the_migration_sets_positive_dates_from_registrations(hung: Patient) -> None:
    from health_f0.monitoring.models import Episode

    migration = importlib.import_module(
        "health_f0.monitoring.migrations.0005_positive_dates_and_questionnaire_bands"
    )
    episode = Episode.objects.get(patient=hung)
    positive = episode.registration.positive_date
    Episode.objects.filter(pk=episode.pk).update(positive_date=None, expected_end_date=episode.start_date)
    migration.positive_dates(django_apps, None)
    episode.refresh_from_db()
    days = policy_for(hung.facility.province_code).min_isolation_days
    assert episode.positive_date == positive and episode.expected_end_date == positive + timedelta(days=days)


def test_in_age_band_reads_questions_and_options() -> None:
    assert rules.in_age_band({"age_max_months": 144}, 143) and not rules.in_age_band(
        {"age_max_months": 144}, 144
    )
    assert rules.in_age_band({}, 900) and rules.in_age_band({"age_max_months": 144}, None)
    assert not rules.in_age_band(Question(age_min_months=12), 11)
    assert rules.in_age_band({"age_max_months": "bad"}, 500)  # a malformed band never hides a question
