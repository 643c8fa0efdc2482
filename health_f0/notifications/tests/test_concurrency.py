"""Two workers sending the same message at once send it once (real row locks on MariaDB)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from health_f0.notifications import tasks
from health_f0.notifications.models import MessageStatus, OutboxMessage
from health_f0.notifications.services import outbox_send
from tests.standins.esms import EsmsStandIn


def _in_threads(*targets: Any) -> list[Any]:
    """Run each callable in its own thread (own DB connection), started together; return results/errors."""
    barrier = threading.Barrier(len(targets))
    results: list[Any] = [None] * len(targets)

    def run(i: int, fn: Any) -> None:
        try:
            barrier.wait()
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


@pytest.mark.django_db(transaction=True)
def test_two_workers_send_the_same_message_once(esms_gateway: EsmsStandIn, settings: Any) -> None:
    assert connection.features.has_select_for_update_skip_locked
    settings.ESMS_TIMEOUT = 5
    esms_gateway.hang_seconds = 0.6
    esms_gateway.down("slow")  # eSMS answers slowly: the first worker holds the row while it waits
    message = OutboxMessage.objects.create(
        kind="generic", to="+84912345678", body="Nhac lich kham", next_attempt_at=timezone.now()
    )

    def worker() -> tuple[float, Any]:
        start = time.monotonic()
        result = outbox_send(message_id=message.pk)
        return time.monotonic() - start, result

    def sweeper() -> tuple[float, Any]:
        start = time.monotonic()
        result = tasks.send_due_messages.call_local()
        return time.monotonic() - start, result

    results = _in_threads(worker, sweeper)
    assert not any(isinstance(r, Exception) for r in results), results
    assert len(esms_gateway.requests) == 1  # one HTTP request: not even a duplicate that eSMS refuses
    assert len(esms_gateway.messages) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 1
