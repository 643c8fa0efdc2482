"""Issue 13 §2–3, VietQR (payOS) end to end: a booking's fee paid by a bank transfer to the QR that payOS's stand-in
(tests/standins/payos.py, which signs on its own) issues, its webhook verified and applied once, the unsigned
return confirmed by asking payOS (and what the patient sees when payOS cannot answer), the QR page and its
status poll, and refunds, which payOS cannot make: they go to the accountant's list."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.utils import timezone

from health_f0.appointments import services as appointment_services
from health_f0.core.models import AuditLog
from health_f0.payments import services
from health_f0.payments.gateways.vietqr import MAX_ORDER_CODE, parse_emvco
from health_f0.payments.models import (
    EventResult,
    GatewayAccount,
    Payment,
    PaymentEvent,
    PaymentStatus,
    Refund,
    RefundStatus,
)
from health_f0.payments.tests.conftest import PRICE
from tests.standins.payos import PayosStandIn, signature_of

WEBHOOK = "/thanh-toan/vietqr/webhook"
RETURN = "/thanh-toan/vietqr/return"


def _start(booking: Any, patient: Any) -> Payment:
    return services.payment_start(actor=patient.account, gateway="vietqr", appointment=booking)


def _webhook(body: dict[str, Any]) -> tuple[int, Any]:
    response = Client().post(WEBHOOK, body, content_type="application/json")
    return response.status_code, response.json()


def _pays(payment: Payment) -> int:
    return AuditLog.objects.filter(
        target_type="payments.payment", target_id=str(payment.pk), verb__in=["pay", "late_pay"]
    ).count()


def _patient_client(patient: Any) -> Client:
    client = Client()
    client.force_login(patient.account)
    return client


def test_the_reference_is_payos_order_code_and_the_qr_carries_the_amount(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    assert payment.status == PaymentStatus.PENDING
    # payOS's orderCode is our reference as a number: digits, no leading zero, at most 2**53-1.
    assert payment.reference.isdigit() and not payment.reference.startswith("0")
    assert len(payment.reference) == 15 and int(payment.reference) <= MAX_ORDER_CODE
    assert int(payment.reference) in payos_standin.links
    qr = parse_emvco(payment.qr_payload)
    assert qr["amount"] == PRICE and qr["account_number"] == payos_standin.account_number
    # A second tap shows the same QR.
    assert _start(booking, patient).pk == payment.pk


def test_the_portal_shows_our_qr_page_not_payos_checkout(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    client = _patient_client(patient)
    response = client.post(f"/thanh-toan/lich-hen/{booking.public_id}", {"gateway": "vietqr"})
    payment = Payment.objects.get(appointment=booking)
    assert response.status_code == 302 and response["Location"] == f"/thanh-toan/ket-qua/{payment.public_id}"
    page = client.get(response["Location"]).content.decode()
    assert "<svg" in page and payos_standin.account_number in page and "TTYT HUYEN MOC HOA" in page
    assert "150.000" in page and payment.reference in page and "Vietcombank" in page
    assert f"/thanh-toan/trang-thai/{payment.public_id}" in page and "pay_status.js" in page
    assert "/web/" not in page  # no link to payOS's own checkout page


def test_double_webhook_is_applied_once_and_the_status_poll_follows(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    client = _patient_client(patient)
    status_url = f"/thanh-toan/trang-thai/{payment.public_id}"
    assert client.get(status_url).json() == {
        "status": "pending",
        "label": "Đang chờ thanh toán",
        "paid": False,
        "waiting": True,
    }
    body = payos_standin.transfer_arrived(int(payment.reference), send=False)
    assert _webhook(body) == (200, {"success": True})
    assert _webhook(body) == (200, {"success": True})
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID and payment.gateway_ref == body["data"]["reference"]
    assert _pays(payment) == 1
    # The payer's bank account is kept masked in the gateway log, enough to match a bank statement.
    for event in PaymentEvent.objects.filter(payment=payment, kind="webhook"):
        data = event.payload["data"]
        assert data["counterAccountNumber"] == "••••6789" and data["counterAccountName"] == "N***** V** A"
        assert "0123456789" not in str(event.payload) and "NGUYEN VAN" not in str(event.payload)
    answer = client.get(status_url).json()
    assert answer["paid"] is True and answer["waiting"] is False and answer["label"] == "Đã thanh toán"


def test_the_status_poll_is_the_patients_own_only(
    ttyt_vietqr: GatewayAccount, booking: Any, patient: Any, persona: Any
) -> None:
    payment = _start(booking, patient)
    status_url = f"/thanh-toan/trang-thai/{payment.public_id}"
    assert Client().get(status_url).status_code == 404
    other = Client()
    other.force_login(persona("datlich"))  # staff: the portal's poll is not theirs
    assert other.get(status_url).status_code == 404
    from health_f0.patients.models import Patient

    stranger = Patient.objects.exclude(pk=patient.pk).filter(account__isnull=False).first()
    if stranger is not None:
        assert _patient_client(stranger).get(status_url).status_code == 404
    assert _patient_client(patient).get("/thanh-toan/trang-thai/not-a-uuid").status_code == 404


def test_return_before_the_webhook_asks_payos_and_applies_once(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    body = payos_standin.transfer_arrived(int(payment.reference), send=False)
    response = Client().get(RETURN, {"code": "00", "status": "PAID", "orderCode": payment.reference})
    assert response.status_code == 302 and response["Location"] == f"/thanh-toan/ket-qua/{payment.public_id}"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    assert _webhook(body) == (200, {"success": True})
    assert _pays(payment) == 1


def test_return_without_a_transfer_leaves_it_pending(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    # Forged "PAID" in the unsigned return: payOS says otherwise, nothing changes.
    response = Client().get(RETURN, {"code": "00", "status": "PAID", "orderCode": payment.reference})
    assert response.status_code == 302
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_payos_down_at_the_return_shows_a_checking_page_then_the_webhook_settles(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    body = payos_standin.transfer_arrived(int(payment.reference), send=False)
    payos_standin.down("503")
    client = _patient_client(patient)
    response = client.get(RETURN, {"orderCode": payment.reference})
    assert response.status_code == 302 and response["Location"].endswith("?xac-nhan=1")
    page = client.get(response["Location"])
    assert page.status_code == 200 and "Đang xác nhận thanh toán." in page.content.decode()
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert PaymentEvent.objects.filter(payment=payment, kind="return", result="error").count() == 1
    assert _webhook(body) == (200, {"success": True})  # the webhook does not need payOS's API
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID


def test_wrong_amount_wrong_signature_and_another_facilitys_webhook_are_refused(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    short = payos_standin.transfer_arrived(int(payment.reference), amount=PRICE - 50_000, send=False)
    assert _webhook(short) == (200, {"success": True})  # received (payOS retries otherwise), not applied
    tampered = {**short, "data": {**short["data"], "amount": PRICE}}
    assert _webhook(tampered)[0] == 400
    # Another facility's payOS channel (its own checksum key) signs a webhook naming our orderCode.
    data = {**short["data"], "amount": PRICE}
    other = {**short, "data": data, "signature": signature_of(data, "another-facility-checksum-key")}
    assert _webhook(other)[0] == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    results = list(PaymentEvent.objects.filter(reference=payment.reference).values_list("result", flat=True))
    assert sorted(results) == sorted(
        [EventResult.BAD_AMOUNT, EventResult.BAD_SIGNATURE, EventResult.BAD_SIGNATURE]
    )


def test_payos_down_at_create_answers_503(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payos_standin.down("refused")
    client = _patient_client(patient)
    response = client.post(f"/thanh-toan/lich-hen/{booking.public_id}", {"gateway": "vietqr"})
    assert response.status_code == 503
    assert "Cổng thanh toán đang không kết nối được" in response.content.decode()
    assert Payment.objects.get(appointment=booking).status == PaymentStatus.FAILED


def test_a_cancelled_vietqr_booking_goes_to_the_manual_refund_list(
    ttyt_vietqr: GatewayAccount,
    payos_standin: PayosStandIn,
    booking: Any,
    patient: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    payment = _start(booking, patient)
    assert _webhook(payos_standin.transfer_arrived(int(payment.reference), send=False))[0] == 200
    with django_capture_on_commit_callbacks(execute=True):
        appointment_services.appointment_cancel(appointment=booking, actor=patient.account)
    payment.refresh_from_db()
    refund = Refund.objects.get(payment=payment)
    assert payment.status == PaymentStatus.REFUND_FAILED and refund.status == RefundStatus.FAILED
    assert refund.gateway_code == "manual" and "kế toán chuyển trả" in refund.failure
    # The job does not retry it on its own (nothing paid is left to refund).
    assert services.payments_sweep()["refunds"] == 0
    assert Refund.objects.filter(payment=payment).count() == 1


def test_payer_accounts_logged_before_the_mask_are_masked_by_the_migration(db: Any) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("health_f0.payments.migrations.0002_mask_payer_accounts")
    raw = {"code": "00", "data": {"counterAccountNumber": "0123456789", "counterAccountName": "NGUYEN VAN A"}}
    event = PaymentEvent.objects.create(gateway="vietqr", kind="webhook", result="applied", payload=raw)
    other = PaymentEvent.objects.create(
        gateway="vnpay", kind="ipn", result="applied", payload={"vnp_TxnRef": "1"}
    )
    migration.mask(apps, None)
    migration.mask(apps, None)  # twice: what is masked stays as it is
    event.refresh_from_db()
    other.refresh_from_db()
    assert event.payload == {
        "code": "00",
        "data": {"counterAccountNumber": "••••6789", "counterAccountName": "N***** V** A"},
    }
    assert other.payload == {"vnp_TxnRef": "1"}


def test_a_given_up_vietqr_payment_has_its_payos_link_cancelled(
    ttyt_vietqr: GatewayAccount,
    payos_standin: PayosStandIn,
    booking: Any,
    patient: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # The patient gives up the QR to pay another way: payOS is told, so a late transfer is refused at the bank
    # instead of landing on a closed payment that only a manual refund could undo.
    payment = _start(booking, patient)
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_cancel_open(payment=payment, actor=patient.account)
    link = payos_standin.links[int(payment.reference)]
    assert link.status == "CANCELLED" and link.cancellation_reason == "Nguoi benh huy thanh toan"
    logged = PaymentEvent.objects.get(payment=payment, kind="cancel")
    assert logged.result == "info" and logged.verified
    # Expired by the minute job: cancelled the same way.
    second = _start(booking, patient)
    Payment.objects.filter(pk=second.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        services.payment_settle(payment=second)
    second.refresh_from_db()
    assert second.status == PaymentStatus.EXPIRED
    assert payos_standin.links[int(second.reference)].status == "CANCELLED"


def test_a_link_paid_just_before_its_cancel_is_recorded_as_the_late_payment(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    payos_standin.transfer_arrived(int(payment.reference), send=False)  # the webhook is lost
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CANCELLED)
    assert services.gateway_link_cancel(payment_id=payment.pk, reason="Het han") == "ok"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PAID
    assert AuditLog.objects.filter(verb="late_pay", target_id=str(payment.pk)).exists()


def test_a_link_paid_with_another_amount_before_its_cancel_is_answered_as_a_bad_amount(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    # The event log said "bad amount" while the call answered "info": both now say the same.
    payment = _start(booking, patient)
    payos_standin.transfer_arrived(int(payment.reference), amount=payment.amount + 10_000, send=False)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CANCELLED)
    assert services.gateway_link_cancel(payment_id=payment.pk, reason="Het han") == "bad_amount"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    logged = PaymentEvent.objects.get(payment=payment, kind="cancel")
    assert logged.result == "bad_amount" and logged.verified and logged.amount == payment.amount + 10_000


def test_payos_down_at_the_cancel_is_logged_and_changes_nothing(
    ttyt_vietqr: GatewayAccount, payos_standin: PayosStandIn, booking: Any, patient: Any
) -> None:
    payment = _start(booking, patient)
    Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.CANCELLED)
    payos_standin.down()
    assert services.gateway_link_cancel(payment_id=payment.pk, reason="Het han") == "error"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CANCELLED
    assert PaymentEvent.objects.get(payment=payment, kind="cancel").result == "error"
