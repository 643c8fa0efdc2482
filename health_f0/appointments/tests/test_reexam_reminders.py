"""Re-exams reserve a place; reminders 3 days and 1 day before, once, never for a cancelled or moved time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from health_f0.appointments import reminders, selectors, services
from health_f0.appointments.models import (
    Appointment,
    AppointmentPolicy,
    AppointmentReminder,
    ReexamPlan,
    ScheduleOverride,
)
from health_f0.appointments.tests.conftest import MONDAY, NOW, local
from health_f0.core.exceptions import PermissionDenied
from health_f0.facilities.models import Facility, Membership
from health_f0.notifications.models import OutboxMessage

pytestmark = pytest.mark.django_db
VISIT_DAY = MONDAY + timedelta(days=7)  # Monday 30/11/2026
EARLY = NOW - timedelta(days=1)


@pytest.fixture
def doctor(persona):
    user = persona("bacsi.dieutri")
    Membership.objects.create(
        user=user, facility=Facility.objects.get(code="KKB-HD"), role="treatment_doctor"
    )
    return user


def reminder_sms(patient):
    return list(OutboxMessage.objects.filter(to=patient.phone, kind="appointment_reminder").order_by("pk"))


def test_reexam_reserves_a_place_and_reminds_3_and_1_days_before(
    clinic, patient, doctor, sms, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        appointment = services.reexam_schedule(
            patient=patient, service=clinic, day=VISIT_DAY, actor=doctor, now=EARLY
        )
    assert appointment.status == "confirmed" and appointment.is_reexam
    assert appointment.slot_start == local(VISIT_DAY, 7)
    assert "da hen tai kham" in sms.last(to=patient.phone)["body"]
    due = sorted(AppointmentReminder.objects.filter(appointment=appointment).values_list("kind", "due_at"))
    assert due == [
        ("d1", local(VISIT_DAY - timedelta(days=1), 8)),
        ("d3", local(VISIT_DAY - timedelta(days=3), 8)),
    ]
    # Nothing before it is due.
    assert reminders.reminders_send_due(now=local(VISIT_DAY - timedelta(days=3), 7, 59)) == 0
    d3 = local(VISIT_DAY - timedelta(days=3), 8, 5)
    with django_capture_on_commit_callbacks(execute=True):
        assert reminders.reminders_send_due(now=d3) == 1
        assert reminders.reminders_send_due(now=d3 + timedelta(minutes=5)) == 0  # the job runs twice
    [message] = reminder_sms(patient)
    assert (
        "nhac lich tai kham" in message.body and "(con 3 ngay)" in message.body and len(message.body) <= 160
    )
    assert f"/h/{appointment.link_code}" in message.body
    d1 = local(VISIT_DAY - timedelta(days=1), 8, 1)
    assert reminders.reminders_send_due(now=d1) == 1
    assert reminders.reminders_send_due(now=d1) == 0
    assert len(reminder_sms(patient)) == 2


def test_no_reminder_after_cancellation(clinic, patient, doctor):
    appointment = services.reexam_schedule(
        patient=patient, service=clinic, day=VISIT_DAY, actor=doctor, now=EARLY
    )
    services.appointment_cancel(appointment=appointment, actor=patient.account, now=EARLY)
    assert reminders.reminders_send_due(now=local(VISIT_DAY, 6)) == 0
    assert reminder_sms(patient) == []


def test_reschedule_replaces_reminders(clinic, patient, doctor, persona):
    appointment = services.reexam_schedule(
        patient=patient, service=clinic, day=VISIT_DAY, actor=doctor, now=EARLY
    )
    # The 3-day reminder for the first time went out; then the desk moves the visit two days later.
    reminders.reminders_send_due(now=local(VISIT_DAY - timedelta(days=3), 8))
    new_day = VISIT_DAY + timedelta(days=2)
    services.appointment_reschedule(
        appointment=appointment,
        actor=persona("datlich"),
        slot_start=local(new_day, 9),
        now=local(VISIT_DAY - timedelta(days=3), 10),
    )
    # 29/11 08:30: the old time's 1-day reminder is cancelled; the new time's 3-day reminder goes out.
    assert reminders.reminders_send_due(now=local(VISIT_DAY - timedelta(days=1), 8, 30)) == 1
    assert "(con 3 ngay)" in reminder_sms(patient)[-1].body
    assert reminders.reminders_send_due(now=local(new_day - timedelta(days=1), 8, 30)) == 1
    kinds = list(
        AppointmentReminder.objects.filter(appointment=appointment)
        .order_by("due_at")
        .values_list("kind", "status")
    )
    assert kinds == [("d3", "sent"), ("d1", "cancelled"), ("d3", "sent"), ("d1", "sent")]
    assert len(reminder_sms(patient)) == 3
    bodies = [m.body for m in reminder_sms(patient)]
    assert "(con 1 ngay)" in bodies[-1] and "09:00 02/12/2026" in bodies[-1]


def test_reminder_days_are_configurable_per_facility(clinic, patient, doctor):
    AppointmentPolicy.objects.create(facility=Facility.objects.get(code="TTYT-HD"), reminder_days_before=[2])
    appointment = services.reexam_schedule(
        patient=patient, service=clinic, day=VISIT_DAY, actor=doctor, now=EARLY
    )
    assert list(appointment.reminders.values_list("kind", flat=True)) == ["d2"]


def test_plan_books_next_after_completion_and_worklists(clinic, patient, doctor, persona):
    plan = services.reexam_plan_create(
        patient=patient,
        service=clinic,
        first_date=VISIT_DAY,
        interval_weeks=4,
        actor=doctor,
        programme="Tăng huyết áp",
        now=EARLY,
    )
    first = plan.appointments.get()
    desk = persona("datlich")
    work = selectors.reexam_worklist(user=desk, now=local(VISIT_DAY - timedelta(days=2), 9))
    assert [a.pk for a in work.to_call] == [first.pk]
    services.reexam_acknowledge(appointment=first, actor=patient.account)
    assert selectors.reexam_worklist(user=desk, now=local(VISIT_DAY - timedelta(days=2), 9)).to_call == []
    services.appointment_check_in(
        code=first.check_in_code, actor=persona("tiepdon"), now=local(VISIT_DAY, 7, 10)
    )
    services.appointment_complete(appointment=first, actor=doctor, now=local(VISIT_DAY, 7, 30))
    following = plan.appointments.exclude(pk=first.pk).get()
    assert following.status == "confirmed" and following.slot_start.date() == VISIT_DAY + timedelta(weeks=4)
    assert following.reexam_of_id == first.pk
    # A missed re-exam shows on the follow-up list until rebooked.
    services.no_show_sweep(now=following.slot_start + timedelta(days=1))
    following.refresh_from_db()
    assert following.status == "no_show"
    assert [
        a.pk
        for a in selectors.reexam_worklist(user=desk, now=following.slot_start + timedelta(days=1)).missed
    ] == [following.pk]


def test_station_staff_cannot_set_reexams(clinic, patient, persona):
    with pytest.raises(PermissionDenied):
        services.reexam_schedule(
            patient=patient, service=clinic, day=VISIT_DAY, actor=persona("thanhdong.nv"), now=EARLY
        )
    assert not Appointment.objects.exists()


def _close(service, first, days):
    for offset in range(days):
        ScheduleOverride.objects.create(
            service=service, date=first + timedelta(days=offset), is_closed=True, reason="Kín lịch"
        )


def test_plan_whose_week_was_full_is_listed_and_rebooked_by_the_daily_job(
    clinic, patient, doctor, persona, sms, django_capture_on_commit_callbacks
):
    plan = services.reexam_plan_create(
        patient=patient, service=clinic, first_date=VISIT_DAY, interval_weeks=4, actor=doctor, now=EARLY
    )
    first = plan.appointments.get()
    due = VISIT_DAY + timedelta(weeks=4)
    _close(clinic, due, 8)  # the week of the next re-exam (and the day after the search window) is closed
    services.appointment_check_in(
        code=first.check_in_code, actor=persona("tiepdon"), now=local(VISIT_DAY, 7, 10)
    )
    services.appointment_complete(appointment=first, actor=doctor, now=local(VISIT_DAY, 7, 30))
    plan.refresh_from_db()
    assert plan.next_date == due and plan.appointments.count() == 1  # no place that week
    later = local(due - timedelta(days=10), 6, 15)
    visible = selectors.reexam_plans_visible(persona("datlich"))
    assert selectors.reexam_plans_unbooked(plans=visible, now=later) == [plan]
    assert (
        selectors.reexam_plans_unbooked(plans=selectors.reexam_plans_visible(persona("thanhdong.nv"))) == []
    )

    # Still closed: the job tries, books nothing, and the plan stays listed.
    assert services.reexam_plans_rebook(now=later, search_days=7) == (0, 1)
    # The clinic opens on the Tuesday: the next morning's job finds it.
    ScheduleOverride.objects.filter(service=clinic, date=due + timedelta(days=1)).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reexam_plans_rebook(now=later, search_days=7) == (1, 0)
    booked = plan.appointments.exclude(pk=first.pk).get()
    assert booked.status == "confirmed" and booked.is_reexam and booked.created_by is None
    assert booked.slot_start == local(due + timedelta(days=1), 7)
    assert "da hen tai kham" in sms.last(to=patient.phone)["body"]
    assert AppointmentReminder.objects.filter(appointment=booked).count() == 2
    assert selectors.reexam_plans_unbooked(plans=visible, now=later) == []
    assert services.reexam_plans_rebook(now=later) == (0, 0)  # runs again: nothing twice


def test_cancelled_or_missed_reexams_are_not_rebooked_by_the_job(clinic, patient, doctor):
    plan = services.reexam_plan_create(
        patient=patient, service=clinic, first_date=VISIT_DAY, interval_weeks=4, actor=doctor, now=EARLY
    )
    services.appointment_cancel(appointment=plan.appointments.get(), actor=patient.account, now=EARLY)
    assert services.reexam_plans_rebook(now=EARLY) == (0, 0)  # the desk's missed list follows these up
    assert plan.appointments.count() == 1


def test_plan_past_its_end_date_is_closed_not_rebooked(clinic, patient, doctor):
    plan = services.reexam_plan_create(
        patient=patient, service=clinic, first_date=VISIT_DAY, interval_weeks=4, actor=doctor, now=EARLY
    )
    plan.appointments.all().delete()  # as if its booking never happened
    ReexamPlan.objects.filter(pk=plan.pk).update(end_date=VISIT_DAY - timedelta(days=1))
    assert services.reexam_plans_rebook(now=EARLY) == (0, 0)
    plan.refresh_from_db()
    assert not plan.is_active


def test_desk_rebooks_a_plan_now_scoped_to_its_facility(
    clinic, patient, doctor, persona, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    plan = services.reexam_plan_create(
        patient=patient, service=clinic, first_date=VISIT_DAY, interval_weeks=4, actor=doctor, now=EARLY
    )
    plan.appointments.all().delete()
    url = reverse("admin:appointments_reexam_plan_rebook", args=[plan.pk])
    client.force_login(persona("thanhdong.nv"))  # a station: not their plan
    assert client.post(url).status_code in (302, 403, 404)
    assert not plan.appointments.exists()
    client.force_login(persona("datlich"))
    page = client.get(reverse("admin:appointments_reexams")).content.decode()
    assert "Tái khám định kỳ chưa có chỗ (1)" in page and patient.full_name in page
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    assert "Đã đặt lịch tái khám cho" in response.content.decode()
    assert plan.appointments.get().status == "confirmed"
    assert "Tái khám định kỳ chưa có chỗ (0)" in response.content.decode()
