"""Periodic monitoring jobs."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from health_f0.monitoring import reminders


@db_periodic_task(crontab(minute="*/5"))
@lock_task("declaration-reminders")
def run_declaration_reminders() -> int:
    return sum(result.queued for result in reminders.run_due())
