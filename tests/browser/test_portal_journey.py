"""The F0 registration journey in a real browser: register with OTP, get accepted, log in, confirm details."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.patients.models import Patient
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept

pytestmark = pytest.mark.browser

PHONE = "0977000111"
E164 = "+84977000111"


def fill_registration(page: Any, *, ward: str = "10532", **overrides: str) -> None:
    """Fill every required field (and a few optional ones) on /dang-ky as a person would."""
    yesterday = (timezone.localdate() - timedelta(days=1)).strftime("%d/%m/%Y")
    values = {
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": "01/05/1992",
        "phone": PHONE,
        "positive_date": yesterday,
        "spo2": "98",
        "breathing_rate": "16",
        "street": "Số 5 phố Mới",
    }
    values.update(overrides)
    page.get_by_label("Tôi tự đăng ký cho bản thân").check()
    page.get_by_label("Họ và tên người bệnh").fill(values["full_name"])
    page.get_by_label("Ngày sinh").fill(values["date_of_birth"])
    page.get_by_label("Nữ", exact=True).check()
    page.get_by_label("Số điện thoại di động").fill(values["phone"])
    page.locator("#id_ward_code").select_option(ward)
    page.get_by_label("Số nhà, đường, thôn/xóm").fill(values["street"])
    page.get_by_label("Test nhanh kháng nguyên").check()
    page.get_by_label("Ngày có kết quả dương tính").fill(values["positive_date"])
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label("Chỉ số SpO2 (%)").fill(values["spo2"])
    page.get_by_label("Nhịp thở (lần/phút)").fill(values["breathing_rate"])
    page.get_by_label("Số mũi vắc xin COVID-19 đã tiêm").select_option("2")
    page.get_by_label("Tự chăm sóc được", exact=True).check()


def test_whole_journey(page: Any, live_server: Any, sms: Any, axe: Any, shoot: Any) -> None:
    page.goto(live_server.url + "/")
    shoot(page, "01-home")
    page.get_by_role("link", name=re.compile("Đăng ký chăm sóc tại nhà")).click()
    page.wait_for_url("**/dang-ky")
    shoot(page, "02-register")

    fill_registration(page)
    page.get_by_label(re.compile("Tôi đồng ý để trạm y tế")).check()
    page.get_by_role("button", name="Nhận OTP").click()
    status = page.get_by_role("status").filter(has_text="Mã OTP đã được gửi tới")
    status.wait_for()
    assert "0977 000 111, có hiệu lực 5 phút" in status.inner_text()
    # Everything typed is still there, and the code box has the focus.
    assert page.get_by_label("Họ và tên người bệnh").input_value() == "Nguyễn Thị Mai"
    assert page.locator("#id_ward_code").input_value() == "10532"
    expect(page.locator("input[name=otp]")).to_be_focused()
    shoot(page, "03-register-otp-sent")

    page.keyboard.type(sms.last_otp(E164))
    page.get_by_role("button", name="Gửi khai báo", exact=True).last.click()
    page.wait_for_url("**/dang-ky/da-gui/**")
    assert page.get_by_role("heading", name="Đã gửi đăng ký").is_visible()
    assert "Trạm Y tế phường Lê Thanh Nghị" in page.content()
    assert axe(page) == []
    shoot(page, "04-register-done")

    # The station accepts (the desk is another screen; here the service is called directly).
    registration = Registration.objects.get(phone=E164)
    staff = get_user_model().objects.get(username="lethanhnghi.nv")
    registration_accept(registration=registration, actor=staff)
    body = sms.last(to=E164, kind="account")["body"]
    username = re.search(r"Tai khoan: (\S+)", body).group(1)  # type: ignore[union-attr]
    password = re.search(r"Mat khau: (\S+)", body).group(1)  # type: ignore[union-attr]

    page.goto(live_server.url + "/")
    page.get_by_role("link", name=re.compile("Khai báo sức khoẻ hằng ngày")).click()
    page.wait_for_url("**/dang-nhap")
    shoot(page, "05-login")
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label(re.compile(r"^Mật khẩu")).fill(password)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()

    page.wait_for_url("**/tai-khoan/doi-mat-khau")
    assert axe(page) == []
    shoot(page, "06-password-change")
    # A page the patient should not reach yet sends them back.
    page.goto(live_server.url + "/ca-nhan")
    page.wait_for_url("**/tai-khoan/doi-mat-khau")
    page.get_by_label(re.compile(r"^Mật khẩu mới")).fill("Xanh-la-cay-2026")
    page.get_by_label("Nhập lại mật khẩu mới").fill("Xanh-la-cay-2026")
    page.get_by_role("button", name="Lưu mật khẩu mới").click()

    page.wait_for_url("**/ca-nhan")
    text = page.locator("main").inner_text()
    for expected in (
        "Nguyễn Thị Mai",
        "01/05/1992",
        "Nữ",
        "0977 000 111",
        "Số 5 phố Mới, Phường Lê Thanh Nghị, Thành phố Hải Phòng",
        "Trạm Y tế phường Lê Thanh Nghị",
        "0220 389 1002",
    ):
        assert expected in text, expected
    assert axe(page) == []
    shoot(page, "07-me")
    page.get_by_role("button", name="Thông tin chính xác — Tiếp tục").click()
    page.get_by_text("Cảm ơn bạn đã xác nhận thông tin cá nhân.").wait_for()
    assert page.get_by_role("heading", name="Khai báo sức khoẻ hôm nay").is_visible()
    assert Patient.objects.get(phone=E164).details_confirmed_at is not None
    assert axe(page) == []
    shoot(page, "08-me-confirmed")


def test_no_javascript_path(nojs_page: Any, live_server: Any, sms: Any, shoot: Any) -> None:
    page = nojs_page
    page.goto(live_server.url + "/dang-ky")
    page.get_by_label("Họ và tên người bệnh").fill("Trần Văn Nam")
    # Another province: its wards appear after the reload button, the name is kept.
    page.get_by_label("Tỉnh/thành phố").select_option("1")
    page.get_by_role("button", name="Cập nhật danh sách phường/xã").click()
    page.wait_for_load_state()
    assert page.get_by_label("Họ và tên người bệnh").input_value() == "Trần Văn Nam"
    assert page.locator("#id_ward_code option[value='10532']").count() == 0
    assert page.locator("#id_ward_code option").count() > 20
    page.get_by_label("Tỉnh/thành phố").select_option("31")
    page.get_by_role("button", name="Cập nhật danh sách phường/xã").click()
    page.wait_for_load_state()
    assert page.locator("#id_ward_code option[value='10537']").count() == 1
    shoot(page, "09-register-nojs")

    fill_registration(page, ward="10537", full_name="Trần Văn Nam", phone="0905111222")
    page.get_by_label("Nam", exact=True).check()
    page.get_by_label(re.compile("Tôi đồng ý để trạm y tế")).check()
    page.get_by_role("button", name="Nhận OTP").click()
    page.get_by_text("Mã OTP đã được gửi tới 0905 111 222").wait_for()
    page.get_by_label("Mã OTP (6 chữ số)").fill(sms.last_otp("+84905111222"))
    page.get_by_role("button", name="Gửi khai báo", exact=True).last.click()
    page.wait_for_url("**/dang-ky/da-gui/**")
    assert "Trạm Y tế phường Tân Hưng" in page.content()
    assert Registration.objects.get(phone="+84905111222").full_name == "Trần Văn Nam"


def test_javascript_ward_list_follows_province(page: Any, live_server: Any) -> None:
    page.goto(live_server.url + "/dang-ky")
    assert not page.get_by_role("button", name="Cập nhật danh sách phường/xã").is_visible()
    with page.expect_response(re.compile(r"/dia-ban/phuong-xa\?tinh=1$")):
        page.get_by_label("Tỉnh/thành phố").select_option("1")
    page.wait_for_function("document.querySelectorAll('#id_ward_code option').length > 20")
    assert page.locator("#id_ward_code option[value='10532']").count() == 0


def test_validation_errors_in_vietnamese(page: Any, live_server: Any, axe: Any, shoot: Any) -> None:
    page.goto(live_server.url + "/dang-ky")
    fill_registration(page, spo2="150")
    page.get_by_label("Số căn cước công dân (CCCD)").fill("12345")
    page.get_by_role("button", name="Gửi khai báo", exact=True).last.click()
    page.locator(".error-summary").wait_for()
    assert "Số CCCD phải gồm đúng 12 chữ số." in page.locator("#id_cccd_error").inner_text()
    assert "SpO2 phải từ 50 đến 100" in page.locator("#id_spo2_error").inner_text()
    assert "Cần đồng ý cho phép xử lý dữ liệu sức khoẻ" in page.locator("#id_consent_error").inner_text()
    # The summary has the focus; its links lead to the fields, which name their error.
    expect(page.locator(".error-summary")).to_be_focused()
    assert page.get_by_label("Số căn cước công dân (CCCD)").get_attribute("aria-invalid") == "true"
    assert "id_cccd_error" in (
        page.get_by_label("Số căn cước công dân (CCCD)").get_attribute("aria-describedby") or ""
    )
    page.locator(".error-summary a[href='#id_spo2']").click()
    expect(page.locator("#id_spo2")).to_be_focused()
    assert page.get_by_label("Họ và tên người bệnh").input_value() == "Nguyễn Thị Mai"
    assert axe(page) == []
    shoot(page, "10-register-errors")


@pytest.mark.parametrize("path", ["/", "/dang-ky", "/chinh-sach-du-lieu", "/dang-nhap"])
def test_axe_public_pages(page: Any, live_server: Any, axe: Any, shoot: Any, path: str) -> None:
    page.goto(live_server.url + path)
    assert axe(page) == []
    if path == "/chinh-sach-du-lieu":
        shoot(page, "11-privacy")
    if path == "/dang-nhap":
        page.get_by_role("button", name="Đăng nhập", exact=True).click()
        page.locator(".error-summary").wait_for()
        assert axe(page) == []
        shoot(page, "12-login-errors")


def test_register_at_200_percent_zoom(browser: Any, live_server: Any, seeded: None, shoot: Any) -> None:
    # 200% zoom of a 390 px wide phone: a 195 CSS px wide viewport drawn at twice the density.
    context = browser.new_context(
        viewport={"width": 195, "height": 422}, device_scale_factor=2, locale="vi-VN"
    )
    page = context.new_page()
    try:
        page.goto(live_server.url + "/dang-ky")
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        wide = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
                .slice(0, 5).map(e => e.tagName + '#' + e.id + '.' + e.className)"""
        )
        shoot(page, "13-register-zoom-200")
        assert overflow <= 0, f"horizontal scrolling at 200% zoom: {overflow}px {wide}"
        page.goto(live_server.url + "/")
        shoot(page, "14-home-zoom-200")
    finally:
        context.close()


def test_page_weight(page: Any, live_server: Any) -> None:
    for path in ("/", "/dang-ky"):
        responses: list[Any] = []

        def handler(response: Any, responses: list[Any] = responses) -> None:
            responses.append(response)

        page.on("response", handler)
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", handler)
        total = sum(len(r.body()) for r in responses if r.status < 300)
        assert total < 100 * 1024, f"{path}: {total} bytes"
