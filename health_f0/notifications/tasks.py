"""Background jobs: send one message; every minute, settle attempts whose result is unknown, send whatever
is due (retries, missed queue calls), apply delivery reports that came early, send by SMS the ZNS messages
that got no delivery report in time, and watch the outbox's age.

The minute jobs hold expiring locks (health_f0.core.locks): a worker killed mid-sweep blocks the sweep
for at most OUTBOX_LOCK_TTL seconds, and not at all once a worker on the same machine restarts."""

from __future__ import annotations

import logging
import threading
import time

from django.db import InterfaceError, OperationalError, connections
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, on_startup

from health_f0.core.locks import task_lock
from health_f0.notifications import services

# The sweep stops starting new sends after SWEEP_SECONDS (the next minute's sweep goes on). Its lock is
# renewed while it runs; OUTBOX_LOCK_TTL is how long a dead sweeper's lock can last.
SWEEP_SECONDS = 50
OUTBOX_LOCK_TTL = 45
DB_RETRY_PAUSE = 2.0

logger = logging.getLogger(__name__)


_started = threading.Event()
_starting = threading.Lock()


@on_startup()
def sweep_when_the_worker_starts() -> None:
    """A (re)started worker sends what is due at once rather than at the next minute's tick. Huey calls
    this in each worker thread; the sweep is queued once per process."""
    with _starting:
        if _started.is_set():
            return
        _started.set()
    services.queue_due_sending()


@db_task(retries=2, retry_delay=10)
def send_message(message_id: int) -> None:
    services.outbox_send(message_id=message_id)


@db_periodic_task(crontab(minute="*"))
@task_lock("outbox-sweep", ttl=OUTBOX_LOCK_TTL)
def send_due_messages() -> int:
    """Settle unknown attempts with the gateway, then send what is due, in batches, until nothing is left
    or SWEEP_SECONDS have passed. Returns how many sends were attempted.

    A database error (MariaDB restarting, a dropped connection) does not end the sweep: it reconnects and
    goes on after DB_RETRY_PAUSE seconds, so sending resumes as soon as the database is back rather than
    at the next minute's sweep. A message whose attempt was recorded before the error is settled with the
    gateway like any attempt in doubt."""
    started, seen, last_id = time.monotonic(), 0, 0
    reconciled = False
    while time.monotonic() - started < SWEEP_SECONDS:
        try:
            if not reconciled:
                services.outbox_reconcile_due()
                reconciled = True
            ids = services.outbox_due_ids(after_id=last_id)
            if not ids:
                break
            for message_id in ids:
                if time.monotonic() - started >= SWEEP_SECONDS:
                    return seen
                services.outbox_send(message_id=message_id)
                seen += 1
                last_id = message_id
        except (OperationalError, InterfaceError) as exc:  # the database went away, not a bug
            logger.warning("outbox sweep: database error (%s); retrying in %s s", exc, DB_RETRY_PAUSE)
            connections.close_all()
            time.sleep(DB_RETRY_PAUSE)
    return seen


@db_periodic_task(crontab(minute="*"))
@task_lock("early-delivery-reports", ttl=OUTBOX_LOCK_TTL)
def apply_early_delivery_reports() -> int:
    """Delivery reports that arrived before their message was saved as sent: apply them now."""
    return services.outbox_apply_early_reports()


@db_periodic_task(crontab(minute="*"))
@task_lock("zns-fallback", ttl=OUTBOX_LOCK_TTL)
def send_zns_fallbacks() -> int:
    """ZNS messages with no delivery report by their fallback time: sent by SMS instead (once each)."""
    return services.zns_fallback_due()


@db_periodic_task(crontab(minute="*"))
@task_lock("outbox-age-check", ttl=OUTBOX_LOCK_TTL)
def check_outbox_age() -> str:
    """Raise (once) or clear the alert on the outbox's oldest waiting message."""
    return services.outbox_age_check()
