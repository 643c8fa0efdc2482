"""Zalo ZNS as a second channel: chosen per number where configured, sent through the ZNS stand-in, and
replaced by exactly one SMS when the phone has no Zalo, Zalo refuses, or no delivery report comes in time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.notifications import selectors, services
from health_f0.notifications.gateways import ZnsEvent
from health_f0.notifications.models import (
    Channel,
    ContactPreference,
    MessageStatus,
    OutboxMessage,
    ZnsToken,
)
from health_f0.notifications.selectors import deliveries_for_subject, outbox_cost_by_channel
from health_f0.notifications.zns_tokens import zns_access_token
from tests.standins.esms import EsmsStandIn
from tests.standins.zns import ZNS_TEMPLATE_REMINDER, ZnsStandIn, zns_fixture, zns_gateway_fixture  # noqa: F401

PHONE = "+84912345678"


def _enqueue(capture: Any, **kwargs: Any) -> OutboxMessage:
    with capture(execute=True):
        message = services.sms_enqueue(
            to=kwargs.pop("to", PHONE),
            body=kwargs.pop("body", "Nhac lich kham 08:30 ngay 07/12 tai BV Moc Hoa"),
            kind=kwargs.pop("kind", "appointment_reminder"),
            subject_ref=kwargs.pop("subject_ref", "appointment:17"),
            **kwargs,
        )
    message.refresh_from_db()
    return message


def _prefer_zalo(phone: str = PHONE) -> None:
    ContactPreference.objects.create(phone=phone, channel=Channel.ZNS)


@pytest.mark.django_db
def test_without_a_choice_it_is_an_sms(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.channel == Channel.SMS and message.status == MessageStatus.SENT
    assert zns_gateway.requests == [] and len(esms_gateway.messages) == 1


@pytest.mark.django_db
def test_zns_off_costs_no_query(
    settings: Any, esms_gateway: EsmsStandIn, django_assert_num_queries: Any
) -> None:
    settings.ZNS_ENABLED = False
    _prefer_zalo()
    with django_assert_num_queries(1):  # the insert: no look-up of the number's choice
        message = services.sms_enqueue(to=PHONE, body="Nhac lich", kind="appointment_reminder")
    assert message.channel == Channel.SMS


@pytest.mark.django_db
def test_chosen_zalo_goes_by_zns_with_template_and_tracking_id(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.channel == Channel.ZNS and message.status == MessageStatus.SENT
    assert message.gateway == "zns" and message.cost_vnd == 300
    assert message.fallback_at is not None and message.fallback_at > timezone.now()
    [sent] = zns_gateway.messages
    assert sent.phone == "84912345678" and sent.template_id == ZNS_TEMPLATE_REMINDER
    assert sent.template_data == {"content": "Nhac lich kham 08:30 ngay 07/12 tai BV Moc Hoa"}
    assert sent.tracking_id == str(message.public_id)
    assert message.provider_message_id == sent.msg_id
    assert esms_gateway.messages == []  # exactly one message reaches the patient


@pytest.mark.django_db
def test_secret_and_kinds_without_template_stay_sms(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    otp = _enqueue(django_capture_on_commit_callbacks, kind="otp", body="Ma OTP 123456", secret=True)
    account = _enqueue(django_capture_on_commit_callbacks, kind="account", body="Tai khoan cua ban")
    assert otp.channel == account.channel == Channel.SMS
    assert zns_gateway.requests == []


@pytest.mark.django_db
def test_zalo_template_fields_given_by_the_caller(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    _enqueue(
        django_capture_on_commit_callbacks,
        zns_data={"customer_name": "Nguyễn Văn An", "booking_time": "08:30 07/12/2026"},
    )
    assert zns_gateway.messages[0].template_data == {
        "customer_name": "Nguyễn Văn An",
        "booking_time": "08:30 07/12/2026",
    }


@pytest.mark.django_db
def test_phone_without_zalo_falls_back_to_one_sms_not_billed(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    zns_gateway.no_zalo(PHONE)
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FELL_BACK and message.cost_vnd == 0
    assert "-118" in message.last_error
    sms = OutboxMessage.objects.get(fallback_for=message)
    assert sms.channel == Channel.SMS and sms.status == MessageStatus.SENT
    assert sms.subject_ref == message.subject_ref and sms.cost_vnd == 800
    assert len(esms_gateway.messages) == 1 and esms_gateway.messages[0].content == message.body
    # Nothing sends it again: the fallback sweep and the outbox sweep find nothing to do.
    assert services.zns_fallback_due() == 0
    assert services.outbox_due_ids() == []


@pytest.mark.django_db
def test_refused_by_zalo_falls_back(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    zns_gateway.fail_with = -144  # the OA's daily quota is used up
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FELL_BACK and "-144" in message.last_error
    assert OutboxMessage.objects.filter(fallback_for=message, channel=Channel.SMS).count() == 1
    assert len(esms_gateway.messages) == 1


@pytest.mark.django_db
def test_no_delivery_report_in_time_sends_one_sms(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    message = _enqueue(django_capture_on_commit_callbacks)
    assert services.zns_fallback_due() == 0  # not yet
    OutboxMessage.objects.filter(pk=message.pk).update(fallback_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.zns_fallback_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.zns_fallback_due() == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.FELL_BACK and message.cost_vnd == 300  # Zalo took (and billed) it
    assert len(esms_gateway.messages) == 1
    # Zalo's report arriving afterwards is recorded on the ZNS message; nothing else is sent.
    event = ZnsEvent(msg_id=message.provider_message_id, tracking_id="", delivered_at=timezone.now())
    assert services.zns_report_apply(event=event) == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FELL_BACK and message.delivered_at is not None
    assert OutboxMessage.objects.count() == 2


@pytest.mark.django_db
def test_delivered_in_time_no_sms(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    message = _enqueue(django_capture_on_commit_callbacks)
    event = ZnsEvent(msg_id=message.provider_message_id, tracking_id="", delivered_at=timezone.now())
    assert services.zns_report_apply(event=event) == 1
    assert services.zns_report_apply(event=event) == 0  # a repeat changes nothing
    OutboxMessage.objects.filter(pk=message.pk).update(fallback_at=timezone.now() - timedelta(minutes=1))
    assert services.zns_fallback_due() == 0
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED and esms_gateway.messages == []


@pytest.mark.django_db
def test_zalo_unreachable_is_retried_then_falls_back(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    zns_access_token()  # a valid token is at hand: the send itself fails
    zns_gateway.down("refused")  # never reached Zalo: ZNS is tried again before the fallback time
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FAILED and message.next_attempt_at is not None
    assert esms_gateway.messages == []
    OutboxMessage.objects.filter(pk=message.pk).update(fallback_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.zns_fallback_due() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.FELL_BACK and message.cost_vnd == 0
    assert len(esms_gateway.messages) == 1


@pytest.mark.django_db
def test_answer_lost_waits_for_the_report_never_resent_by_zns(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    zns_access_token()  # a valid token is at hand: the send itself fails
    zns_gateway.down("timeout")
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.SENDING and message.next_attempt_at is None
    zns_gateway.up()
    assert services.outbox_reconcile_due() == 0 and services.outbox_due_ids() == []
    OutboxMessage.objects.filter(pk=message.pk).update(fallback_at=timezone.now() - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.zns_fallback_due() == 1
    assert len(esms_gateway.messages) == 1


@pytest.mark.django_db
def test_expired_token_is_refreshed_once_and_stored_encrypted(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any, caplog: Any
) -> None:
    _prefer_zalo()
    _enqueue(django_capture_on_commit_callbacks)
    assert len(zns_gateway.token_requests) == 1  # the first send refreshed with ZNS_REFRESH_TOKEN
    row = ZnsToken.objects.get()
    [token] = zns_gateway.issued_tokens
    assert token.encode() not in bytes(row.access_token_encrypted)
    zns_gateway.expire_tokens()  # Zalo revoked it before its expiry: -124, refresh, send again
    with caplog.at_level("DEBUG"):
        second = _enqueue(django_capture_on_commit_callbacks, subject_ref="appointment:18")
    assert second.status == MessageStatus.SENT and len(zns_gateway.token_requests) == 2
    [new_token] = zns_gateway.issued_tokens
    assert new_token not in caplog.text and "rt-" not in caplog.text
    # The seed refresh token was spent; the rotated one is what is kept.
    assert zns_gateway.first_refresh_token.encode() not in bytes(
        ZnsToken.objects.get().refresh_token_encrypted
    )


@pytest.mark.django_db
def test_refresh_refused_falls_back_to_sms(
    settings: Any,
    zns_gateway: ZnsStandIn,
    esms_gateway: EsmsStandIn,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.ZNS_REFRESH_TOKEN = "a-spent-refresh-token"
    _prefer_zalo()
    message = _enqueue(django_capture_on_commit_callbacks)
    assert message.status == MessageStatus.FELL_BACK and "OAuth" in message.last_error
    assert len(esms_gateway.messages) == 1


@pytest.mark.django_db
def test_cost_per_channel_and_deliveries_of_a_booking(
    zns_gateway: ZnsStandIn, esms_gateway: EsmsStandIn, django_capture_on_commit_callbacks: Any
) -> None:
    _prefer_zalo()
    _enqueue(django_capture_on_commit_callbacks)  # ZNS, delivered by ZNS
    zns_gateway.no_zalo(PHONE)
    _enqueue(django_capture_on_commit_callbacks)  # ZNS refused (0 đ) → SMS 800 đ
    costs = {c.channel: c for c in outbox_cost_by_channel()}
    assert (costs["zns"].messages, costs["zns"].billed, costs["zns"].cost_vnd, costs["zns"].fell_back) == (
        2,
        1,
        300,
        1,
    )
    assert (costs["sms"].messages, costs["sms"].cost_vnd) == (1, 800)
    rows = deliveries_for_subject(subject_ref="appointment:17")
    assert [(r.channel, r.status) for r in rows] == [("zns", "sent"), ("zns", "fell_back")]
    assert rows[1].fallback is not None and rows[1].fallback.channel == "sms"


@pytest.mark.django_db
def test_contact_channel_set_rules(settings: Any, zns_gateway: ZnsStandIn) -> None:
    from health_f0.core.exceptions import DomainError

    assert selectors.contact_channel(phone=PHONE) == "sms"  # no row: SMS
    assert selectors.contact_channel(phone="") == "sms"
    services.contact_channel_set(phone=PHONE, channel="zns", actor=None)
    assert ContactPreference.objects.get(phone=PHONE).channel == "zns"
    assert selectors.contact_channel(phone=PHONE) == "zns"
    with pytest.raises(DomainError):
        services.contact_channel_set(phone=PHONE, channel="fax", actor=None)
    settings.ZNS_ENABLED = False
    with pytest.raises(DomainError) as refused:
        services.contact_channel_set(phone=PHONE, channel="zns", actor=None)
    assert refused.value.code == "zns_unavailable"
    services.contact_channel_set(phone=PHONE, channel="sms", actor=None)  # SMS is always allowed
    assert ContactPreference.objects.get(phone=PHONE).channel == "sms"
    assert selectors.contact_channel(phone=PHONE) == "sms"
