"""One account for every resident, in a real browser (issue 12, section 1).

1. A guest booked a visit with an OTP (no account). The same person opens an account from the login page's
   "Đăng ký tài khoản" with the same number: the booking is in "Lịch hẹn của tôi" at once.
2. From the account, a child is added on the same number ("Thêm người nhà").
3. Logged out, "Quên mật khẩu?": a code to the number, the account picked (two accounts share it), a new
   password, and the login with it works.

Checked on a 390 px phone (no sideways scrolling), with axe; screenshots in var/screenshots/signup-*.png."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import services as appt_services
from health_f0.patients.models import OtpChallenge, Patient
from health_f0.patients.otp import _hash
from tests.www.test_appointments_portal import at, make_service, open_day

pytestmark = pytest.mark.browser

PHONE = "0986 111 222"
E164 = "+84986111222"


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, width


def _guest_booking() -> Any:
    """A booking made without an account, with an OTP to E164 (planted: the SMS is not the point here)."""
    OtpChallenge.objects.create(
        phone=E164,
        purpose="booking",
        code_hash=_hash(E164, "booking", "135790"),
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    service = make_service()
    return appt_services.appointment_book_guest(
        service=service,
        slot_start=at(open_day(service), 9),
        full_name="Trần Thị Hoa",
        date_of_birth=date(1990, 5, 17),
        sex="female",
        phone=E164,
        otp="135790",
    )


def _resend_allowed() -> None:
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    for challenge in OtpChallenge.objects.all():
        cache.delete(f"otp-resend:{challenge.purpose}:{challenge.phone}")


def _get_code(page: Any, sms: Any) -> str:
    page.get_by_role("button", name="Nhận OTP").click()
    expect(page.locator(".otp-box .notice")).to_be_visible()
    return sms.last_otp(E164)


def test_sign_up_claims_the_guest_booking_adds_a_child_and_resets_the_password(
    page: Any, live_server: Any, axe: Any, shoot: Any, sms: Any
) -> None:
    base = live_server.url
    booking = _guest_booking()

    # 1. Sign up from the login page.
    page.goto(base + "/dang-nhap")
    shoot(page, "signup-01-login-links")
    page.get_by_role("link", name="Đăng ký tài khoản").click()
    page.wait_for_url("**/dang-ky-tai-khoan")
    page.get_by_label(re.compile("^Họ và tên")).fill("Trần Thị Hoa")
    page.get_by_label(re.compile("^Ngày sinh")).fill("17/05/1990")
    page.get_by_label("Nữ", exact=True).check()
    page.get_by_label(re.compile("^Số điện thoại di động")).fill(PHONE)
    page.get_by_label(re.compile("^Mật khẩu")).fill("Hoa-sen-2026")
    page.get_by_label(re.compile("^Nhập lại mật khẩu")).fill("Hoa-sen-2026")
    page.locator("#id_consent").check()
    assert axe(page) == []
    _no_sideways_scroll(page)
    code = _get_code(page, sms)
    # The page came back from the server: the typed fields are kept, the passwords are not (never echoed).
    page.get_by_label(re.compile("^Mật khẩu")).fill("Hoa-sen-2026")
    page.get_by_label(re.compile("^Nhập lại mật khẩu")).fill("Hoa-sen-2026")
    page.get_by_label(re.compile("^Mã OTP")).fill(code)
    shoot(page, "signup-02-form")
    page.get_by_role("button", name="Mở tài khoản").last.click()
    page.wait_for_url("**/tai-khoan/da-mo")
    body = page.locator("main").inner_text() if page.locator("main").count() else page.inner_text("body")
    account = Patient.objects.get(pk=booking.patient_id).account
    assert account is not None  # the guest's record became the account's own
    username = account.username
    assert username in body and "1 lịch hẹn" in body
    assert axe(page) == []
    _no_sideways_scroll(page)
    shoot(page, "signup-03-done")
    page.get_by_role("link", name="Lịch hẹn của tôi").first.click()
    page.wait_for_url("**/lich-hen")
    expect(page.locator(f'a[href="/lich-hen/{booking.public_id}"]')).to_be_visible()
    shoot(page, "signup-04-my-appointments")

    # 2. A child on the same number.
    _resend_allowed()
    page.goto(base + "/tai-khoan/da-mo")
    page.get_by_role("link", name="Thêm người nhà").click()
    page.wait_for_url("**/ca-nhan/them-nguoi-nha")
    page.get_by_label(re.compile("^Họ và tên")).fill("Nguyễn Minh An")
    page.get_by_label(re.compile("^Ngày sinh")).fill("02/01/2015")
    page.get_by_label("Nam", exact=True).check()
    page.locator("#id_consent").check()
    code = _get_code(page, sms)
    page.get_by_label(re.compile("^Mã OTP")).fill(code)
    assert axe(page) == []
    shoot(page, "signup-05-add-child")
    page.get_by_role("button", name="Thêm người nhà").last.click()
    page.wait_for_url("**/ca-nhan/nguoi-thay-mat")
    expect(page.locator("body")).to_contain_text("Nguyễn Minh An")
    shoot(page, "signup-06-family")

    # 3. Forgot password, logged out.
    _resend_allowed()
    page.context.clear_cookies()
    page.goto(base + "/dang-nhap")
    page.get_by_role("link", name="Quên mật khẩu?").click()
    page.wait_for_url("**/quen-mat-khau")
    page.get_by_label(re.compile("^Số điện thoại di động")).fill(PHONE)
    code = _get_code(page, sms)
    page.get_by_label(re.compile("^Mã OTP")).fill(code)
    page.get_by_label(re.compile("^Mật khẩu mới")).fill("Moi-mat-khau-9")
    page.get_by_label(re.compile("^Nhập lại mật khẩu mới")).fill("Moi-mat-khau-9")
    page.get_by_role("button", name="Đặt mật khẩu mới").last.click()
    # Two accounts share the number: pick one (the passwords are asked again, never echoed).
    expect(page.locator("body")).to_contain_text("nhiều tài khoản trong gia đình")
    page.get_by_label(re.compile("Trần Thị Hoa")).check()
    page.get_by_label(re.compile("^Mật khẩu mới")).fill("Moi-mat-khau-9")
    page.get_by_label(re.compile("^Nhập lại mật khẩu mới")).fill("Moi-mat-khau-9")
    assert axe(page) == []
    _no_sideways_scroll(page)
    shoot(page, "signup-07-reset-choose-account")
    page.get_by_role("button", name="Đặt mật khẩu mới").last.click()
    page.wait_for_url("**/quen-mat-khau/xong")
    expect(page.locator("body")).to_contain_text(username)
    shoot(page, "signup-08-reset-done")
    page.get_by_role("link", name="Đăng nhập").last.click()
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label(re.compile(r"^Mật khẩu")).fill("Moi-mat-khau-9")
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/ca-nhan")
    expect(page.locator("body")).to_contain_text("Trần Thị Hoa")
    shoot(page, "signup-09-me")
