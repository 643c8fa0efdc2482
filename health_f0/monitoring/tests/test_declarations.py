"""Declaration submission: validation, lateness in local time, idempotency, alerts, episode state."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.monitoring.models import Alert, Declaration, Episode, ProvincePolicy
from health_f0.monitoring.services import alert_acknowledge, declaration_submit, reset_caches
from health_f0.patients.models import Patient

NORMAL = {"temperature": "36,8", "spo2": 98, "breathing_rate": 16, "symptoms": ["cough"]}


@pytest.fixture
def patient(demo):
    reset_caches()
    return Patient.objects.get(account__username="bn0000001")


def at(hour, minute=0, day=23):
    """A UTC instant for hour:minute in Ha Noi (UTC+7) on 2026-11-<day>."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - (
        datetime(2026, 1, 1, 7) - datetime(2026, 1, 1)
    )


def test_on_time_and_late_in_local_time(patient):
    before, _ = declaration_submit(patient=patient, actor=patient.account, answers=NORMAL, now=at(9, 59))
    assert before.late is False and before.local_date.isoformat() == "2026-11-23"
    after, _ = declaration_submit(
        patient=patient, actor=patient.account, answers={**NORMAL, "spo2": 97}, now=at(10, 1)
    )
    assert after.late is True


def test_local_date_across_midnight(patient):
    # 23:30 UTC on the 22nd is 06:30 on the 23rd in Ha Noi: on time, dated the 23rd.
    early = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    declaration, _ = declaration_submit(patient=patient, actor=patient.account, answers=NORMAL, now=early)
    assert declaration.local_date.isoformat() == "2026-11-23"
    assert declaration.late is False
    # 16:59 UTC on the 23rd is 23:59 local: late, still the 23rd.
    late_night = datetime(2026, 11, 23, 16, 59, tzinfo=UTC)
    declaration, _ = declaration_submit(
        patient=patient, actor=patient.account, answers={**NORMAL, "spo2": 99}, now=late_night
    )
    assert declaration.local_date.isoformat() == "2026-11-23" and declaration.late is True


def test_deadline_is_per_province(patient):
    ProvincePolicy.objects.create(province_code=31, declaration_deadline="11:30", reminder_times=["09:00"])
    reset_caches()
    declaration, _ = declaration_submit(patient=patient, actor=patient.account, answers=NORMAL, now=at(11, 0))
    assert declaration.late is False


def test_double_submit_creates_one(patient):
    first, created = declaration_submit(patient=patient, actor=patient.account, answers=NORMAL, now=at(8))
    again, created_again = declaration_submit(
        patient=patient, actor=patient.account, answers=NORMAL, now=at(8, 1)
    )
    assert created and not created_again and first.pk == again.pk
    keyed, _ = declaration_submit(
        patient=patient, actor=patient.account, answers=NORMAL, idempotency_key="abc", now=at(9)
    )
    same, created = declaration_submit(
        patient=patient, actor=patient.account, answers=NORMAL, idempotency_key="abc", now=at(9, 5)
    )
    assert not created and same.pk == keyed.pk
    # The same key with other answers is refused (422), not answered with the first declaration.
    with pytest.raises(DomainError) as reused:
        declaration_submit(
            patient=patient,
            actor=patient.account,
            answers={**NORMAL, "spo2": 99},
            idempotency_key="abc",
            now=at(9, 6),
        )
    assert reused.value.code == "idempotency_key_reused" and reused.value.status_code == 422
    assert Declaration.objects.filter(patient=patient).count() == 2


@pytest.mark.django_db(transaction=True)
def test_parallel_double_submit_creates_one(demo):
    reset_caches()
    patient = Patient.objects.get(account__username="bn0000001")
    results, barrier = [], threading.Barrier(4)

    def submit():
        try:
            barrier.wait()
            results.append(
                declaration_submit(
                    patient=patient, actor=None, answers=NORMAL, idempotency_key="tap-tap", now=at(8)
                )[0].pk
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert Declaration.objects.filter(patient=patient).count() == 1


def test_out_of_range_rejected_with_clear_message(patient):
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(patient=patient, actor=patient.account, answers={**NORMAL, "spo2": 150})
    (code, message) = exc.value.errors["spo2"][0]
    assert code == "out_of_range" and "150" in message and "50" in message and "100" in message
    with pytest.raises(ValidationErrors) as exc:
        declaration_submit(patient=patient, actor=patient.account, answers={"spo2": "abc", "foo": 1})
    # Temperature is optional (issue 9: what cannot be measured is left blank): no error for it.
    assert set(exc.value.errors) == {"spo2", "foo"}


def test_danger_sign_raises_alert_and_updates_episode(patient, persona):
    declaration, _ = declaration_submit(
        patient=patient,
        actor=patient.account,
        answers={**NORMAL, "spo2": 92, "symptoms": ["shortness_of_breath"]},
        now=at(8),
    )
    assert declaration.alert_level == "emergency"
    assert "Khó thở" in declaration.reasons
    episode = Episode.objects.get(pk=declaration.episode_id)
    assert episode.last_alert_level == "emergency" and episode.last_declared_on.isoformat() == "2026-11-23"
    alert = Alert.objects.get(declaration=declaration)
    with pytest.raises(DomainError):
        alert_acknowledge(alert=alert, actor=persona("lethanhnghi.nv"), outcome="stable")
    acknowledged = alert_acknowledge(alert=alert, actor=persona("thanhdong.nv"), outcome="doctor_visit")
    assert acknowledged.acknowledged_at is not None and acknowledged.outcome == "doctor_visit"
    with pytest.raises(DomainError):
        alert_acknowledge(alert=alert, actor=persona("thanhdong.nv"), outcome="stable")


def test_no_active_episode(patient):
    Episode.objects.filter(patient=patient).update(status="completed")
    with pytest.raises(DomainError) as exc:
        declaration_submit(patient=patient, actor=patient.account, answers=NORMAL)
    assert exc.value.code == "no_active_episode"
