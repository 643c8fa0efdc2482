"""The Zalo ZNS webhook at /hooks/zalo: public, CSRF-exempt, signature-verified, idempotent; bad input is a
4xx, never a 500. Also: two workers sweeping the same overdue ZNS message send one SMS."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from health_f0.notifications import services, tasks
from health_f0.notifications.models import Channel, ContactPreference, MessageStatus, OutboxMessage
from tests.standins.esms import EsmsStandIn
from tests.standins.threads import run_together
from tests.standins.zns import ZnsStandIn, zns_fixture, zns_gateway_fixture  # noqa: F401

HOOK = "/hooks/zalo"
PHONE = "+84987654321"


def _send_by_zns(capture: Any) -> OutboxMessage:
    ContactPreference.objects.get_or_create(phone=PHONE, defaults={"channel": Channel.ZNS})
    with capture(execute=True):
        message = services.sms_enqueue(
            to=PHONE, body="Nhac lich kham", kind="appointment_reminder", subject_ref="appointment:5"
        )
    message.refresh_from_db()
    assert message.channel == Channel.ZNS and message.status == MessageStatus.SENT
    return message


def _post(client: Client, body: bytes, signature: str) -> Any:
    return client.post(HOOK, body, content_type="application/json", HTTP_X_ZEVENT_SIGNATURE=signature)


@pytest.mark.django_db
def test_signed_delivery_marks_delivered_once(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send_by_zns(django_capture_on_commit_callbacks)
    body, signature = zns_gateway.event_body(zns_gateway.messages[0])
    client = Client(enforce_csrf_checks=True)
    response = _post(client, body, signature)
    assert response.status_code == 200 and response.json() == {"matched": 1, "handled": True}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    # Zalo retries webhooks: a repeat is acknowledged and changes nothing; the signature without "mac=" too.
    assert _post(client, body, signature.removeprefix("mac=")).json() == {"matched": 0, "handled": True}
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_standin_calls_the_webhook_over_http(
    zns_gateway: ZnsStandIn,
    esms_gateway: EsmsStandIn,
    live_server: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    message = _send_by_zns(django_capture_on_commit_callbacks)
    assert zns_gateway.deliver(zns_gateway.messages[0], live_server.url + HOOK) == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


@pytest.mark.django_db
def test_bad_requests_are_4xx(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send_by_zns(django_capture_on_commit_callbacks)
    body, signature = zns_gateway.event_body(zns_gateway.messages[0])
    client = Client()
    # A forged event (wrong MAC, tampered body, missing signature) changes nothing.
    assert _post(client, body, "mac=" + "0" * 64).status_code == 403
    assert _post(client, body.replace(b"user_received", b"user_receivedX"), signature).status_code == 403
    assert _post(client, body, "").status_code == 403
    # Signed by the right secret but for another app.
    event = json.loads(body)
    event["app_id"] = "999"
    other = json.dumps(event).encode()
    assert _post(client, other, "mac=" + zns_gateway.signature(other, event["timestamp"])).status_code == 403
    # Not JSON, not an object; no msg_id; an unreadable delivery time: 400.
    assert _post(client, b"not json", signature).status_code == 400
    assert _post(client, b"[1, 2]", signature).status_code == 400
    for broken in ({"msg_id": ""}, {"delivery_time": "soon"}):
        event = json.loads(body)
        event["message"].update(broken)
        raw = json.dumps(event).encode()
        response = _post(client, raw, "mac=" + zns_gateway.signature(raw, event["timestamp"]))
        assert response.status_code == 400 and response.json()["code"] == "invalid_event"
    assert client.get(HOOK).status_code == 405
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


@pytest.mark.django_db
def test_other_events_are_acknowledged_and_ignored(zns_gateway: ZnsStandIn) -> None:
    event = {"app_id": zns_gateway.app_id, "event_name": "follow", "timestamp": "1733450000000"}
    body = json.dumps(event).encode()
    response = _post(Client(), body, "mac=" + zns_gateway.signature(body, event["timestamp"]))
    assert response.status_code == 200 and response.json() == {"matched": 0, "handled": False}


@pytest.mark.django_db
def test_webhook_refused_when_zns_not_configured(settings: Any, zns_gateway: ZnsStandIn) -> None:
    settings.ZNS_OA_SECRET_KEY = ""
    event = {"app_id": zns_gateway.app_id, "event_name": "follow", "timestamp": "1"}
    body = json.dumps(event).encode()
    assert _post(Client(), body, "mac=" + zns_gateway.signature(body, "1")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_two_workers_fall_back_once(zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn) -> None:
    """The minute sweep on two workers (and the fallback job run twice at once) make one SMS, sent once."""
    assert connection.features.has_select_for_update_skip_locked
    ContactPreference.objects.create(phone=PHONE, channel=Channel.ZNS)
    message = services.sms_enqueue(to=PHONE, body="Nhac lich kham", kind="appointment_reminder")
    services.outbox_send(message_id=message.pk)
    OutboxMessage.objects.filter(pk=message.pk).update(fallback_at=timezone.now() - timedelta(seconds=1))

    results = run_together(
        lambda: services.zns_fallback_due(),
        lambda: services.zns_fallback_due(),
        lambda: tasks.send_due_messages.call_local(),
    )
    assert not any(isinstance(r, Exception) for r in results), results
    assert sum(results[:2]) == 1  # one of the two sweeps took it; the other found it locked or done
    tasks.send_due_messages.call_local()
    message.refresh_from_db()
    assert message.status == MessageStatus.FELL_BACK
    assert OutboxMessage.objects.filter(channel=Channel.SMS).count() == 1
    assert len(esms_gateway.messages) == 1
