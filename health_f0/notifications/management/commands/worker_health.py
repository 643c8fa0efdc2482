"""`manage.py worker_health`: what to watch on the background worker, for a monitoring system.

Prints the outbox's backlog (the oldest waiting SMS and its age, how many wait, how many attempts are in
doubt), Huey's queue (tasks pending and scheduled) and every job lock (who holds it, for how long, when it
expires, whether its holder is gone). Exit status, as Nagios-style checks expect: 2 when the oldest
waiting SMS is older than --max-age-minutes (default OUTBOX_ALERT_MINUTES), 1 when a lock is held by a
process of this machine that no longer exists (it will be taken over or expire; a restart of run_huey
clears it at once), else 0. It reads the database and Redis/SQLite only; it changes nothing, so it keeps
working when the worker is down — the case the worker's own outbox-age alert cannot report.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from health_f0.core import locks
from health_f0.notifications.selectors import outbox_backlog


class Command(BaseCommand):
    help = "Outbox age, queue length and job locks of the background worker (exit 2: outbox too old)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object instead of text")
        parser.add_argument("--max-age-minutes", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        from huey.contrib.djhuey import HUEY

        import health_f0.appointments.tasks
        import health_f0.his.tasks
        import health_f0.monitoring.tasks
        import health_f0.notifications.tasks  # noqa: F401 - they declare the locks

        limit = options["max_age_minutes"] or settings.OUTBOX_ALERT_MINUTES
        backlog = outbox_backlog()
        job_locks = {name: locks.lease_status(name) for name in sorted(locks.REGISTERED)}
        report = {
            "outbox": {
                "waiting": backlog.waiting,
                "in_doubt": backlog.unknown,
                "oldest_age_minutes": backlog.age_minutes if backlog.oldest else None,
                "oldest_id": backlog.oldest.pk if backlog.oldest else None,
                "limit_minutes": limit,
            },
            "queue": {"pending": HUEY.pending_count(), "scheduled": HUEY.scheduled_count()},
            "locks": job_locks,
        }
        too_old = backlog.oldest is not None and backlog.age_minutes >= limit
        stale = [name for name, held in job_locks.items() if held and held["holder_dead"]]
        if options["json"]:
            self.stdout.write(json.dumps(report))
        else:
            self._print(report, too_old=too_old, stale=stale)
        if too_old:
            raise SystemExit(2)
        if stale:
            raise SystemExit(1)

    def _print(self, report: dict[str, Any], *, too_old: bool, stale: list[str]) -> None:
        outbox = report["outbox"]
        if outbox["oldest_id"] is None:
            self.stdout.write("outbox: nothing waiting")
        else:
            flag = "  TOO OLD" if too_old else ""
            self.stdout.write(
                f"outbox: {outbox['waiting']} waiting, {outbox['in_doubt']} in doubt; oldest #{outbox['oldest_id']} "
                f"waiting {outbox['oldest_age_minutes']} min (limit {outbox['limit_minutes']}){flag}"
            )
        queue = report["queue"]
        self.stdout.write(f"queue: {queue['pending']} pending, {queue['scheduled']} scheduled")
        for name, held in report["locks"].items():
            if held is None:
                self.stdout.write(f"lock {name}: free")
            else:
                gone = "  HOLDER GONE" if name in stale else ""
                self.stdout.write(
                    f"lock {name}: held {held['age_seconds']} s by {held['host']}:{held['pid']}, "
                    f"expires in {held['expires_in_seconds']} s{gone}"
                )
