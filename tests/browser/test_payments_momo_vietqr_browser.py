"""Paying a booking's fee in a real browser through MoMo and VietQR (payOS), against their local stand-ins
(tests/standins/momo.py, tests/standins/payos.py): MoMo's page, its IPN to our server, the return to the result
page; and VietQR's QR drawn on our own page, which turns to "Đã thanh toán" by itself when payOS's webhook
reports the transfer. Every new page: axe-core, a screenshot, under 100 KB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment
from health_f0.appointments.tests.conftest import make_service
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from health_f0.payments.crypto import encrypt
from health_f0.payments.models import GatewayAccount, Payment, Prepayment, ServicePaymentPolicy
from tests.browser.test_payments_browser import check, login, weigh
from tests.standins.momo import MomoStandIn
from tests.standins.payos import PayosStandIn

pytestmark = pytest.mark.browser


@pytest.fixture
def standins(live_server: Any, seeded: None, settings: Any) -> Iterator[tuple[MomoStandIn, PayosStandIn]]:
    reset_caches()
    settings.PORTAL_URL = live_server.url
    momo = MomoStandIn().start()
    payos = PayosStandIn().start()
    payos.webhook_url = live_server.url + "/thanh-toan/vietqr/webhook"  # as registered with payOS
    ttyt = Facility.objects.get(code="TTYT-HD")
    GatewayAccount.objects.create(
        facility=ttyt,
        gateway="momo",
        merchant_code=momo.partner_code,
        secret_encrypted=encrypt(momo.secret_key),
        access_key_encrypted=encrypt(momo.access_key),
        api_url=momo.create_url,
    )
    GatewayAccount.objects.create(
        facility=ttyt,
        gateway="vietqr",
        merchant_code=payos.client_id,
        secret_encrypted=encrypt(payos.checksum_key),
        access_key_encrypted=encrypt(payos.api_key),
        api_url=payos.base_url,
        bank_bin=payos.bank_bin,
        account_number=payos.account_number,
        account_name=payos.account_name,
    )
    try:
        yield momo, payos
    finally:
        momo.stop()
        payos.stop()


def prepaid_booking(name: str) -> Appointment:
    hung = Patient.objects.get(account__username="bn0000001")
    service = make_service(
        Facility.objects.get(code="PK-NOI1"),
        name=name,
        short_name="Kham",
        requires_confirmation=False,
        min_notice_hours=0,
    )
    ServicePaymentPolicy.objects.create(
        service=service, price=150_000, prepayment=Prepayment.REQUIRED, pay_deadline_minutes=30
    )
    start = timezone.localtime() + timedelta(days=3)
    while start.weekday() > 4:
        start += timedelta(days=1)
    slot = start.replace(hour=9, minute=0, second=0, microsecond=0)
    return appt_services.appointment_book(
        patient=hung, service=service, slot_start=slot, channel="web", actor=hung.account
    )


def choose(page: Any, base: str, booking: Appointment, gateway_label: str) -> None:
    page.goto(f"{base}/lich-hen/{booking.public_id}")
    fee = page.locator("section", has=page.get_by_role("heading", name="Phí khám"))
    expect(fee).to_contain_text("150.000 đ")
    fee.get_by_role("link", name="Thanh toán").click()
    page.wait_for_url(f"**/thanh-toan/lich-hen/{booking.public_id}")
    page.get_by_role("radio", name=gateway_label).check()


def test_book_with_prepayment_through_momo(
    page: Any, live_server: Any, standins: tuple[MomoStandIn, PayosStandIn], axe: Any, shoot: Any
) -> None:
    momo, _payos = standins
    base = live_server.url
    booking = prepaid_booking("Khám Tim mạch")
    login(page, base)
    choose(page, base, booking, "Ví MoMo")
    check(page, axe, shoot, "payment-choose-momo")
    page.get_by_role("button", name="Thanh toán 150.000 đ").click()

    # MoMo's page (the stand-in): "Thanh toán" sends the signed IPN to us, then the browser back.
    page.wait_for_url(momo.base_url + "/v2/gateway/pay*")
    shoot(page, "payment-momo-standin")
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    page.wait_for_url("**/thanh-toan/ket-qua/*")
    main = page.locator("main")
    expect(main).to_contain_text("Thanh toán thành công")
    expect(main).to_contain_text("Ví MoMo")
    expect(main).to_contain_text("Đã thanh toán")
    check(page, axe, shoot, "payment-result-momo-paid")
    assert weigh(page, page.url, base) < 100 * 1024
    payment = Payment.objects.get(appointment=booking)
    assert payment.status == "paid" and payment.gateway == "momo"
    order = momo.orders[payment.reference]
    assert order.ipn_status == [204]  # MoMo's IPN answered 204 and applied before the browser came back
    page.get_by_role("link", name="Về lịch hẹn").click()
    expect(page.locator("section", has=page.get_by_role("heading", name="Phí khám"))).to_contain_text(
        "Đã thanh toán 150.000 đ"
    )


def test_book_with_prepayment_through_vietqr_the_page_follows_the_transfer(
    page: Any, live_server: Any, standins: tuple[MomoStandIn, PayosStandIn], axe: Any, shoot: Any
) -> None:
    _momo, payos = standins
    base = live_server.url
    booking = prepaid_booking("Khám Mắt")
    login(page, base)
    choose(page, base, booking, "Chuyển khoản VietQR")
    page.get_by_role("button", name="Thanh toán 150.000 đ").click()

    # Our own page with the QR, the account, the amount and the reference; no detour through payOS's page.
    page.wait_for_url("**/thanh-toan/ket-qua/*")
    payment = Payment.objects.get(appointment=booking)
    main = page.locator("main")
    expect(page.get_by_role("img", name="Mã QR chuyển khoản")).to_be_visible()
    expect(main).to_contain_text("Quét mã QR")
    expect(main).to_contain_text(payos.account_number)
    expect(main).to_contain_text("TTYT HUYEN MOC HOA")
    expect(main).to_contain_text("Vietcombank")
    expect(main).to_contain_text(payment.reference)
    expect(main).to_contain_text("150.000 đ")
    expect(main).to_contain_text("Đang chờ thanh toán")
    check(page, axe, shoot, "payment-vietqr-qr")
    assert weigh(page, page.url, base) < 100 * 1024

    # The patient transfers in their bank's app: payOS's webhook reaches us, the page turns by itself.
    assert payos.transfer_arrived(int(payment.reference))["data"]["amount"] == 150_000
    expect(main).to_contain_text("Thanh toán thành công", timeout=15_000)
    expect(main).to_contain_text("Đã thanh toán")
    expect(page.get_by_role("img", name="Mã QR chuyển khoản")).to_have_count(0)
    check(page, axe, shoot, "payment-vietqr-paid")
    payment.refresh_from_db()
    assert payment.status == "paid"
    assert payos.links[int(payment.reference)].webhooks == [200]
