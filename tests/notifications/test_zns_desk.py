"""The desk: a booking's page lists each of its messages with its channel and its SMS fallback; the outbox
page shows the cost per channel of what it lists. Same scope as the booking and the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from health_f0.appointments.models import Appointment
from health_f0.notifications import services
from health_f0.notifications.models import Channel, ContactPreference, MessageStatus, OutboxMessage
from tests.standins.esms import EsmsStandIn
from tests.standins.zns import ZnsStandIn, zns_fixture, zns_gateway_fixture  # noqa: F401

pytestmark = pytest.mark.django_db


def _staff(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def _booking() -> Appointment:
    return Appointment.objects.select_related("patient", "facility").get(
        patient__account__username="bn0000001", status="requested"
    )


def test_booking_page_shows_channel_and_fallback(
    appointments_demo: Any,
    persona: Any,
    zns_gateway: ZnsStandIn,
    esms_gateway: EsmsStandIn,
    django_capture_on_commit_callbacks: Any,
    django_assert_max_num_queries: Any,
) -> None:
    booking = _booking()
    ContactPreference.objects.create(phone=booking.patient.phone, channel=Channel.ZNS)
    zns_gateway.no_zalo(booking.patient.phone)
    with django_capture_on_commit_callbacks(execute=True):
        zns = services.sms_enqueue(
            to=booking.patient.phone,
            body="Nhac lich kham",
            kind="appointment_reminder",
            facility=booking.facility,
            subject_ref=f"appointment:{booking.pk}",
        )
    zns.refresh_from_db()
    assert zns.status == MessageStatus.FELL_BACK
    client = _staff(persona, "datlich")
    url = reverse("admin:appointments_appointment_change", args=[booking.pk])
    client.get(url)  # warm caches (navigation, site settings)
    with django_assert_max_num_queries(80):
        response = client.get(url)
    html = response.content.decode()
    assert 'data-testid="booking-deliveries"' in html
    assert "Zalo ZNS" in html and "Đã chuyển sang SMS" in html and "SMS gửi thay: Đã gửi tới nhà mạng" in html
    assert "-118" in html  # why it fell back
    # Another station's staff does not see the booking (nor its messages).
    assert _staff(persona, "thanhdong.nv").get(url).status_code in (302, 403, 404)


def test_outbox_page_shows_cost_per_channel(
    demo: Any,
    persona: Any,
    zns_gateway: ZnsStandIn,
    esms_gateway: EsmsStandIn,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ContactPreference.objects.create(phone="+84912000111", channel=Channel.ZNS)
    with django_capture_on_commit_callbacks(execute=True):
        services.sms_enqueue(to="+84912000111", body="Nhac lich", kind="appointment_reminder")
    assert OutboxMessage.objects.filter(channel=Channel.ZNS, status=MessageStatus.SENT).count() == 1
    html = (
        _staff(persona, "admin").get(reverse("admin:notifications_outboxmessage_changelist")).content.decode()
    )
    assert 'data-testid="outbox-cost"' in html and "Chi phí theo kênh" in html
    assert "Zalo ZNS" in html and "300 đ" in html
    filtered = (
        _staff(persona, "admin")
        .get(reverse("admin:notifications_outboxmessage_changelist"), {"channel__exact": "sms"})
        .content.decode()
    )
    assert '<td class="pr-4">Zalo ZNS</td>' not in filtered  # the costs follow the filters


def test_booking_reminder_goes_by_zalo_and_shows_delivered(
    appointments_demo: Any,
    persona: Any,
    zns_gateway: ZnsStandIn,
    esms_gateway: EsmsStandIn,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """End to end: the patient chose Zalo; the desk confirms the booking (its notice and its reminder go by
    ZNS, nothing by SMS); Zalo's signed delivery event marks the reminder delivered on the booking's page."""
    from django.utils import timezone

    from health_f0.appointments import reminders
    from health_f0.appointments import services as appointment_services
    from health_f0.appointments.models import AppointmentReminder

    booking = _booking()
    ContactPreference.objects.create(phone=booking.patient.phone, channel=Channel.ZNS)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed = appointment_services.appointment_confirm(appointment=booking, actor=persona("datlich"))
    reminder = confirmed.reminders.order_by("due_at").first() or AppointmentReminder.objects.create(
        appointment=confirmed, kind="d1", slot_start=confirmed.slot_start, due_at=timezone.now()
    )
    with django_capture_on_commit_callbacks(execute=True):
        sent = reminders.reminder_send(reminder_id=reminder.pk, now=max(reminder.due_at, timezone.now()))
    assert sent is not None and sent.message is not None
    assert sent.message.channel == Channel.ZNS
    assert esms_gateway.messages == [] and len(zns_gateway.messages) == 2  # the confirmation and the reminder
    body, signature = zns_gateway.event_body(zns_gateway.messages[-1])
    response = Client().post(
        "/hooks/zalo", body, content_type="application/json", HTTP_X_ZEVENT_SIGNATURE=signature
    )
    assert response.json() == {"matched": 1, "handled": True}
    sent.message.refresh_from_db()
    assert sent.message.status == MessageStatus.DELIVERED
    html = (
        _staff(persona, "datlich")
        .get(reverse("admin:appointments_appointment_change", args=[confirmed.pk]))
        .content.decode()
    )
    assert html.count("Zalo ZNS") >= 2 and "Đã đến máy" in html
