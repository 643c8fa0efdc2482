"""Appointment reminders (3 days and 1 day before by default, per facility policy).

A reminder is a row scheduled when an appointment becomes confirmed (booked by staff, confirmed by the
desk, reserved as a re-exam) and sent by a periodic job when due. Its unique key (appointment, kind, slot
time) makes sending idempotent however often the job runs; a cancelled appointment's reminders are
cancelled; a rescheduled one's old reminders are cancelled and new ones made for the new time only. The
sender checks again, under the reminder's row lock, that the appointment is still confirmed at that time.

An online consultation's reminders carry its own video room, and one more reminder (kind "room") is sent as
the room opens, VIDEO_ROOM_OPEN_MINUTES before the slot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from health_f0.appointments import texts
from health_f0.appointments.models import Appointment, AppointmentReminder, ReminderStatus, Status
from health_f0.appointments.selectors import is_online, meeting_opens_at, reminder_policy
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.notifications.services import sms_enqueue

SMS_KIND = "appointment_reminder"
ROOM_OPEN = "room"  # an online consultation's reminder as its video room opens
# A reminder the worker could not send within this time after it was due is dropped, not sent late.
STALE_AFTER = timedelta(hours=12)


def reminders_schedule(*, appointment: Appointment, now: datetime | None = None) -> list[AppointmentReminder]:
    """Create the reminders of the appointment's current time. Reminders whose moment has already passed
    are not made: the confirmation SMS just sent stands in for them."""
    now = now or timezone.now()
    days, at = reminder_policy(appointment.facility)
    day = local_date_of(appointment.slot_start)
    made = []
    for before in sorted(set(days), reverse=True):
        due = datetime.combine(day - timedelta(days=before), at, tzinfo=LOCAL_TZ)
        if due <= now or due >= appointment.slot_start:
            continue
        reminder, _ = AppointmentReminder.objects.get_or_create(
            appointment=appointment,
            kind=f"d{before}",
            slot_start=appointment.slot_start,
            defaults={"due_at": due},
        )
        made.append(reminder)
    if is_online(appointment.service) and appointment.meeting_room:
        due = meeting_opens_at(appointment)
        if due > now:
            reminder, _ = AppointmentReminder.objects.get_or_create(
                appointment=appointment,
                kind=ROOM_OPEN,
                slot_start=appointment.slot_start,
                defaults={"due_at": due},
            )
            made.append(reminder)
    return made


def reminders_cancel(*, appointment: Appointment) -> int:
    """Cancel the appointment's reminders not sent yet (on cancellation, reschedule, check-in)."""
    return AppointmentReminder.objects.filter(
        appointment=appointment, status=ReminderStatus.SCHEDULED
    ).update(status=ReminderStatus.CANCELLED)


def reminder_send(*, reminder_id: int, now: datetime | None = None) -> AppointmentReminder | None:
    """Send one due reminder at most once (row locked, SKIP LOCKED: a second worker passes it by)."""
    now = now or timezone.now()
    with transaction.atomic():
        reminder = (
            AppointmentReminder.objects.select_for_update(skip_locked=True)
            .filter(pk=reminder_id, status=ReminderStatus.SCHEDULED, due_at__lte=now)
            .first()
        )
        if reminder is None:
            return None
        appointment = Appointment.objects.select_related("service", "facility", "patient").get(
            pk=reminder.appointment_id
        )
        still_valid = (
            appointment.status == Status.CONFIRMED
            and appointment.slot_start == reminder.slot_start
            and appointment.slot_start > now
            and now - reminder.due_at <= STALE_AFTER
        )
        if not still_valid:
            reminder.status = ReminderStatus.SKIPPED
            reminder.save(update_fields=["status"])
            return reminder
        days_left = (local_date_of(appointment.slot_start) - local_date_of(now)).days
        online = is_online(appointment.service) and bool(appointment.meeting_room)
        event = "room_open" if reminder.kind == ROOM_OPEN else "reminder"
        body = texts.render(
            texts.event_for(event, online=online),
            **texts.appointment_fields(appointment),
            what="" if online else "tai kham" if appointment.is_reexam else "kham",
            days=days_left,
        )
        message = sms_enqueue(
            to=appointment.patient.phone,
            body=body,
            kind=SMS_KIND,
            facility=appointment.facility,
            subject_ref=f"appointment:{appointment.pk}",
            expires_at=appointment.slot_start,
        )
        reminder.status = ReminderStatus.SENT
        reminder.sent_at = now
        reminder.message = message
        reminder.save(update_fields=["status", "sent_at", "message"])
        return reminder


def reminders_send_due(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Send every reminder that is due. Returns how many were sent."""
    now = now or timezone.now()
    ids = list(
        AppointmentReminder.objects.filter(status=ReminderStatus.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    sent = 0
    for reminder_id in ids:
        result = reminder_send(reminder_id=reminder_id, now=now)
        if result is not None and result.status == ReminderStatus.SENT:
            sent += 1
    return sent
