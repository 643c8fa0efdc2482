"""Paying online in a real browser, through the local VNPay stand-in (tests/standins/vnpay.py): the patient
pays a booking's fee that the service requires ahead (the gateway's page, its IPN to our server, the return to
the result page), pays their share of a visit's bill from "Hồ sơ khám bệnh", then cancels the prepaid booking
and sees the fee refunded by the periodic job. Every new page: axe-core, a screenshot, under 100 KB."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import services as appt_services
from health_f0.appointments.tests.conftest import make_service
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLink, HisVisit
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from health_f0.payments import services as payment_services
from health_f0.payments.crypto import encrypt
from health_f0.payments.models import GatewayAccount, Payment, Prepayment, ServicePaymentPolicy
from tests.standins.vnpay import VnpayStandIn

pytestmark = pytest.mark.browser

TMN = "HF0TTYT1"


@pytest.fixture
def vnpay(live_server: Any, seeded: None, settings: Any) -> Iterator[VnpayStandIn]:
    reset_caches()
    standin = VnpayStandIn(accounts={TMN: "TTYTSECRETKEY0123456789ABCDEFGH"}).start()
    standin.ipn_url = live_server.url + "/thanh-toan/vnpay/ipn"  # as registered with VNPay
    settings.PORTAL_URL = live_server.url
    GatewayAccount.objects.create(
        facility=Facility.objects.get(code="TTYT-HD"),
        gateway="vnpay",
        merchant_code=TMN,
        secret_encrypted=encrypt(standin.accounts[TMN]),
        api_url=standin.pay_url,
        api_url_2=standin.api_url,
    )
    try:
        yield standin
    finally:
        standin.stop()


def login(page: Any, base: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill("bn0000001")
    page.get_by_label(re.compile(r"^Mật khẩu")).fill("demo-2026")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")


def weigh(page: Any, url: str, base: str) -> int:
    responses: list[Any] = []

    def handler(response: Any) -> None:
        responses.append(response)

    page.on("response", handler)
    page.goto(url)
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", handler)
    assert all(r.url.startswith(base) for r in responses), "no third-party requests"
    return sum(len(r.body()) for r in responses if r.status < 300)


def check(page: Any, axe: Any, shoot: Any, name: str) -> None:
    violations = axe(page)
    assert not violations, violations
    shoot(page, name)


def pay_at_vnpay(page: Any, vnpay: VnpayStandIn, shoot: Any, name: str) -> None:
    page.wait_for_url(vnpay.pay_url + "*")
    expect(page.get_by_role("heading", name=re.compile("VNPAY"))).to_be_visible()
    shoot(page, name)
    page.get_by_role("button", name="Thanh toán", exact=True).click()
    page.wait_for_url("**/thanh-toan/ket-qua/*")


def test_pay_a_booking_a_visit_bill_and_see_the_refund(
    page: Any, live_server: Any, vnpay: VnpayStandIn, axe: Any, shoot: Any
) -> None:
    base = live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    service = make_service(
        Facility.objects.get(code="PK-NOI1"),
        name="Khám Tim mạch",
        short_name="Kham Tim mach",
        requires_confirmation=False,
        min_notice_hours=0,
    )
    ServicePaymentPolicy.objects.create(
        service=service, price=150_000, prepayment=Prepayment.REQUIRED, pay_deadline_minutes=30
    )
    start = timezone.localtime() + timedelta(days=3)
    while start.weekday() > 4:
        start += timedelta(days=1)
    slot = start.replace(hour=8, minute=0, second=0, microsecond=0)
    booking = appt_services.appointment_book(
        patient=hung, service=service, slot_start=slot, channel="web", actor=hung.account
    )
    login(page, base)

    # The booking's page asks for the fee before the deadline; "Thanh toán" leads to the choice of gateway.
    page.goto(f"{base}/lich-hen/{booking.public_id}")
    fee = page.locator("section", has=page.get_by_role("heading", name="Phí khám"))
    expect(fee).to_contain_text("150.000 đ")
    expect(fee).to_contain_text("quá hạn, lịch hẹn sẽ tự huỷ")
    fee.get_by_role("link", name="Thanh toán").click()
    page.wait_for_url(f"**/thanh-toan/lich-hen/{booking.public_id}")
    expect(page.get_by_role("radio", name="VNPay")).to_be_checked()
    check(page, axe, shoot, "payment-choose-booking")
    assert weigh(page, page.url, base) < 100 * 1024
    page.get_by_role("button", name="Thanh toán 150.000 đ").click()
    pay_at_vnpay(page, vnpay, shoot, "payment-vnpay-standin")

    # The IPN reached us before the browser came back: the result page says paid, once.
    expect(page.locator("main")).to_contain_text("Thanh toán thành công")
    expect(page.locator("main")).to_contain_text("150.000 đ")
    check(page, axe, shoot, "payment-result-paid")
    assert weigh(page, page.url, base) < 100 * 1024
    assert [ipn["body"]["RspCode"] for ipn in vnpay.ipns] == ["00"]
    payment = Payment.objects.get(appointment=booking)
    assert payment.status == "paid"
    page.get_by_role("link", name="Về lịch hẹn").click()
    expect(page.locator("section", has=page.get_by_role("heading", name="Phí khám"))).to_contain_text(
        "Đã thanh toán 150.000 đ"
    )
    shoot(page, "payment-booking-paid")

    # The visit's bill in "Hồ sơ khám bệnh": insurance's part and the patient's, with "Thanh toán".
    ttyt = Facility.objects.get(code="TTYT-HD")
    HisLink.objects.create(patient=hung, facility=ttyt, his_patient_id="BN-PAY", linked_at=timezone.now())
    HisVisit.objects.create(
        patient=hung,
        facility=ttyt,
        source="xml",
        external_id="MALK-PAY-1",
        department_name="Khoa Khám bệnh",
        admitted_at=timezone.now() - timedelta(days=1),
        diagnosis_text="Tăng huyết áp vô căn (nguyên phát)",
        icd10="I10",
        bill_total=480_000,
        bill_insurance=384_000,
        bill_patient=96_000,
    )
    page.goto(base + "/ho-so-kham")
    visit_card = page.locator("li.visit-item").first
    expect(visit_card).to_contain_text("BHYT chi trả: 384.000 đ")
    expect(visit_card).to_contain_text("Người bệnh trả: 96.000 đ")
    check(page, axe, shoot, "payment-his-visit-bill")
    visit_card.get_by_role("link", name="Thanh toán").click()
    check(page, axe, shoot, "payment-choose-visit")
    page.get_by_role("button", name="Thanh toán 96.000 đ").click()
    pay_at_vnpay(page, vnpay, shoot, "payment-vnpay-standin-visit")
    expect(page.locator("main")).to_contain_text("Thanh toán thành công")
    page.goto(base + "/ho-so-kham")
    expect(page.locator("li.visit-item").first).to_contain_text("đã thanh toán")
    expect(page.locator("li.visit-item").first.get_by_role("link", name="Thanh toán")).to_have_count(0)

    # Cancel the prepaid booking: the fee goes back through VNPay's refund call as soon as the cancellation
    # commits; the periodic job (the safety net) finds nothing left to refund.
    page.goto(f"{base}/lich-hen/{booking.public_id}/huy")
    page.get_by_role("button", name="Xác nhận huỷ lịch").click()
    page.wait_for_url(f"**/lich-hen/{booking.public_id}")
    assert payment_services.payments_sweep()["refunds"] == 0
    page.reload()
    expect(page.locator("section", has=page.get_by_role("heading", name="Phí khám"))).to_contain_text(
        "đã được hoàn lại"
    )
    shoot(page, "payment-booking-refunded")
    page.goto(f"{base}/thanh-toan/ket-qua/{payment.public_id}")
    expect(page.locator("main")).to_contain_text("Khoản tiền này đã được hoàn lại")
    check(page, axe, shoot, "payment-result-refunded")
    assert vnpay.transactions[payment.reference].refunded == 150_000
