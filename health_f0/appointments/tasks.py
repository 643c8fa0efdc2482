"""Periodic appointment jobs (Huey runs its crontab in UTC: Vietnam is UTC+7 all year)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from health_f0.appointments import reminders, services


@db_periodic_task(crontab(minute="*/5"))
@lock_task("appointment-reminders")
def send_appointment_reminders() -> int:
    return reminders.reminders_send_due()


# Hourly from 07:05 to 21:05 local time (00-14 UTC): marks the days already over, and its SMS never
# wakes anyone at night. A worker that was down catches up at the next run.
@db_periodic_task(crontab(minute="5", hour="0-14"))
@lock_task("appointment-no-shows")
def mark_no_shows() -> int:
    no_shows, expired = services.no_show_sweep()
    return no_shows + expired


# Daily at 06:15 local time (23:15 UTC): plans whose next re-exam found the week full get another try.
@db_periodic_task(crontab(minute="15", hour="23"))
@lock_task("reexam-plans-rebook")
def rebook_reexam_plans() -> int:
    booked, _waiting = services.reexam_plans_rebook()
    return booked
