"""Reminder schedule: only silent patients, one SMS per slot per day, call list and escalation once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from health_f0.monitoring import reminders
from health_f0.monitoring.models import Episode, ReminderLog
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient

DAY = date(2026, 11, 23)


def local(hour, minute=0, day=DAY):
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


@pytest.fixture
def episode(demo, persona):
    reset_caches()
    patient = Patient.objects.get(account__username="bn0000001")
    head = persona("thanhdong.truong")
    head.phone = "+84911222333"
    head.save()
    Episode.objects.filter(patient=patient).update(start_date=DAY - timedelta(days=3))
    return Episode.objects.get(patient=patient)


def reminder_sms():
    return OutboxMessage.objects.filter(kind="reminder")


def test_no_reminder_before_first_slot(episode):
    assert reminders.run_due(now=local(7, 59)) == []
    assert not reminder_sms().exists()


def test_one_sms_per_slot_per_day(episode):
    reminders.run_due(now=local(8, 0))
    reminders.run_due(now=local(8, 5))
    reminders.run_due(now=local(9, 0))
    assert reminder_sms().count() == 1
    body = reminder_sms().get().body
    assert "NGUYEN VAN HUNG" in body and "10:00" in body and len(body) <= 160
    reminders.run_due(now=local(9, 30))
    reminders.run_due(now=local(9, 35))
    assert reminder_sms().count() == 2
    assert set(ReminderLog.objects.values_list("kind", flat=True)) == {"sms_1", "sms_2"}


def test_declared_patient_gets_nothing(episode):
    declaration_submit(patient=episode.patient, actor=None, answers={"temperature": "36.6"}, now=local(7, 30))
    reminders.run_due(now=local(8, 0))
    reminders.run_due(now=local(9, 30))
    assert not reminder_sms().exists()


def test_late_worker_sends_only_latest_slot(episode):
    reminders.run_due(now=local(9, 40))
    assert list(ReminderLog.objects.values_list("kind", flat=True)) == ["sms_2"]


def test_reminder_expires_at_deadline(episode):
    reminders.run_due(now=local(9, 45))
    message = reminder_sms().get()
    assert message.expires_at == local(10, 0)


def test_call_list_at_deadline_once(episode):
    reminders.run_due(now=local(10, 0))
    reminders.run_due(now=local(10, 5))
    assert ReminderLog.objects.filter(kind="call_list", local_date=DAY).count() == 1
    assert not reminder_sms().exists()


def test_escalation_after_two_silent_days(episode):
    Episode.objects.filter(pk=episode.pk).update(last_declared_on=DAY - timedelta(days=1))
    reminders.run_due(now=local(10, 30))
    assert not ReminderLog.objects.filter(kind="escalation").exists()  # silent one day only
    Episode.objects.filter(pk=episode.pk).update(last_declared_on=DAY - timedelta(days=2))
    ReminderLog.objects.all().delete()
    reminders.run_due(now=local(10, 30))
    reminders.run_due(now=local(11, 0))
    assert ReminderLog.objects.filter(kind="escalation").count() == 1
    staff_sms = OutboxMessage.objects.filter(kind="staff_alert")
    assert staff_sms.count() == 1 and staff_sms.get().to == "+84911222333"
    assert "1 nguoi benh" in staff_sms.get().body
