"""POST /api/v1/payments and GET /api/v1/payments/{id}: a patient pays their booking or their visit's bill
through the VNPay stand-in; the payment is theirs only."""

from __future__ import annotations

from typing import Any

from django.test import Client

from health_f0.his.models import HisLink
from health_f0.payments.models import Payment
from health_f0.payments.tests.conftest import (  # noqa: F401 - fixtures
    PRICE,
    booking_fixture,
    patient_fixture,
    priced_service_fixture,
    ttyt_vnpay_fixture,
    visit_fixture,
    vnpay_fixture,
)
from tests.standins.vnpay import VnpayStandIn


def test_a_patient_pays_a_booking_and_reads_the_payment(
    as_user: Any, ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any
) -> None:
    api = as_user("bn0000001")
    response = api.post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["amount"] == PRICE and body["status"] == "pending" and body["purpose"] == "booking_fee"
    assert body["redirect_url"].startswith(vnpay.pay_url) and body["qr_payload"] == ""
    assert body["appointment"] == str(booking.public_id) and body["visit"] is None
    params = vnpay.pay(body["redirect_url"])
    assert Client().get("/thanh-toan/vnpay/ipn", params).json()["RspCode"] == "00"
    assert body["receipt_url"] == ""  # nothing paid yet
    detail = api.get(f"/api/v1/payments/{body['id']}").json()
    assert detail["status"] == "paid" and detail["redirect_url"] == "" and detail["paid_at"]
    # The receipt, with the same token: a PDF of the account's own payment, nobody else's.
    assert detail["receipt_url"].endswith(f"/api/v1/payments/{body['id']}/receipt.pdf")
    pdf = api.get(f"/api/v1/payments/{body['id']}/receipt.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and pdf["Cache-Control"] == "private, no-store"
    assert as_user("datlich").get(f"/api/v1/payments/{body['id']}/receipt.pdf").status_code == 403
    assert api.get("/api/v1/payments/not-a-uuid/receipt.pdf").status_code == 404
    again = api.post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
    )
    assert again.status_code == 400 and again.json()["code"] == "already_paid"


def test_a_visit_bill_through_the_api(as_user: Any, ttyt_vnpay: Any, visit: Any, patient: Any) -> None:
    HisLink.objects.create(
        patient=patient, facility=visit.facility, his_patient_id="BN1", linked_at=visit.admitted_at
    )
    response = as_user("bn0000001").post(
        "/api/v1/payments", {"visit": str(visit.public_id), "gateway": "vnpay"}, format="json"
    )
    assert response.status_code == 201 and response.json()["amount"] == 96_000


def test_bad_input_and_other_peoples_records(as_user: Any, ttyt_vnpay: Any, booking: Any) -> None:
    api = as_user("bn0000001")
    both = api.post("/api/v1/payments", {"gateway": "vnpay"}, format="json")
    assert both.status_code == 400 and "appointment" in both.json()["errors"]
    unknown = api.post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "zalopay"}, format="json"
    )
    assert unknown.status_code == 400
    not_offered = api.post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "momo"}, format="json"
    )
    assert not_offered.status_code == 400
    # Staff use the desk: the patient API refuses them; another account's booking is a 404.
    staff = as_user("datlich").post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
    )
    assert staff.status_code == 403
    payment = api.post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
    )
    from rest_framework.test import APIClient

    from health_f0.api.services import api_token_issue
    from tests.access_records import portal_ready, resident_account

    other = portal_ready(resident_account())
    raw, _token = api_token_issue(user=other.account)
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert stranger.get(f"/api/v1/payments/{payment.json()['id']}").status_code == 404
    assert stranger.get(f"/api/v1/payments/{payment.json()['id']}/receipt.pdf").status_code == 404
    assert (
        stranger.post(
            "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
        ).status_code
        == 404
    )
    assert api.get("/api/v1/payments/not-a-uuid").status_code == 404
    assert Payment.objects.count() == 1


def test_gateway_down_answers_503_and_keeps_the_row(
    as_user: Any, ttyt_vnpay: Any, booking: Any, monkeypatch: Any
) -> None:
    from health_f0.payments.gateways.base import GatewayError
    from health_f0.payments.gateways.vnpay import VNPayGateway

    def down(self: Any, request: Any) -> Any:
        raise GatewayError("refused")

    monkeypatch.setattr(VNPayGateway, "create", down)
    response = as_user("bn0000001").post(
        "/api/v1/payments", {"appointment": str(booking.public_id), "gateway": "vnpay"}, format="json"
    )
    assert response.status_code == 503 and response.json()["code"] == "gateway_down"
    assert Payment.objects.get().status == "failed"
