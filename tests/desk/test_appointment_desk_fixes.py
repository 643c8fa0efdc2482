"""The booking desk's and reception's pages after issue 9 (items 19 and 20): "Đổi giờ" with "confirm at the
new time" sends ONE SMS; the slot pickers start at the day the clerk types (dd/mm/yyyy); a booking's page
lists its reminders (scheduled, sent, delivered, failed); the re-exam plan list shows the booked date."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments import reminders, selectors, services
from health_f0.appointments.models import Appointment, AppointmentReminder, ReexamPlan, Service
from health_f0.core.models import AuditLog
from health_f0.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """The demo's clinic services, its waiting request and its re-exam plan."""


WORKLIST = "/desk/appointments/appointment/dat-lich/"
BOOK = "/desk/appointments/appointment/dat-lich-moi/"


def kham_noi() -> Service:
    return Service.objects.get(code="kham-noi")


def demo_request() -> Appointment:
    return Appointment.objects.select_related("patient").get(
        patient__account__username="bn0000001", status="requested"
    )


def free_slots(service: Service, days_ahead: int = 1, span: int = 10) -> list[Any]:
    first = timezone.localdate() + timedelta(days=days_ahead)
    return [
        s
        for s in selectors.slots_free(
            service=service, start=first, end=first + timedelta(days=span), for_staff=True
        )
        if s.free > 0
    ]


# --- "Đổi giờ": one SMS -----------------------------------------------------------------------------


