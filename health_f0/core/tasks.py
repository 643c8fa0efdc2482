"""Background jobs of the core app: purge expired rate-limit counters from the database."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from health_f0.core.counters import counters_purge


@db_periodic_task(crontab(minute="*/10"))
@lock_task("rate-counters-purge")
def purge_rate_counters() -> int:
    return counters_purge()
