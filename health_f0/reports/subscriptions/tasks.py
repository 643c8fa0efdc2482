"""Background job of scheduled report e-mails: every five minutes, create the deliveries that are due (one per
subscription and period) and send them, with the failed ones whose retry time has come.

Two workers running it at once send each delivery once: the delivery row is unique per subscription and
period, and a worker sends only a row it moved to "sending" under the row's lock (services.delivery_send)."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from health_f0.reports.subscriptions import services


@db_periodic_task(crontab(minute="*/5"))
def send_due_reports() -> int:
    """Returns how many deliveries went out in this run."""
    return deliveries_run()


def deliveries_run() -> int:
    services.deliveries_create_due()
    sent = 0
    for delivery_id in services.deliveries_due_ids():
        if services.delivery_send(delivery_id=delivery_id) == "sent":
            sent += 1
    return sent