def test_move_and_confirm_sends_one_sms_with_the_new_time(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    before = len([m for m in sms.messages() if m["to"] == appointment.patient.phone])
    target = next(s for s in free_slots(kham_noi(), 3) if s.start != appointment.slot_start)
    url = reverse("admin:appointments_move", args=[appointment.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = desk("datlich").post(
            url, {"slot": target.start.isoformat(), "confirm": "1", "next": WORKLIST}
        )
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == "confirmed" and appointment.slot_start == target.start
    texts = [m["body"] for m in sms.messages() if m["to"] == appointment.patient.phone][before:]
    assert len(texts) == 1, texts
    local = timezone.localtime(target.start)
    assert "da duoc xac nhan" in texts[0] and f"{local:%H:%M %d/%m/%Y}" in texts[0]
    assert appointment.check_in_code in texts[0]
    # Both steps are in the booking's history.
    verbs = set(AuditLog.objects.filter(target_id=str(appointment.pk)).values_list("verb", flat=True))
    assert {"reschedule", "confirm"} <= verbs
    assert appointment.reminders.filter(slot_start=target.start).exists()


def test_a_move_without_confirming_keeps_the_request_and_texts_the_move(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    before = len([m for m in sms.messages() if m["to"] == appointment.patient.phone])
    target = next(s for s in free_slots(kham_noi(), 3) if s.start != appointment.slot_start)
    url = reverse("admin:appointments_move", args=[appointment.pk])
    with django_capture_on_commit_callbacks(execute=True):
        desk("datlich").post(url, {"slot": target.start.isoformat(), "next": WORKLIST})
    appointment.refresh_from_db()
    assert appointment.status == "requested"
    texts = [m["body"] for m in sms.messages() if m["to"] == appointment.patient.phone][before:]
    assert len(texts) == 1 and "da doi sang" in texts[0]


# --- Slot pickers start at a typed day --------------------------------------------------------------


def test_move_page_starts_at_the_typed_day(desk: Any) -> None:
    appointment = demo_request()
    url = reverse("admin:appointments_move", args=[appointment.pk])
    client = desk("datlich")
    html = client.get(url).content.decode()
    assert 'name="tu"' in html and "vDateField" in html  # a date field with the desk's picker
    soon = free_slots(kham_noi(), 1)[0]
    day = timezone.localdate() + timedelta(days=40)
    later = free_slots(kham_noi(), 40)[0]
    html = client.get(url, {"tu": day.strftime("%d/%m/%Y")}).content.decode()
    assert timezone.localtime(later.start).isoformat() in html
    assert timezone.localtime(soon.start).isoformat() not in html
    assert f'value="{day:%d/%m/%Y}"' in html
    # A day that cannot be read says so and starts today.
    html = client.get(url, {"tu": "31/02/2027"}).content.decode()
    assert "Ngày không hợp lệ" in html and timezone.localtime(soon.start).isoformat() in html


def test_phone_booking_picker_starts_at_the_typed_day(desk: Any) -> None:
    client = desk("datlich")
    # The typed day is an open day about two months ahead (a day 60 days ahead may fall in the Tết
    # holidays, when the clinic is closed for a week: the picker then rightly shows that week empty).
    first_open = free_slots(kham_noi(), 60, span=30)[0]
    day = timezone.localtime(first_open.start).date()
    html = client.get(BOOK, {"service": kham_noi().pk, "tu": day.strftime("%d/%m/%Y")}).content.decode()
    assert 'name="tu"' in html
    assert timezone.localtime(first_open.start).isoformat() in html
    # It starts at the typed day: nothing of the day before shows.
    assert f"{day - timedelta(days=1):%Y-%m-%d}T" not in html
    # Never before today.
    html = client.get(BOOK, {"service": kham_noi().pk, "tu": "01/01/2020"}).content.decode()
    assert f'value="{timezone.localdate():%d/%m/%Y}"' in html


# --- Reminders on the booking's page ------------------------------------------------------------------


def test_booking_page_lists_its_reminders_and_their_messages(
    desk: Any, persona: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    slot = next(s for s in free_slots(kham_noi(), 5) if s.start != appointment.slot_start)
    with django_capture_on_commit_callbacks(execute=True):
        moved = services.appointment_reschedule(
            appointment=appointment, actor=persona("datlich"), slot_start=slot.start, confirm=True
        )
    rows = list(moved.reminders.order_by("due_at"))
    assert [r.kind for r in rows] == ["d3", "d1"]
    # The 3-day reminder is sent (and its SMS delivered); the 1-day one still waits.
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders.reminder_send(reminder_id=rows[0].pk, now=rows[0].due_at)
    assert sent is not None and sent.status == "sent"
    OutboxMessage.objects.filter(pk=sent.message_id).update(status="delivered")
    html = (
        desk("datlich")
        .get(reverse("admin:appointments_appointment_change", args=[moved.pk]))
        .content.decode()
    )
    assert "Tin nhắn và nhắc lịch" in html
    assert "Nhắc trước 3 ngày" in html and "Nhắc trước 1 ngày" in html
    assert "Đã đến máy" in html  # the 3-day reminder's SMS, delivered
    assert "Đã lên lịch" in html  # the 1-day reminder
    assert f"{timezone.localtime(rows[1].due_at):%H:%M %d/%m/%Y}" in html
    # The confirmation SMS is listed too.
    assert "Xác nhận lịch" in html or "da duoc xac nhan" in html


def test_reminder_selector_is_scoped_like_the_booking(persona: Any) -> None:
    appointment = demo_request()
    assert selectors.appointment_messages(user=persona("datlich"), appointment=appointment) is not None
    with pytest.raises(Exception):  # noqa: B017 (NotFound: not this station's booking)
        selectors.appointment_messages(user=persona("thanhdong.nv"), appointment=appointment)


def test_failed_reminder_message_is_shown_as_failed(
    desk: Any, persona: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = services.appointment_confirm(appointment=appointment, actor=persona("datlich"))
    reminder = confirmed.reminders.order_by("due_at").first()
    if reminder is None:  # the demo request is too close for any reminder: make one due now
        reminder = AppointmentReminder.objects.create(
            appointment=confirmed, kind="d1", slot_start=confirmed.slot_start, due_at=timezone.now()
        )
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders.reminder_send(reminder_id=reminder.pk, now=max(reminder.due_at, timezone.now()))
    assert sent is not None and sent.message_id
    OutboxMessage.objects.filter(pk=sent.message_id).update(status="dead", last_error="unreachable")
    html = (
        desk("datlich")
        .get(reverse("admin:appointments_appointment_change", args=[confirmed.pk]))
        .content.decode()
    )
    assert "Không gửi được" in html


# --- Re-exam plans show the booked date ----------------------------------------------------------------


def test_reexam_plan_list_shows_the_booked_date_not_the_theoretical_one(desk: Any) -> None:
    plan = ReexamPlan.objects.filter(is_active=True).select_related("patient").first()
    assert plan is not None
    booked = plan.appointments.filter(status__in=("requested", "confirmed")).order_by("slot_start").first()
    assert booked is not None
    # The week of the plan's date was full: the booking went to a later day.
    later = booked.slot_start + timedelta(days=2)
    Appointment.objects.filter(pk=booked.pk).update(slot_start=later, slot_end=later + timedelta(minutes=15))
    html = desk("datlich").get("/desk/appointments/reexamplan/").content.decode()
    local = timezone.localtime(later)
    assert f"{local:%H:%M %d/%m/%Y}" in html
    assert "Lịch đã đặt" in html or "lịch đã đặt" in html
