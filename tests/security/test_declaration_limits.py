"""Declarations: Idempotency-Key limits and reuse (issue 14 item 6, issue 9 item 3), the daily cap per patient
and the bounded history that triage reads (issue 8 item 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.monitoring import services, triage
from health_f0.monitoring.models import Alert, Declaration
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient
from tests.standins.threads import run_together

DECLARATIONS = "/api/v1/declarations"
NORMAL = {"temperature": "36,8", "spo2": 98, "breathing_rate": 16, "symptoms": []}
DANGER = {"temperature": "39", "spo2": 90, "breathing_rate": 16, "symptoms": []}


def at(hour: int, minute: int = 0, day: int = 23) -> datetime:
    """A UTC instant for hour:minute in Ha Noi (UTC+7) on 2026-11-<day>."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


@pytest.fixture
def patient(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.get(account__username="bn0000001")


@pytest.fixture
def as_patient(as_user: Any, patient: Patient) -> Any:
    return as_user("bn0000001")


# --- Idempotency-Key ------------------------------------------------------------------------------


def test_a_key_longer_than_64_characters_is_refused_not_cut(as_patient: Any, patient: Patient) -> None:
    # Two keys that agree on their first 64 characters used to be cut to the same key: the second, an
    # emergency, answered 200 with the first declaration's id and was never stored.
    prefix = "a" * 64
    first = as_patient.post(
        DECLARATIONS, {"answers": NORMAL}, format="json", HTTP_IDEMPOTENCY_KEY=prefix + "-normal"
    )
    second = as_patient.post(
        DECLARATIONS, {"answers": DANGER}, format="json", HTTP_IDEMPOTENCY_KEY=prefix + "-danger"
    )
    for response in (first, second):
        assert response.status_code == 400, response.json()
        body = response.json()
        assert body["code"] == "idempotency_key_too_long"
        assert "64" in body["detail"] and not body["detail"].isascii()
    assert not Declaration.objects.filter(patient=patient).exists()

    exactly = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json", HTTP_IDEMPOTENCY_KEY=prefix)
    assert exactly.status_code == 201, exactly.json()
    assert exactly.json()["alert_level"] == "emergency"
    assert Declaration.objects.get(patient=patient).idempotency_key == prefix


def test_same_key_same_body_returns_the_stored_row(as_patient: Any, patient: Patient) -> None:
    first = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json", HTTP_IDEMPOTENCY_KEY="tap-1")
    # The same answers written differently (a number instead of a string, keys in another order).
    again = as_patient.post(
        DECLARATIONS,
        {"answers": {"symptoms": [], "breathing_rate": "16", "spo2": "98", "temperature": 36.8}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="tap-1",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Declaration.objects.filter(patient=patient).count() == 1


def test_same_key_with_different_answers_is_422_and_stores_nothing(as_patient: Any, patient: Patient) -> None:
    first = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json", HTTP_IDEMPOTENCY_KEY="tap-2")
    reused = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json", HTTP_IDEMPOTENCY_KEY="tap-2")
    assert first.status_code == 201
    assert reused.status_code == 422, reused.json()
    body = reused.json()
    assert body["code"] == "idempotency_key_reused" and not body["detail"].isascii()
    assert Declaration.objects.filter(patient=patient).count() == 1
    assert not Alert.objects.filter(episode__patient=patient).exists()
    # With a fresh key the danger values are recorded and alert the station.
    fresh = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json", HTTP_IDEMPOTENCY_KEY="tap-3")
    assert fresh.status_code == 201 and fresh.json()["alert_level"] == "emergency"
    assert Alert.objects.filter(episode__patient=patient).count() == 1


def test_same_answers_without_a_key_within_two_minutes_is_one_declaration(patient: Patient) -> None:
    first, created = declaration_submit(patient=patient, actor=None, answers=NORMAL, now=at(8))
    again, created_again = declaration_submit(patient=patient, actor=None, answers=NORMAL, now=at(8, 1))
    assert created and not created_again and again.pk == first.pk
    other, created_other = declaration_submit(patient=patient, actor=None, answers=DANGER, now=at(8, 1))
    assert created_other and other.pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_same_key_different_bodies_at_once_one_row_one_refusal(demo: Any) -> None:
    reset_caches()
    patient = Patient.objects.get(account__username="bn0000001")

    def submit(answers: dict[str, Any]) -> Any:
        return declaration_submit(
            patient=patient, actor=None, answers=answers, idempotency_key="race", now=at(8)
        )

    for _ in range(3):
        Alert.objects.all().delete()
        Declaration.objects.all().delete()
        results = run_together(lambda: submit(NORMAL), lambda: submit(DANGER))
        created = [r for r in results if isinstance(r, tuple) and r[1]]
        refused = [r for r in results if isinstance(r, DomainError)]
        assert len(created) == 1 and len(refused) == 1, results
        assert refused[0].code == "idempotency_key_reused" and refused[0].status_code == 422
        assert Declaration.objects.filter(patient=patient).count() == 1


# --- Daily cap and bounded history --------------------------------------------------------------


def test_daily_cap_per_patient(settings: Any, as_patient: Any, patient: Patient) -> None:
    settings.DECLARATIONS_PER_DAY = 3
    keys = [f"day-{i}" for i in range(3)]
    for i, key in enumerate(keys):
        answers = {**NORMAL, "pulse": 70 + i}
        response = as_patient.post(
            DECLARATIONS, {"answers": answers}, format="json", HTTP_IDEMPOTENCY_KEY=key
        )
        assert response.status_code == 201, response.json()
    refused = as_patient.post(
        DECLARATIONS, {"answers": {**NORMAL, "pulse": 90}}, format="json", HTTP_IDEMPOTENCY_KEY="day-3"
    )
    assert refused.status_code == 429, refused.json()
    body = refused.json()
    assert body["code"] == "declaration_daily_limit"
    assert "115" in body["detail"] and not body["detail"].isascii()
    assert 0 < body["retry_after"] <= 24 * 3600 and refused["Retry-After"] == str(body["retry_after"])
    assert Declaration.objects.filter(patient=patient).count() == 3
    # A retry of a stored declaration is still answered with it, cap or not.
    replay = as_patient.post(
        DECLARATIONS, {"answers": {**NORMAL, "pulse": 70}}, format="json", HTTP_IDEMPOTENCY_KEY="day-0"
    )
    assert replay.status_code == 200 and replay.json()["id"]
    # ... and a reused key with other answers is still the clear 422, not a 429.
    reused = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json", HTTP_IDEMPOTENCY_KEY="day-1")
    assert reused.status_code == 422


def test_daily_cap_is_per_local_day(settings: Any, patient: Patient) -> None:
    settings.DECLARATIONS_PER_DAY = 2
    declaration_submit(patient=patient, actor=None, answers=NORMAL, now=at(7))
    declaration_submit(patient=patient, actor=None, answers={**NORMAL, "pulse": 80}, now=at(23, 50))
    with pytest.raises(RateLimited) as refused:
        declaration_submit(patient=patient, actor=None, answers={**NORMAL, "pulse": 81}, now=at(23, 55))
    assert refused.value.code == "declaration_daily_limit"
    assert refused.value.extra["retry_after"] == 5 * 60
    # 00:05 the next day (Ha Noi time) is a new day.
    _, created = declaration_submit(
        patient=patient, actor=None, answers={**NORMAL, "pulse": 82}, now=at(0, 5, day=24)
    )
    assert created


def test_a_refused_declaration_reads_no_history_and_writes_nothing(settings: Any, patient: Patient) -> None:
    settings.DECLARATIONS_PER_DAY = 1
    declaration_submit(patient=patient, actor=None, answers=NORMAL, now=at(7))
    with CaptureQueriesContext(connection) as queries, pytest.raises(RateLimited):
        declaration_submit(patient=patient, actor=None, answers=DANGER, idempotency_key="loop", now=at(7, 1))
    sql = " ".join(q["sql"].upper() for q in queries.captured_queries)
    assert "INSERT" not in sql and "UPDATE" not in sql and "SUBMITTED_AT >=" not in sql
    assert len(queries.captured_queries) <= 3, queries.captured_queries


def test_history_that_triage_reads_is_capped(settings: Any, patient: Patient, monkeypatch: Any) -> None:
    settings.DECLARATIONS_PER_DAY = 1000
    settings.DECLARATION_HISTORY_ROWS = 5
    seen: list[int] = []
    real = triage.triage

    def spy(**kwargs: Any) -> Any:
        seen.append(len(kwargs["history"]))
        return real(**kwargs)

    monkeypatch.setattr(services.triage, "triage", spy)
    for minute in range(12):
        declaration_submit(
            patient=patient, actor=None, answers={**NORMAL, "pulse": 60 + minute}, now=at(8, minute * 3)
        )
    assert seen == [0, 1, 2, 3, 4, 5, 5, 5, 5, 5, 5, 5]


def test_trend_rules_still_see_every_day_when_a_day_is_full(patient: Patient) -> None:
    # Fever on the two days before, then a full day (the cap) of normal declarations: a fever now is the
    # third day running; SpO2 98 two days ago and 95 now is a drop of 3 within 48 hours.
    declaration_submit(
        patient=patient, actor=None, answers={**NORMAL, "temperature": "38.5"}, now=at(9, day=21)
    )
    declaration_submit(
        patient=patient, actor=None, answers={**NORMAL, "temperature": "38.2"}, now=at(20, day=22)
    )
    from django.conf import settings

    for i in range(settings.DECLARATIONS_PER_DAY - 1):
        declaration_submit(
            patient=patient, actor=None, answers={**NORMAL, "pulse": 60 + i}, now=at(0, 10 + i * 2)
        )
    last, created = declaration_submit(
        patient=patient, actor=None, answers={**NORMAL, "temperature": "38.4", "spo2": 95}, now=at(9)
    )
    assert created
    assert any("Sốt 3 ngày liên tiếp" in reason for reason in last.reasons), last.reasons
    assert any("SpO2 giảm 3 điểm" in reason for reason in last.reasons), last.reasons
    with pytest.raises(RateLimited):
        declaration_submit(patient=patient, actor=None, answers={**NORMAL, "pulse": 99}, now=at(9, 5))
