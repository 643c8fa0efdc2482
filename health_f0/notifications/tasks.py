"""Background jobs: send one message; every minute, send whatever is due (retries, missed queue calls)
and apply delivery reports that came early."""

from __future__ import annotations

import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from health_f0.notifications import services


@db_task(retries=2, retry_delay=10)
def send_message(message_id: int) -> None:
    services.outbox_send(message_id=message_id)


@db_periodic_task(crontab(minute="*"))
@lock_task("outbox-sweep")
def send_due_messages() -> int:
    """Send what is due in batches until nothing is left or 50 s have passed (the next sweep goes on)."""
    started, seen, last_id = time.monotonic(), 0, 0
    while time.monotonic() - started < 50:
        ids = services.outbox_due_ids(after_id=last_id)
        if not ids:
            break
        for message_id in ids:
            services.outbox_send(message_id=message_id)
        seen += len(ids)
        last_id = ids[-1]
    return seen


@db_periodic_task(crontab(minute="*"))
@lock_task("early-delivery-reports")
def apply_early_delivery_reports() -> int:
    """Delivery reports that arrived before their message was saved as sent: apply them now."""
    return services.outbox_apply_early_reports()
