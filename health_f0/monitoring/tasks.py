"""Periodic monitoring jobs."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from health_f0.core.locks import task_lock
from health_f0.monitoring import reminders


@db_periodic_task(crontab(minute="*/5"))
@task_lock("declaration-reminders", ttl=120)
def run_declaration_reminders() -> int:
    return sum(result.queued for result in reminders.run_due())
