"""Exactly-once SMS that does not lean on the gateway refusing a repeated request id (issue 14, item 2).

Every test here runs against a gateway stand-in that takes a repeated RequestId as a new message
(`accept_repeats`), so a message is sent once only if the outbox itself never repeats an attempt whose
result it does not know: the attempt is recorded before the call, and an attempt left in doubt (a timeout,
a worker killed during the call) is settled through the gateway's status call before anything is resent.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from health_f0.notifications import tasks
from health_f0.notifications.gateways import (
    _GATEWAYS,
    Attempt,
    AttemptStatus,
    EsmsGateway,
    FileGateway,
    Gateway,
    SendResult,
)
from health_f0.notifications.models import MessageKind, MessageStatus, OutboxMessage
from health_f0.notifications.services import outbox_requeue, outbox_send, sms_enqueue
from tests.standins.esms import EsmsStandIn
from tests.standins.fixtures import CALLBACK_TOKEN

pytestmark = pytest.mark.django_db

PHONE = "+84912345678"
TEXT = "Tram Y te phuong Thanh Dong: lich kham ngay mai"


class WorkerKilled(BaseException):  # noqa: N818 - named for what it stands for
    """The worker process dying (SIGKILL) at this point: no `except Exception` of ours runs."""


@pytest.fixture
def esms_repeats(esms_gateway: EsmsStandIn) -> EsmsStandIn:
    """The eSMS stand-in as a gateway that does NOT de-duplicate request ids."""
    esms_gateway.accept_repeats = True
    return esms_gateway


def _queued(capture: Any, **kwargs: Any) -> OutboxMessage:
    params: dict[str, Any] = {"to": PHONE, "body": TEXT, "kind": "generic", **kwargs}
    with capture(execute=False):
        message = sms_enqueue(**params)
    return message


def _die_during_send(monkeypatch: Any, *, after_gateway_took_it: bool) -> None:
    real = EsmsGateway.send

    def send(self: EsmsGateway, **kwargs: Any) -> SendResult:
        if after_gateway_took_it:
            real(self, **kwargs)
        raise WorkerKilled

    monkeypatch.setattr(EsmsGateway, "send", send)


def _crash(message: OutboxMessage, monkeypatch: Any, *, after_gateway_took_it: bool) -> OutboxMessage:
    _die_during_send(monkeypatch, after_gateway_took_it=after_gateway_took_it)
    with pytest.raises(WorkerKilled):
        outbox_send(message_id=message.pk)
    monkeypatch.undo()  # the next worker runs the real code
    message.refresh_from_db()
    return message


def _make_due(message: OutboxMessage) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))


def _sweep() -> int:
    return tasks.send_due_messages.call_local()


def test_worker_killed_after_the_gateway_took_it_is_not_texted_twice(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=True)
    # The attempt was recorded before the call: the message is known to be in doubt, not queued.
    assert message.status == MessageStatus.SENDING and message.attempts == 1
    assert message.attempt_id == str(message.public_id) and message.attempt_started_at is not None
    assert len(esms_repeats.messages) == 1

    assert _sweep() == 0  # the next minute: not resent (nor asked yet: a live worker could still be waiting)
    _make_due(message)
    assert _sweep() == 0  # the attempt is old enough: eSMS is asked, and has it
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert message.provider_message_id == esms_repeats.messages[0].sms_id
    assert message.body_encrypted is None and message.next_attempt_at is None
    assert len(esms_repeats.messages) == 1  # one text, although this gateway would have taken a repeat
    assert len(esms_repeats.requests) == 1 and len(esms_repeats.status_requests) == 1
    [query] = esms_repeats.status_requests
    assert query["SmsType"] == "2" and query["Page"] == "1"


def test_worker_killed_before_the_request_left_is_sent_once_under_the_same_id(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=False)
    assert message.status == MessageStatus.SENDING and esms_repeats.messages == []
    _make_due(message)
    assert _sweep() == 1  # eSMS certainly does not have it: sent again in the same sweep
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.attempts == 2
    [received] = esms_repeats.messages
    assert received.request_id == message.attempt_id == str(message.public_id)  # the same request id


def test_timeout_with_nothing_taken_is_resent_after_asking(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    esms_repeats.down("timeout")  # the request hangs; eSMS records nothing
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_enqueue(to=PHONE, body=TEXT, kind="generic")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENDING and "result unknown" in message.last_error
    esms_repeats.up()
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(esms_repeats.messages) == 1


def test_status_call_down_means_ask_again_later_never_resend(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=True)
    esms_repeats.status_mode = "503"
    for checks in (1, 2):
        _make_due(message)
        assert _sweep() == 0
        message.refresh_from_db()
        assert message.status == MessageStatus.SENDING and message.status_checks == checks
        assert message.next_attempt_at is not None and message.next_attempt_at > timezone.now()
    assert len(esms_repeats.messages) == 1 and len(esms_repeats.requests) == 1

    esms_repeats.status_mode = "up"
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and len(esms_repeats.messages) == 1


def test_gateway_that_already_knows_the_outcome_settles_it(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    delivered = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=True)
    failed = _crash(
        _queued(django_capture_on_commit_callbacks, to="+84987654321"),
        monkeypatch,
        after_gateway_took_it=True,
    )
    first, second = esms_repeats.messages
    esms_repeats.deliver(first, delivered=True)
    esms_repeats.deliver(second, delivered=False)
    _make_due(delivered)
    _make_due(failed)
    _sweep()
    delivered.refresh_from_db()
    failed.refresh_from_db()
    assert delivered.status == MessageStatus.DELIVERED and delivered.delivered_at is not None
    assert failed.status == MessageStatus.DEAD and "not delivered" in failed.last_error
    assert len(esms_repeats.messages) == 2


def test_identical_text_already_sent_is_not_mistaken_for_the_attempt_in_doubt(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    """Two identical reminders to one phone: the first went out normally; the second's worker died before
    its request left. eSMS's list shows one matching text — already the first's — so the second is sent."""
    with django_capture_on_commit_callbacks(execute=True):
        first = sms_enqueue(to=PHONE, body=TEXT, kind="generic")
    first.refresh_from_db()
    assert first.status == MessageStatus.SENT
    second = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=False)
    _make_due(second)
    _sweep()
    second.refresh_from_db()
    assert second.status == MessageStatus.SENT
    assert second.provider_message_id != first.provider_message_id
    assert len(esms_repeats.messages) == 2


def test_attempt_in_doubt_is_expired_not_resent_when_its_otp_ran_out(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _queued(
        django_capture_on_commit_callbacks,
        body="Ma OTP: 123456",
        kind=MessageKind.OTP,
        secret=True,
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    message = _crash(message, monkeypatch, after_gateway_took_it=False)
    OutboxMessage.objects.filter(pk=message.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.EXPIRED and message.body_encrypted is None
    assert esms_repeats.messages == []


def test_secret_attempt_in_doubt_is_matched_by_its_decrypted_text(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _queued(
        django_capture_on_commit_callbacks, body="Ma OTP: 654321", kind=MessageKind.OTP, secret=True
    )
    message = _crash(message, monkeypatch, after_gateway_took_it=True)
    assert message.body_encrypted  # kept until the message leaves the queue for good
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and message.body_encrypted is None
    assert len(esms_repeats.messages) == 1


def test_last_attempt_in_doubt_is_only_given_up_after_asking(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any, settings: Any
) -> None:
    settings.SMS_MAX_ATTEMPTS = 1
    taken = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=True)
    lost = _crash(
        _queued(django_capture_on_commit_callbacks, to="+84987654321"),
        monkeypatch,
        after_gateway_took_it=False,
    )
    _make_due(taken)
    _make_due(lost)
    _sweep()
    taken.refresh_from_db()
    lost.refresh_from_db()
    assert taken.status == MessageStatus.SENT  # its one attempt did reach the phone's gateway
    assert lost.status == MessageStatus.DEAD and "not sent after 1 attempts" in lost.last_error
    assert len(esms_repeats.messages) == 1


def test_refused_request_id_is_retired(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    """After eSMS answered about a request id (here: balance too low), the next attempt uses a new id, so
    a gateway that remembers refused ids cannot answer "duplicate" for a message it never sent."""
    esms_repeats.balance = 0
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_enqueue(to=PHONE, body=TEXT, kind="generic")
    message.refresh_from_db()
    assert message.status == MessageStatus.FAILED and message.attempt_id == ""
    esms_repeats.balance = 5
    _make_due(message)
    _sweep()
    message.refresh_from_db()
    [refused, sent] = esms_repeats.requests
    assert refused["RequestId"] == str(message.public_id)
    assert sent["RequestId"] == message.attempt_id != str(message.public_id)
    assert message.status == MessageStatus.SENT and len(esms_repeats.messages) == 1


def test_staff_resend_of_a_dead_message_uses_a_new_request_id(
    esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, persona: Any
) -> None:
    """eSMS de-duplicates here: resending a message it took (and reported undelivered) under the old id
    would be refused as a duplicate and counted as sent while nobody texted anyone."""
    with django_capture_on_commit_callbacks(execute=True):
        message = sms_enqueue(to=PHONE, body=TEXT, kind="generic")
    params = esms_gateway.callback_params(esms_gateway.messages[0], delivered=False)
    Client().get(f"/hooks/esms/{CALLBACK_TOKEN}", params)
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD
    with django_capture_on_commit_callbacks(execute=True):
        outbox_requeue(message=message, actor=persona("admin"))
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    assert len(esms_gateway.messages) == 2
    assert esms_gateway.messages[1].request_id == message.attempt_id != str(message.public_id)


def test_delivery_report_settles_an_attempt_in_doubt(
    esms_repeats: EsmsStandIn, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    message = _crash(_queued(django_capture_on_commit_callbacks), monkeypatch, after_gateway_took_it=True)
    params = esms_repeats.callback_params(esms_repeats.messages[0])
    response = Client().get(f"/hooks/esms/{CALLBACK_TOKEN}", params)
    assert response.json() == {"matched": 1, "final": True}
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED
    assert message.provider_message_id == esms_repeats.messages[0].sms_id
    _make_due(message)
    _sweep()
    assert esms_repeats.status_requests == [] and len(esms_repeats.messages) == 1


def test_file_gateway_answers_status_from_its_file(
    settings: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any, tmp_path: Any
) -> None:
    settings.SMS_BACKEND = "file"
    taken = _queued(django_capture_on_commit_callbacks)
    lost = _queued(django_capture_on_commit_callbacks, to="+84987654321")
    for message, took in ((taken, True), (lost, False)):
        real = FileGateway.send

        def send(self: FileGateway, _took: bool = took, _real: Any = real, **kwargs: Any) -> SendResult:
            if _took:
                _real(self, **kwargs)
            raise WorkerKilled

        monkeypatch.setattr(FileGateway, "send", send)
        with pytest.raises(WorkerKilled):
            outbox_send(message_id=message.pk)
        monkeypatch.undo()
        _make_due(message)
    _sweep()
    with open(settings.SMS_FILE_PATH, encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh]
    assert sorted(line["to"] for line in lines) == [PHONE, "+84987654321"]  # each exactly once
    for message in (taken, lost):
        message.refresh_from_db()
        assert message.status == MessageStatus.SENT


def test_every_gateway_must_answer_status() -> None:
    """`status()` is part of the interface: a gateway (ZNS, the next SMS brand) without it cannot be built."""
    for gateway_class in _GATEWAYS.values():
        gateway_class()  # abstract methods left unimplemented would raise TypeError here

    class SendOnly(Gateway):
        name = "send-only"

        def send(self, *, to: str, body: str, kind: str, reference: str) -> SendResult:
            return SendResult(reference)

    with pytest.raises(TypeError, match="status"):
        SendOnly()  # type: ignore[abstract]


def test_esms_status_is_unknown_not_absent_when_eSMS_refuses_the_query(
    esms_gateway: EsmsStandIn, settings: Any
) -> None:
    settings.ESMS_SECRET_KEY = "wrong"  # eSMS answers 101: it told us nothing about the message
    attempt = Attempt(reference="r-1", to=PHONE, body=TEXT, started_at=timezone.now())
    assert EsmsGateway().status([attempt]) == {}
    settings.ESMS_SECRET_KEY = esms_gateway.secret_key
    assert EsmsGateway().status([attempt]) == {"r-1": AttemptStatus("absent")}
