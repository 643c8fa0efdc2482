"""Issue 9 through the mobile API: the same vitals and age-band rules as the portal (the service's), the
questionnaire carries the age bands and "required" as data (additive), episodes carry the positive date,
and staff cannot choose the outcome reserved for ended episodes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.monitoring.models import Declaration, Episode
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db

QUESTIONNAIRE = "/api/v1/questionnaire"
DECLARATIONS = "/api/v1/declarations"


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


def test_impossible_blood_pressure_is_a_400_asking_to_measure_again(as_user: Any) -> None:
    response = as_user("bn0000001").post(
        DECLARATIONS,
        {"answers": {"temperature": 36.8, "bp_systolic": 70, "bp_diastolic": 120}},
        format="json",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    (error,) = body["errors"]["bp_systolic"]
    assert error["code"] == "bp_systolic_not_above_diastolic" and "đo lại" in error["message"]
    assert not Declaration.objects.exists()


def test_a_pressure_gap_too_small_to_be_real_is_refused(as_user: Any) -> None:
    response = as_user("bn0000001").post(
        DECLARATIONS, {"answers": {"bp_systolic": 120, "bp_diastolic": 118}}, format="json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]["bp_systolic"]
    assert error["code"] == "bp_pulse_pressure_too_small"


def test_a_child_only_sign_for_an_adult_is_a_400(as_user: Any) -> None:
    response = as_user("bn0000001").post(
        DECLARATIONS, {"answers": {"symptoms": ["child_feeding"]}}, format="json"
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]["symptoms"]
    assert error["code"] == "option_not_for_age"


def test_no_temperature_is_fine(as_user: Any) -> None:
    response = as_user("bn0000001").post(DECLARATIONS, {"answers": {"spo2": 98}}, format="json")
    assert response.status_code == 201, response.content


def test_the_questionnaire_carries_required_and_age_bands(as_user: Any) -> None:
    body = as_user("bn0000001").get(QUESTIONNAIRE).json()
    questions = {q["code"]: q for q in body["questions"]}
    assert questions["temperature"]["required"] is False
    assert (
        questions["temperature"]["age_min_months"] is None
        and questions["temperature"]["age_max_months"] is None
    )
    options = {o["code"]: o for o in questions["symptoms"]["options"]}
    assert (
        options["child_feeding"]["age_max_months"] == 144
        and options["child_feeding"]["age_min_months"] is None
    )
    assert options["cough"]["age_max_months"] is None


def test_episodes_carry_the_positive_date_and_the_isolation_start(as_user: Any) -> None:
    hung = Patient.objects.get(account__username="bn0000001")
    episode = Episode.objects.get(patient=hung)
    positive = timezone.localdate() - timedelta(days=3)
    Episode.objects.filter(pk=episode.pk).update(positive_date=positive)
    (row,) = as_user("bn0000001").get("/api/v1/episodes").json()["results"]
    assert row["positive_date"] == positive.isoformat() and row["isolation_start"] == positive.isoformat()
    assert row["start_date"] == episode.start_date.isoformat()


def test_staff_cannot_choose_the_ended_episode_outcome(as_user: Any) -> None:
    hung = Patient.objects.select_related("account").get(account__username="bn0000001")
    declaration, _ = declaration_submit(patient=hung, actor=hung.account, answers={"spo2": "95"})
    response = as_user("thanhdong.nv").post(
        f"/api/v1/alerts/{declaration.public_id}/acknowledge", {"outcome": "episode_ended"}, format="json"
    )
    assert response.status_code == 400
    response = as_user("thanhdong.nv").post(
        f"/api/v1/alerts/{declaration.public_id}/acknowledge", {"outcome": "stable"}, format="json"
    )
    assert response.status_code == 200
