"""The periodic job: settle a payment whose IPN never came (querydr), expire stale ones, release bookings left
unpaid, refund the fee of a cancelled booking, and what happens when the gateway is down at refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from health_f0.appointments import services as appointment_services
from health_f0.appointments.models import Appointment
from health_f0.notifications.models import OutboxMessage
from health_f0.payments import services
from health_f0.payments.models import (
    EventKind,
    EventResult,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from health_f0.payments.tests.conftest import PRICE, make_booking
from tests.standins.vnpay import VnpayStandIn


def _start(booking: Any, patient: Any) -> Payment:
    return services.payment_start(actor=patient.account, gateway="vnpay", appointment=booking)


def _paid(booking: Any, patient: Any, vnpay: VnpayStandIn) -> Payment:
    payment = _start(booking, patient)
    params = vnpay.pay(payment.redirect_url)
    assert services.callback_apply(gateway="vnpay", kind=EventKind.IPN, params=params).code == "ok"
    payment.refresh_from_db()
    return payment


def test_a_payment_whose_ipn_never_came_is_settled_by_querydr(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    vnpay.pay(payment.redirect_url)  # paid at VNPay; no IPN, no return
    later = timezone.now() + timedelta(minutes=3)
    assert services.payments_settle_due(now=later) == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.gateway_ref
    assert [r["vnp_Command"] for r in vnpay.api_requests] == ["querydr"]
    event = PaymentEvent.objects.get(payment=payment)
    assert (event.kind, event.result, event.verified) == (EventKind.QUERY, EventResult.APPLIED, True)
    # Asked again within 5 minutes: not asked (nothing open anyway).
    assert services.payments_settle_due(now=later + timedelta(minutes=1)) == 0


def test_a_stale_payment_expires_and_the_unpaid_booking_is_released_with_an_sms(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    vnpay.open_payment(payment.redirect_url)  # the patient opened the page and went away
    # While the gateway cannot be reached nothing is assumed: the payment stays open, the booking kept.
    vnpay.down("503")
    after_deadline = payment.expires_at + timedelta(minutes=11)
    services.payments_sweep(now=after_deadline)
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING and booking.status == "confirmed"
    vnpay.up()
    result = services.payments_sweep(now=after_deadline + timedelta(minutes=6))
    payment.refresh_from_db()
    booking.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert booking.status == "cancelled" and booking.cancel_source == "system"
    assert result["released"] == 1
    text = OutboxMessage.objects.filter(subject_ref=f"appointment:{booking.pk}").order_by("pk").last()
    assert text is not None and "chua duoc thanh toan dung han" in text.body


def test_a_booking_never_paid_is_released_after_its_deadline_only(
    ttyt_vnpay: Any, booking: Any, priced_service: Any
) -> None:
    created = booking.created_at
    assert services.unpaid_bookings_release(now=created + timedelta(minutes=29)) == 0
    assert services.unpaid_bookings_release(now=created + timedelta(minutes=31)) == 1
    assert Appointment.objects.get(pk=booking.pk).status == "cancelled"
    # Released once: a second run finds nothing.
    assert services.unpaid_bookings_release(now=created + timedelta(minutes=40)) == 0


def test_a_cancelled_prepaid_booking_is_refunded_through_the_gateway(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _paid(booking, patient, vnpay)
    appointment_services.appointment_cancel(appointment=booking, actor=patient.account)
    assert services.payments_sweep()["refunds"] == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert (
        refund.status == RefundStatus.DONE
        and refund.amount == PRICE
        and refund.reason == "Người bệnh huỷ lịch hẹn"
    )
    assert vnpay.transactions[payment.reference].refunded == PRICE
    sent = [r for r in vnpay.api_requests if r["vnp_Command"] == "refund"]
    assert sent[0]["vnp_TransactionType"] == "02" and sent[0]["vnp_TransactionNo"] == payment.gateway_ref
    assert services.payments_sweep()["refunds"] == 0  # once


def test_gateway_down_at_refund_goes_to_refund_failed_then_retries_once(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, priced_service: Any, patient: Any, persona: Any
) -> None:
    booking = make_booking(priced_service, patient, status="requested")
    payment = _paid(booking, patient, vnpay)
    # Declined by the booking desk: the fee goes back.
    appointment_services.appointment_decline(
        appointment=booking, actor=persona("datlich"), reason="Bác sĩ nghỉ đột xuất"
    )
    vnpay.down("503")
    services.payments_sweep()
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert payment.status == PaymentStatus.REFUND_FAILED and refund.status == RefundStatus.FAILED
    assert "503" in refund.failure
    # The gateway took the retry's request but the answer was lost (timeout): still failed, "maybe done".
    vnpay.up()
    vnpay.down("timeout")
    services.refund_start(payment=payment, actor=persona("admin"), reason="Hoàn lại theo yêu cầu")
    refund.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUND_FAILED and "kiểm tra với cổng" in refund.failure
    # The next retry sends the same refund id: the gateway answers "already processing" (94), nothing twice.
    vnpay.up()
    services.refund_start(payment=payment, actor=persona("admin"), reason="Hoàn lại theo yêu cầu")
    payment.refresh_from_db()
    refund.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and refund.status == RefundStatus.DONE
    assert refund.attempts == 3 and Refund.objects.filter(payment=payment).count() == 1
    assert vnpay.transactions[payment.reference].refunded == PRICE


def test_money_that_arrives_after_the_release_is_recorded_and_refunded(
    ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    transaction = vnpay.open_payment(payment.redirect_url)
    services.payments_sweep(now=payment.expires_at + timedelta(minutes=11))
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.EXPIRED
    assert Appointment.objects.get(pk=booking.pk).status == "cancelled"
    params = vnpay.complete(transaction.reference)  # the patient paid at the last second after all
    assert services.callback_apply(gateway="vnpay", kind=EventKind.IPN, params=params).code == "ok"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    services.payments_sweep()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
