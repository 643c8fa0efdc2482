"""The payments desk: gateway accounts with write-only encrypted keys (administrators), the payments list with
the refund dialog (PAYMENT_REFUND_ROLES), the service price and prepayment page (managers, administrators)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.payments import services
from health_f0.payments.crypto import decrypt
from health_f0.payments.models import EventKind, GatewayAccount, Payment
from health_f0.payments.tests.conftest import (  # noqa: F401 - fixtures
    booking_fixture,
    patient_fixture,
    priced_service_fixture,
    ttyt_vnpay_fixture,
    vnpay_fixture,
)
from tests.standins.vnpay import VnpayStandIn

SECRET = "PRODSECRETKEY0123456789ABCDEFGHIJ"


def test_gateway_keys_are_write_only_and_stored_encrypted(desk: Any, demo: Any) -> None:
    admin = desk("admin")
    ttyt = Facility.objects.get(code="TTYT-HD")
    form = {
        "facility": ttyt.pk,
        "gateway": "vnpay",
        "is_active": "on",
        "merchant_code": "HF0PROD1",
        "secret": SECRET,
        "access_key": "",
        "api_url": "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html",
        "api_url_2": "https://sandbox.vnpayment.vn/merchant_webapi/api/transaction",
        "bank_bin": "",
        "account_number": "",
        "account_name": "",
    }
    missing = admin.post(reverse("admin:payments_gatewayaccount_add"), {**form, "secret": ""})
    assert missing.status_code == 200 and "Vui lòng nhập khoá bí mật" in missing.content.decode()
    response = admin.post(reverse("admin:payments_gatewayaccount_add"), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    account = GatewayAccount.objects.get(facility=ttyt, gateway="vnpay")
    assert decrypt(account.secret_encrypted) == SECRET and SECRET.encode() not in bytes(
        account.secret_encrypted
    )
    page = admin.get(reverse("admin:payments_gatewayaccount_change", args=[account.pk])).content.decode()
    assert SECRET not in page and "khoá bí mật" in page
    # A blank key field keeps the stored key.
    changed = admin.post(
        reverse("admin:payments_gatewayaccount_change", args=[account.pk]),
        {**form, "secret": "", "merchant_code": "HF0PROD2"},
    )
    assert changed.status_code == 302
    account.refresh_from_db()
    assert account.merchant_code == "HF0PROD2" and decrypt(account.secret_encrypted) == SECRET
    rows = AuditLog.objects.filter(verb="gateway_account_save")
    assert rows.count() == 2 and all(SECRET not in str(row.data) for row in rows)
    # Only administrators: the booking desk and a manager do not see the page.
    for username in ("datlich", "ttyt.lanhdao"):
        assert desk(username).get(reverse("admin:payments_gatewayaccount_changelist")).status_code == 403


def test_refund_from_the_desk_by_an_administrator_only(
    desk: Any, ttyt_vnpay: Any, vnpay: VnpayStandIn, booking: Any, patient: Any
) -> None:
    payment = services.payment_start(actor=patient.account, gateway="vnpay", appointment=booking)
    services.callback_apply(gateway="vnpay", kind=EventKind.IPN, params=vnpay.pay(payment.redirect_url))
    url = reverse("admin:payments_payment_refund_action", args=[payment.pk])
    booking_desk = desk("datlich")
    page = booking_desk.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert page.status_code == 200 and payment.reference in page.content.decode()
    assert (
        booking_desk.post(url, {"_form_submitted": "on", "reason": "Người bệnh xin hoàn tiền"}).status_code
        == 403
    )
    payment.refresh_from_db()
    assert payment.status == "paid"
    admin = desk("admin")
    short = admin.post(url, {"_form_submitted": "on", "reason": "x"})
    assert short.status_code == 200 and "ít nhất 5 ký tự" in short.content.decode()
    done = admin.post(url, {"_form_submitted": "on", "reason": "Người bệnh xin hoàn tiền"}, follow=True)
    assert "Đã hoàn tiền" in done.content.decode()
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.status == "refunded" and vnpay.transactions[payment.reference].refunded == payment.amount
    assert AuditLog.objects.filter(
        target_type="payments.payment", verb="refund", actor__username="admin"
    ).exists()


def test_service_prices_are_configured_by_managers(desk: Any, priced_service: Any) -> None:
    manager = desk("ttyt.lanhdao")
    listing = manager.get(reverse("admin:payments_servicepaymentpolicy_changelist"))
    assert listing.status_code == 200 and "150.000 đ" in listing.content.decode()
    assert desk("datlich").get(reverse("admin:payments_servicepaymentpolicy_changelist")).status_code == 403
