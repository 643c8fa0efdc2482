"""eSMS delivery reports at /hooks/esms/<token>: secret checked, parsed, applied once; bad input is a 400."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from health_f0.notifications.models import EarlyDeliveryReport, MessageStatus, OutboxMessage
from health_f0.notifications.services import (
    EARLY_REPORT_KEEP_DAYS,
    outbox_apply_early_reports,
    outbox_send,
    sms_enqueue,
)
from tests.standins.esms import EsmsStandIn
from tests.standins.fixtures import CALLBACK_TOKEN

HOOK = f"/hooks/esms/{CALLBACK_TOKEN}"


def _send(capture: Any) -> OutboxMessage:
    with capture(execute=True):
        message = sms_enqueue(to="+84987654321", body="Nhac lich tai kham", kind="generic")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    return message


@pytest.mark.django_db
def test_delivered_report_marks_delivered_once(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send(django_capture_on_commit_callbacks)
    params = esms_gateway.callback_params(esms_gateway.messages[0])
    client = Client(enforce_csrf_checks=True)
    response = client.get(HOOK, params)
    assert response.status_code == 200 and response.json() == {"matched": 1, "final": True}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    # eSMS retries callbacks: a repeat is acknowledged and changes nothing.
    assert client.get(HOOK, params).json()["matched"] == 0
    # POST (form) works too, without a CSRF token.
    assert client.post(HOOK, params).status_code == 200


@pytest.mark.django_db
def test_undelivered_report_marks_dead(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send(django_capture_on_commit_callbacks)
    params = esms_gateway.callback_params(esms_gateway.messages[0], delivered=False)
    assert Client().get(HOOK, params).status_code == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD and "not delivered" in message.last_error


@pytest.mark.django_db
def test_intermediate_status_changes_nothing(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send(django_capture_on_commit_callbacks)
    params = esms_gateway.callback_params(esms_gateway.messages[0], status="7")
    response = Client().get(HOOK, params)
    assert response.status_code == 200 and response.json()["final"] is False
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT


@pytest.mark.django_db
def test_report_matches_by_request_id_when_esms_gave_no_id(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send(django_capture_on_commit_callbacks)
    OutboxMessage.objects.filter(pk=message.pk).update(provider_message_id="")
    params = esms_gateway.callback_params(esms_gateway.messages[0])
    assert Client().get(HOOK, params).json()["matched"] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", [f"/hooks/esms/{CALLBACK_TOKEN}x", "/hooks/esms/wrong", f"/hooks/esms/{CALLBACK_TOKEN[:-1]}"]
)
def test_wrong_token_is_not_found(esms_gateway: EsmsStandIn, path: str) -> None:
    assert Client().get(path, {"SMSID": "x", "SendStatus": "5"}).status_code == 404


@pytest.mark.django_db
def test_hook_is_off_without_a_token(settings: Any) -> None:
    settings.ESMS_CALLBACK_TOKEN = ""
    assert Client().get("/hooks/esms/anything", {"SMSID": "x", "SendStatus": "5"}).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "params",
    [
        {},
        {"SendStatus": "5", "SendSuccess": "1"},
        {"SMSID": "abc", "SendStatus": "9"},
        {"SMSID": "abc", "SendStatus": "xyz"},
        {"SMSID": "abc", "SendStatus": "5", "SendSuccess": "một"},
        {"SMSID": "a" * 65, "SendStatus": "5"},
        {"SMSID": "abc", "SendStatus": "5", "RequestId": "not-a-uuid", "SendSuccess": "1"},
    ],
)
def test_bad_reports_are_400_never_500(esms_gateway: EsmsStandIn, params: dict[str, str]) -> None:
    response = Client().get(HOOK, params)
    if params.get("RequestId") == "not-a-uuid":  # well-formed report for an unknown message: acknowledged
        assert response.status_code == 200 and response.json()["matched"] == 0
    else:
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_callback"


@pytest.mark.django_db
def test_other_methods_are_refused(esms_gateway: EsmsStandIn) -> None:
    assert Client().put(HOOK).status_code == 405


@pytest.mark.django_db(transaction=True)
def test_standin_calls_back_over_http(esms_gateway: EsmsStandIn, live_server: Any, settings: Any) -> None:
    """The whole loop: eSMS takes the message, later reports delivery to our public hook by HTTP GET."""
    settings.PORTAL_URL = live_server.url
    message = sms_enqueue(
        to="+84987654321", body="Nhac lich tai kham", kind="generic"
    )  # autocommit: sent now
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    [received] = esms_gateway.messages
    assert received.callback_url == f"{live_server.url}/hooks/esms/{CALLBACK_TOKEN}"
    assert esms_gateway.send_callback(received) == 200
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


@pytest.mark.django_db
def test_report_before_the_send_is_saved_is_kept_and_applied(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    """A report for a message still being sent (not yet SENT) waits, and lands once the send is saved."""
    with django_capture_on_commit_callbacks(execute=False):
        message = sms_enqueue(to="+84987654321", body="Nhac lich tai kham", kind="generic")
    response = Client().get(
        HOOK,
        {
            "SMSID": "not-yet-known",
            "SendStatus": "5",
            "SendSuccess": "1",
            "SendFailed": "0",
            "RequestId": str(message.public_id),
        },
    )
    assert response.json() == {"matched": 0, "final": True}
    assert EarlyDeliveryReport.objects.count() == 1
    outbox_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and message.delivered_at is not None
    assert not EarlyDeliveryReport.objects.exists()


@pytest.mark.django_db
def test_early_report_by_gateway_id_is_applied_by_the_sweep(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _send(django_capture_on_commit_callbacks)
    OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.QUEUED)
    params = esms_gateway.callback_params(esms_gateway.messages[0], delivered=False)
    params["RequestId"] = ""
    assert Client().get(HOOK, params).json()["matched"] == 0
    OutboxMessage.objects.filter(pk=message.pk).update(status=MessageStatus.SENT)
    assert outbox_apply_early_reports() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD
    assert not EarlyDeliveryReport.objects.exists()


@pytest.mark.django_db
def test_repeated_or_stale_reports_are_not_kept(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _send(django_capture_on_commit_callbacks)
    params = esms_gateway.callback_params(esms_gateway.messages[0])
    Client().get(HOOK, params)
    Client().get(HOOK, params)  # eSMS retried: the message is already final, nothing waits
    assert not EarlyDeliveryReport.objects.exists()
    EarlyDeliveryReport.objects.create(provider_message_id="never-ours", delivered=True)
    EarlyDeliveryReport.objects.update(
        received_at=timezone.now() - timedelta(days=EARLY_REPORT_KEEP_DAYS + 1)
    )
    assert outbox_apply_early_reports() == 0
    assert not EarlyDeliveryReport.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_gateway_reporting_before_answering_loses_nothing(
    esms_gateway: EsmsStandIn, live_server: Any, settings: Any
) -> None:
    """eSMS's report reaches our hook over HTTP while the sender still holds the message: nothing is lost."""
    settings.PORTAL_URL = live_server.url
    esms_gateway.down("report_first")
    message = sms_enqueue(to="+84987654321", body="Nhac lich tai kham", kind="generic")
    assert esms_gateway.callbacks and esms_gateway.callbacks[0]["status"] == 200
    outbox_apply_early_reports()  # the minute sweep, in case the report was stored after the sender looked
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert not EarlyDeliveryReport.objects.exists()
