"""The SMS outbox against the eSMS stand-in: sending, outages, retries, refusals, expiry, secrets."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from health_f0.notifications import crypto, tasks
from health_f0.notifications.models import MessageKind, MessageStatus, OutboxMessage
from health_f0.notifications.services import outbox_due_ids, outbox_send, sms_enqueue
from health_f0.patients.otp import otp_request
from tests.standins.esms import EsmsStandIn
from tests.standins.fixtures import CALLBACK_TOKEN

pytestmark = pytest.mark.django_db

PHONE = "+84912345678"


def _enqueue(capture: Any, **kwargs: Any) -> OutboxMessage:
    params: dict[str, Any] = {
        "to": PHONE,
        "body": "Trạm Y tế phường Thành Đông: lịch khám ngày mai",
        "kind": "generic",
    }
    params.update(kwargs)
    with capture(execute=True):
        message = sms_enqueue(**params)
    message.refresh_from_db()
    return message


def _make_due(message: OutboxMessage) -> None:
    """Move the retry time into the past instead of waiting for it."""
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def _sweep() -> int:
    return tasks.send_due_messages.call_local()


def test_sent_message_is_recorded_with_provider_id(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.SENT
    assert message.attempts == 1 and message.gateway == "esms" and message.sent_at is not None
    [received] = esms_gateway.messages
    assert message.provider_message_id == received.sms_id
    # What went over the wire is eSMS's customer-care request, unaccented, with our reference and hook.
    assert received.phone == "0912345678"
    assert received.sms_type == "2" and received.brandname == settings.ESMS_BRANDNAME
    assert received.content == "Tram Y te phuong Thanh Dong: lich kham ngay mai"
    assert received.request_id == str(message.public_id)
    assert received.callback_url == f"{settings.PORTAL_URL}/hooks/esms/{CALLBACK_TOKEN}"
    assert esms_gateway.requests[0]["IsUnicode"] == "0" and esms_gateway.requests[0]["Sandbox"] == "0"
    assert outbox_due_ids() == []


def test_no_callback_url_without_a_token(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.ESMS_CALLBACK_TOKEN = ""
    _enqueue(django_capture_on_commit_callbacks)
    assert "CallbackUrl" not in esms_gateway.requests[0]


# A timeout is not an outage here: the gateway may have taken the message (health_f0/notifications/tests/test_exactly_once.py).
@pytest.mark.parametrize("mode", ["refused", "503"])
def test_outage_keeps_the_message_and_the_sweeper_delivers_it_once(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, mode: str
) -> None:
    esms_gateway.down(mode)
    before = timezone.now()
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FAILED
    assert message.attempts == 1
    assert message.next_attempt_at is not None and message.next_attempt_at > before
    first_delay = message.next_attempt_at - message.updated_at
    assert message.last_error
    assert outbox_due_ids() == []  # not due yet

    _make_due(message)
    assert _sweep() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempts == 2
    assert message.next_attempt_at - message.updated_at > first_delay  # the backoff grows

    esms_gateway.up()
    _make_due(message)
    assert _sweep() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 3
    assert message.next_attempt_at is None and message.last_error == ""
    assert _sweep() == 0
    assert outbox_send(message_id=message.pk) is None
    assert len(esms_gateway.messages) == 1
    assert OutboxMessage.objects.count() == 1  # nothing lost, nothing duplicated


def test_timeout_after_esms_took_the_message_does_not_text_twice(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    esms_gateway.down("slow")  # eSMS records the message but answers after our timeout
    message = _enqueue(django_capture_on_commit_callbacks)
    # The result is unknown: the attempt stays recorded, and nothing is sent until eSMS is asked.
    assert message.status == MessageStatus.SENDING and message.attempts == 1
    assert len(esms_gateway.messages) == 1
    esms_gateway.up()
    assert _sweep() == 0  # not resent, not even asked yet: a slow answer may still be on its way
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    # eSMS's list of messages sent in the window has it: sent, under eSMS's id, never repeated.
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == esms_gateway.messages[0].sms_id
    assert len(esms_gateway.messages) == 1 and len(esms_gateway.requests) == 1


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("ESMS_API_KEY", "wrong-key", "101"),
        ("ESMS_SECRET_KEY", "wrong", "101"),
        ("ESMS_BRANDNAME", "KHONG CO", "104"),
    ],
)
def test_permanent_refusal_is_dead_without_retries(
    esms_gateway: EsmsStandIn,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
    setting: str,
    value: str,
    code: str,
) -> None:
    setattr(settings, setting, value)
    message = _enqueue(django_capture_on_commit_callbacks, secret=True)
    assert message.status == MessageStatus.DEAD
    assert message.attempts == 1 and message.next_attempt_at is None
    assert f"CodeResult {code}" in message.last_error
    assert message.body_encrypted is None
    assert outbox_due_ids() == [] and _sweep() == 0
    assert esms_gateway.messages == []


def test_low_balance_is_retried_after_top_up(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    esms_gateway.balance = 0
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FAILED and "CodeResult 103" in message.last_error
    esms_gateway.balance = 5
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(esms_gateway.messages) == 1


def test_max_attempts_then_dead(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.SMS_MAX_ATTEMPTS = 3
    esms_gateway.down("503")
    message = _enqueue(django_capture_on_commit_callbacks, secret=True)
    for _ in range(2):
        _make_due(message)
        _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD and message.attempts == 3
    assert message.next_attempt_at is None and message.body_encrypted is None
    esms_gateway.up()
    assert _sweep() == 0 and outbox_send(message_id=message.pk) is None
    assert esms_gateway.messages == []


def test_unexpected_gateway_error_counts_as_an_attempt_in_doubt(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    from health_f0.notifications.gateways import EsmsGateway

    def boom(self: Any, **kwargs: Any) -> Any:
        raise KeyError("bug")

    monkeypatch.setattr(EsmsGateway, "send", boom)
    message = _enqueue(django_capture_on_commit_callbacks)
    # An error we cannot classify might have come after the request left: the gateway is asked first.
    assert message.status == MessageStatus.SENDING and message.attempts == 1
    assert "KeyError" in message.last_error


def test_expired_otp_message_is_never_sent(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = sms_enqueue(
            to=PHONE,
            body="Ma OTP: 123456",
            kind=MessageKind.OTP,
            secret=True,
            expires_at=timezone.now() + timedelta(minutes=5),
        )
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for callback in callbacks:
        callback()
    message.refresh_from_db()
    assert message.status == MessageStatus.EXPIRED
    assert message.body_encrypted is None and message.attempts == 0
    assert esms_gateway.requests == []
    assert _sweep() == 0


def _raw_rows(table: str) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - fixed table names
        return list(cursor.fetchall())


def _assert_code_nowhere(code: str) -> None:
    for table in (OutboxMessage._meta.db_table, "registration_otpchallenge"):
        for row in _raw_rows(table):
            for value in row:
                if value is None:
                    continue
                if isinstance(value, bytes | bytearray | memoryview):
                    assert code.encode() not in bytes(value), (table, "binary column holds the code")
                else:
                    assert code not in str(value), (table, value)


def test_secret_body_is_stored_only_encrypted_and_wiped_after_sending(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    esms_gateway.down("refused")
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=PHONE, purpose="registration", ip="10.1.2.3")
    message = OutboxMessage.objects.get(kind=MessageKind.OTP)
    assert message.status == MessageStatus.FAILED and message.is_secret
    assert message.body == "" and message.body_encrypted
    code = re.search(r"\b(\d{6})\b", crypto.decrypt(bytes(message.body_encrypted))).group(1)  # type: ignore[union-attr]
    _assert_code_nowhere(code)
    assert code not in message.body_for_staff

    esms_gateway.up()
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert code in esms_gateway.messages[0].content
    assert message.body_encrypted is None
    _assert_code_nowhere(code)


def test_rolled_back_transaction_sends_nothing(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        sms_enqueue(to=PHONE, body="khong duoc gui", kind="generic")
        raise RuntimeError("the surrounding write failed")
    assert callbacks == []
    assert OutboxMessage.objects.count() == 0
    assert esms_gateway.requests == []
