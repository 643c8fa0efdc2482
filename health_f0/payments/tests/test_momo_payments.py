"""Issue 13 §2–3, MoMo end to end: a booking's fee paid through the local MoMo stand-in (tests/standins/momo.py,
which signs on its own), every IPN and return verified (signature, partnerCode, reference, amount) and applied
once, MoMo answered 204, the gateway down at create and at refund, and the refund right after a cancel."""

from __future__ import annotations

from typing import Any

from django.test import Client

from health_f0.appointments import services as appointment_services
from health_f0.core.models import AuditLog
from health_f0.payments import services
from health_f0.payments.models import (
    EventKind,
    EventResult,
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from health_f0.payments.tests.conftest import PRICE
from tests.standins.momo import _RESULT_RAW, MomoStandIn

IPN = "/thanh-toan/momo/ipn"
RETURN = "/thanh-toan/momo/return"


def _start(booking: Any, patient: Any) -> Payment:
    return services.payment_start(actor=patient.account, gateway="momo", appointment=booking)


def _settled(standin: MomoStandIn, payment: Payment, *, paid: bool = True) -> tuple[dict[str, Any], str]:
    """The patient confirms in the MoMo app (the stand-in keeps its IPN): (the signed IPN, the return URL)."""
    standin.send_ipn = False
    return_url = standin.settle(payment.reference, paid=paid)
    return standin.result_fields(standin.orders[payment.reference]), return_url


def _ipn(fields: dict[str, Any]) -> int:
    return Client().post(IPN, fields, content_type="application/json").status_code


def _pays(payment: Payment) -> int:
    return AuditLog.objects.filter(
        target_type="payments.payment", target_id=str(payment.pk), verb__in=["pay", "late_pay"]
    ).count()


def _forged(standin: MomoStandIn, fields: dict[str, Any], **changes: Any) -> dict[str, Any]:
    forged = {**fields, **changes}
    forged["signature"] = standin._sign(_RESULT_RAW, forged)
    return forged


def test_create_sends_the_patient_to_momo_and_a_second_tap_reuses_it(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    assert payment.status == PaymentStatus.PENDING and payment.amount == PRICE
    assert payment.redirect_url.startswith(momo_standin.base_url + "/v2/gateway/pay?t=")
    order = momo_standin.orders[payment.reference]
    assert order.amount == PRICE and order.ipn_url.endswith(IPN) and order.redirect_url.endswith(RETURN)
    assert _start(booking, patient).pk == payment.pk


def test_double_ipn_is_answered_204_and_applied_once(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment)
    assert _ipn(fields) == 204
    assert _ipn(fields) == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.gateway_ref == str(fields["transId"])
    assert _pays(payment) == 1
    results = list(PaymentEvent.objects.filter(payment=payment, kind="ipn").values_list("result", flat=True))
    assert sorted(results) == ["already", "ok"]


def test_return_before_the_ipn_and_without_it(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    fields, return_url = _settled(momo_standin, payment)
    # The browser is back first (the IPN is late): the signed return applies the payment.
    response = Client().get(RETURN + "?" + return_url.split("?", 1)[1])
    assert response.status_code == 302 and str(payment.public_id) in response["Location"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    # The IPN arriving after changes nothing.
    assert _ipn(fields) == 204
    assert _pays(payment) == 1
    page = Client().get(response["Location"])
    assert "Thanh toán thành công" in page.content.decode()


def test_the_patient_cancelling_at_momo_fails_the_payment(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment, paid=False)
    assert _ipn(fields) == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED and payment.gateway_code == "1006"


def test_wrong_amount_and_wrong_signature_are_refused_and_logged(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment)
    # Signed with the right key but for another amount.
    assert _ipn(_forged(momo_standin, fields, amount=PRICE - 1_000)) == 204
    # Tampered after signing.
    assert _ipn({**fields, "amount": PRICE * 2}) == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    results = set(PaymentEvent.objects.filter(reference=payment.reference).values_list("result", flat=True))
    assert {EventResult.BAD_AMOUNT, EventResult.BAD_SIGNATURE} <= results
    # The genuine one still applies.
    assert _ipn(fields) == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID


def test_another_facilitys_ipn_is_refused(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment)
    # Another facility's MoMo account (its own partnerCode and keys) signs a result naming our reference.
    other = MomoStandIn(
        partner_code="MOMOBVKA", access_key="bvka-access", secret_key="bvka-secret-0123456789"
    )
    assert _ipn(_forged(other, fields, partnerCode="MOMOBVKA")) == 204
    # Same keys (a shared test account) but another partnerCode: refused as well.
    assert _ipn(_forged(momo_standin, fields, partnerCode="MOMOBVKA")) == 204
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not PaymentEvent.objects.filter(reference=payment.reference, result="ok").exists()
    assert PaymentEvent.objects.filter(reference=payment.reference, verified=False).count() == 2


def test_momo_down_at_create_keeps_the_row_and_answers_503(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    momo_standin.down("503")
    try:
        _start(booking, patient)
    except services.GatewayUnavailable as exc:
        assert exc.status_code == 503 and exc.code == "gateway_down"
    else:  # pragma: no cover - the assertion below explains
        raise AssertionError("a gateway that is down must refuse the payment")
    payment = Payment.objects.get(appointment=booking)
    assert payment.status == PaymentStatus.FAILED and "503" in payment.failure


def test_a_lost_ipn_is_settled_by_the_query(
    ttyt_momo: GatewayAccount, momo_standin: MomoStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    _settled(momo_standin, payment)
    assert services.payment_settle(payment=payment) == "ok"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID


def test_cancel_refunds_at_once_and_the_job_does_not_refund_again(
    ttyt_momo: GatewayAccount,
    momo_standin: MomoStandIn,
    booking: Any,
    patient: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment)
    assert _ipn(fields) == 204
    with django_capture_on_commit_callbacks(execute=True):
        appointment_services.appointment_cancel(appointment=booking, actor=patient.account)
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    refund = Refund.objects.get(payment=payment)
    assert refund.status == RefundStatus.DONE and refund.reason == "Người bệnh huỷ lịch hẹn"
    assert services.payments_sweep()["refunds"] == 0
    assert services.booking_cancelled_refund(appointment_id=booking.pk) == 0  # a second hook: nothing
    assert Refund.objects.filter(payment=payment).count() == 1
    assert [path for path, _body in momo_standin.requests if path.endswith("/refund")] == [
        "/v2/gateway/api/refund"
    ]


def test_momo_down_at_refund_goes_to_refund_failed_then_the_retry_refunds(
    ttyt_momo: GatewayAccount,
    momo_standin: MomoStandIn,
    booking: Any,
    patient: Any,
    persona: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = _start(booking, patient)
    fields, _return_url = _settled(momo_standin, payment)
    assert _ipn(fields) == 204
    momo_standin.down("503")
    with django_capture_on_commit_callbacks(execute=True):
        appointment_services.appointment_cancel(
            appointment=booking, actor=persona("datlich"), reason="Bác sĩ nghỉ đột xuất"
        )
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert payment.status == PaymentStatus.REFUND_FAILED and refund.status == RefundStatus.FAILED
    assert refund.reason == "Cơ sở huỷ lịch hẹn"
    momo_standin.up()
    services.refund_start(payment=payment, actor=persona("admin"), reason="Hoàn lại theo yêu cầu")
    payment.refresh_from_db()
    refund.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED and refund.status == RefundStatus.DONE
    assert Refund.objects.filter(payment=payment).count() == 1


def test_unknown_reference_is_answered_204_and_logged(ttyt_momo: GatewayAccount) -> None:
    assert _ipn({"orderId": "999999999999999", "amount": 1}) == 204
    events = PaymentEvent.objects.filter(reference="999999999999999", kind=EventKind.IPN)
    assert list(events.values_list("result", flat=True)) == [EventResult.NOT_FOUND]
