"""An online request the desk has not confirmed lapses BEFORE the visit, and the patient is told (issue 9,
item 19: "reminders never reach a booking the desk has not confirmed yet; it then expires silently").

The rule: the desk confirms a request up to the service's minimum notice before the visit (the notice the
patient had to give when booking online, 2 hours by default). Until then the request holds its seat; at
that moment it lapses: the seat is freed and the patient gets an SMS saying the request was not confirmed,
with the booking's link (its page offers to book again). Reminders are for confirmed bookings only: a
reminder tells the patient to come, which the desk has not agreed to yet; once the desk confirms, the
reminders still ahead are scheduled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from health_f0.appointments import reminders, selectors, services, tasks
from health_f0.appointments.models import AppointmentReminder, SlotCounter
from health_f0.appointments.tests.conftest import MONDAY, NOW, local
from health_f0.core.models import AuditLog

pytestmark = pytest.mark.django_db


def request_for(clinic, patient, patient_user, hour=9):
    return services.appointment_book(
        patient=patient,
        service=clinic,
        slot_start=local(MONDAY, hour),
        channel="app",
        actor=patient_user,
        now=NOW,
    )


def test_a_request_lapses_at_the_services_notice_before_the_visit(
    clinic, patient, patient_user, sms, django_capture_on_commit_callbacks
):
    request = request_for(clinic, patient, patient_user)
    assert request.status == "requested"
    deadline = selectors.request_lapses_at(request)
    assert deadline == local(MONDAY, 7)  # 09:00 less the service's 2 hours of notice
    assert services.requests_lapse(now=deadline - timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert services.requests_lapse(now=deadline) == 1
    request.refresh_from_db()
    assert (request.status, request.cancel_source) == ("cancelled", "system")
    assert SlotCounter.objects.get(service=clinic, slot_start=request.slot_start).booked == 0
    body = sms.last(to=patient.phone)["body"]
    assert "chua duoc xac nhan" in body and "/h/" in body
    assert AuditLog.objects.filter(verb="expire", target_id=str(request.pk)).exists()
    # Once only, whatever how often the job runs.
    count = len(sms.messages())
    with django_capture_on_commit_callbacks(execute=True):
        assert services.requests_lapse(now=deadline + timedelta(minutes=5)) == 0
    assert len(sms.messages()) == count


def test_confirmed_and_confirmed_in_time_bookings_never_lapse(clinic, patient, patient_user, persona):
    request = request_for(clinic, patient, patient_user)
    services.appointment_confirm(appointment=request, actor=persona("datlich"), now=local(MONDAY, 6, 30))
    assert services.requests_lapse(now=local(MONDAY, 8)) == 0
    request.refresh_from_db()
    assert request.status == "confirmed"


def test_the_periodic_job_lapses_requests(clinic, patient, patient_user, monkeypatch):
    request = request_for(clinic, patient, patient_user)
    monkeypatch.setattr(services.timezone, "now", lambda: local(MONDAY, 7, 5))
    assert tasks.lapse_unconfirmed_requests.call_local() == 1
    request.refresh_from_db()
    assert request.status == "cancelled"


def test_a_request_gets_no_reminder_until_confirmed_then_the_ones_still_ahead(
    clinic, patient, patient_user, persona
):
    request = request_for(clinic, patient, patient_user)
    assert not AppointmentReminder.objects.filter(appointment=request).exists()
    # Confirmed on Saturday: the 3-day reminder (Friday 08:00) is past, the 1-day one (Sunday 08:00) ahead.
    services.appointment_confirm(
        appointment=request, actor=persona("datlich"), now=local(MONDAY - timedelta(days=2), 10)
    )
    assert list(request.reminders.values_list("kind", flat=True)) == ["d1"]
    sent = reminders.reminders_send_due(now=local(MONDAY - timedelta(days=1), 8))
    assert sent == 1


def test_desk_sees_the_lapse_moment_of_a_request(clinic, patient, patient_user, persona):
    request = request_for(clinic, patient, patient_user)
    view = selectors.appointment_messages(user=persona("datlich"), appointment=request)
    assert view.lapses_at == local(MONDAY, 7)
    assert view.reminders == []
