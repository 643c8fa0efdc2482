"""Periodic appointment jobs (Huey runs its crontab in UTC: Vietnam is UTC+7 all year)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from health_f0.appointments import reminders, services
from health_f0.core.locks import task_lock


@db_periodic_task(crontab(minute="*/5"))
@task_lock("appointment-reminders", ttl=120)
def send_appointment_reminders() -> int:
    return reminders.reminders_send_due()


# Hourly from 07:05 to 21:05 local time (00-14 UTC): marks the days already over, and its SMS never
# wakes anyone at night. A worker that was down catches up at the next run.
@db_periodic_task(crontab(minute="5", hour="0-14"))
@task_lock("appointment-no-shows", ttl=120)
def mark_no_shows() -> int:
    no_shows, expired = services.no_show_sweep()
    return no_shows + expired


# Daily at 06:15 local time (23:15 UTC): plans whose next re-exam found the week full get another try.
@db_periodic_task(crontab(minute="15", hour="23"))
@task_lock("reexam-plans-rebook", ttl=120)
def rebook_reexam_plans() -> int:
    booked, _waiting = services.reexam_plans_rebook()
    return booked


# Every 5 minutes: online requests the desk has not confirmed by the service's minimum notice before the
# visit lapse, and the patient is texted while there is still time not to travel.
@db_periodic_task(crontab(minute="*/5"))
@task_lock("appointment-requests-lapse", ttl=120)
def lapse_unconfirmed_requests() -> int:
    return services.requests_lapse()
