"""Periodic payment job (Huey): settle payments whose callback never came, expire the stale ones, release
bookings left unpaid past their deadline, and refund the fees of cancelled bookings."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from health_f0.core.locks import task_lock
from health_f0.payments import services


@db_periodic_task(crontab(minute="*"))
@task_lock("payments-sweep", ttl=300)
def payments_sweep() -> dict[str, int]:
    return services.payments_sweep()
