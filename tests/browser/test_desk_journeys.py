"""Whole journeys across the portal and the desk (django-unfold admin at /desk/), in one real browser:

1. a patient declares with a danger sign and sees the emergency warning; the station nurse then logs in to
   the desk, finds the alert with its reasons on today's board, chooses an outcome and presses "Xử lý";
2. a person books a slot on the portal; the booking desk confirms it in its worklist, reception types the
   check-in code from the booking page into the reception box, and the patient's booking page then shows
   "Đã đến khám" with the queue number.

Each member of staff works in a new browser context (their own cookies), at a desktop size."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import expect

from health_f0.appointments.models import Appointment, Status
from health_f0.monitoring.models import Alert, Declaration
from health_f0.monitoring.services import reset_caches
from tests.browser.test_appointments_journey import E164, ent_service, fill_guest, main_text
from tests.browser.test_monitoring_journey import login as portal_login

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


@contextmanager
def desk_session(browser: Any, base: str, username: str) -> Iterator[Any]:
    """A new browser context logged in to the desk as `username` (demo password)."""
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.bring_to_front()  # the staff member's window is the one in front
        page.goto(base + "/desk/login/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill("demo-2026")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/desk/login/" not in url)
        yield page
    finally:
        context.close()


def test_danger_sign_then_the_station_acknowledges(
    browser: Any, page: Any, live_server: Any, shoot: Any
) -> None:
    base = live_server.url

    # The patient: log in, confirm details, declare SpO2 92 and shortness of breath.
    portal_login(page, base)
    page.get_by_role("button", name="Thông tin chính xác — Tiếp tục").click()
    page.wait_for_url("**/khai-bao")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("37,2")
    page.get_by_label(re.compile(r"^Chỉ số SpO2")).fill("92")
    page.get_by_label(re.compile("Khó thở, thở hụt hơi")).check()
    page.get_by_role("button", name="Gửi khai báo").click()
    page.wait_for_url("**/khai-bao/ket-qua/**")
    warning = page.get_by_role("alert")
    assert warning.get_by_role("heading", name="Cấp cứu: gọi 115 ngay").is_visible()
    assert "SpO2 92% dưới 94%" in warning.inner_text() and "Khó thở" in warning.inner_text()
    declaration = Declaration.objects.get(patient__account__username="bn0000001")
    alert = Alert.objects.get(declaration=declaration)
    assert alert.acknowledged_at is None and not alert.outcome

    # The station nurse, on another computer.
    with desk_session(browser, base, "thanhdong.nv") as desk:
        desk.goto(base + "/desk/monitoring/episode/board/")
        assert desk.get_by_role("heading", name=re.compile("Bảng theo dõi hôm nay")).is_visible()
        alerts = desk.locator("#alerts")
        assert "Cảnh báo chưa xử lý (1)" in alerts.get_by_role("heading", level=2).inner_text()
        card = alerts.locator("article").filter(has_text="Nguyễn Văn Hùng")
        assert card.count() == 1
        card_text = card.inner_text()
        assert "cấp cứu" in card_text.lower()  # the level badge (upper-cased by CSS)
        for reason in alert.reasons:
            assert reason in card_text
        assert "SpO2 92% dưới 94%" in card_text and "Khó thở" in card_text
        shoot(desk, "pw-desk-01-board-alert")

        # Keyboard/label path: the outcome select and the note are labelled controls of this card's form.
        card.get_by_label("Kết quả xử lý").select_option(label="Đã tư vấn")
        card.get_by_label("Ghi chú").fill("Đã gọi, hướng dẫn gọi 115 nếu khó thở tăng")
        shoot(desk, "pw-desk-02-board-outcome")
        card.get_by_role("button", name="Xử lý").click()
        desk.wait_for_load_state()
        desk.get_by_text("Đã ghi nhận xử lý cảnh báo của Nguyễn Văn Hùng.").wait_for()
        assert "/desk/monitoring/episode/board/" in desk.url
        alerts = desk.locator("#alerts")
        assert "Cảnh báo chưa xử lý (0)" in alerts.get_by_role("heading", level=2).inner_text()
        assert "Không có cảnh báo nào đang chờ xử lý." in alerts.inner_text()
        shoot(desk, "pw-desk-03-board-acknowledged")

        # The alert history shows the outcome and who handled it.
        desk.goto(base + "/desk/monitoring/alert/?xu_ly=roi")
        history = desk.locator("#result_list, table").first.inner_text()
        assert "Nguyễn Văn Hùng" in history and "Đã tư vấn" in history and "thanhdong.nv" in history
        shoot(desk, "pw-desk-04-alert-history")

    alert.refresh_from_db()
    assert alert.outcome == Alert.Outcome.ADVISED
    assert alert.acknowledged_at is not None
    assert alert.acknowledged_by is not None and alert.acknowledged_by.username == "thanhdong.nv"
    assert alert.note == "Đã gọi, hướng dẫn gọi 115 nếu khó thở tăng"


def book_on_portal(page: Any, base: str, sms: Any) -> tuple[Appointment, str]:
    """Facility → service → today → first free time → who + OTP; returns the booking and the code as the
    booking page shows it."""
    page.goto(base + "/dat-lich")
    page.get_by_role("link", name=re.compile("Trung tâm Y tế khu vực Hải Dương")).click()
    page.get_by_role("link", name=re.compile("Khám Tai Mũi Họng")).click()
    page.get_by_role("heading", name="Chọn ngày khám").wait_for()
    page.locator("a.day-open").first.click()
    page.get_by_role("heading", name=re.compile("Chọn giờ khám")).wait_for()
    page.locator("a.slot").first.click()
    page.get_by_role("heading", name="Người đi khám").wait_for()
    fill_guest(page)
    page.get_by_role("button", name="Nhận OTP").click()
    page.get_by_role("status").filter(has_text="Mã OTP đã được gửi").wait_for()
    page.keyboard.type(sms.last_otp(E164))
    page.get_by_role("button", name="Xác nhận đặt lịch").last.click()
    page.wait_for_url("**/lich-hen/**")
    assert "Chờ xác nhận" in main_text(page)
    appointment = Appointment.objects.select_related("patient").get(
        patient__full_name="Lê Thị Hoa", channel="web"
    )
    shown = page.locator(".checkin-code").inner_text().strip()
    assert shown.replace(" ", "") == appointment.check_in_code
    return appointment, shown


def test_book_then_desk_confirms_and_reception_checks_in(
    browser: Any, page: Any, live_server: Any, sms: Any, shoot: Any
) -> None:
    ent_service()
    base = live_server.url
    appointment, shown_code = book_on_portal(page, base, sms)
    assert appointment.status == Status.REQUESTED
    booking_url = page.url

    # The booking desk confirms it from its worklist.
    with desk_session(browser, base, "datlich") as desk:
        desk.goto(base + "/desk/appointments/appointment/dat-lich/")
        assert desk.get_by_role("heading", name=re.compile("Lịch chờ xác nhận")).is_visible()
        row = desk.locator("tbody tr").filter(has_text="Lê Thị Hoa")
        assert row.count() == 1
        assert "Khám Tai Mũi Họng" in row.inner_text()
        shoot(desk, "pw-desk-05-worklist")
        row.get_by_role("button", name="Xác nhận", exact=True).click()
        desk.get_by_text(re.compile("Đã xác nhận lịch của Lê Thị Hoa")).wait_for()
        assert desk.locator("tbody tr").filter(has_text="Lê Thị Hoa").count() == 0
        shoot(desk, "pw-desk-06-worklist-confirmed")
    appointment.refresh_from_db()
    assert appointment.status == Status.CONFIRMED
    assert "da duoc xac nhan" in sms.last(E164, "appointment")["body"]

    page.reload()
    assert "Đã xác nhận" in main_text(page)

    # Reception: the code read off the patient's phone, typed into the one box, then Enter.
    with desk_session(browser, base, "tiepdon") as desk:
        desk.goto(base + "/desk/appointments/appointment/tiep-don/")
        box = desk.get_by_label(re.compile("Quét mã QR hoặc nhập mã tiếp đón"))
        expect(box).to_be_focused()  # autofocus (applied after load): ready to type/scan
        box.type(shown_code.replace(" ", "-"))
        shoot(desk, "pw-desk-07-reception-code")
        box.press("Enter")
        ticket = desk.locator("#ticket")
        ticket.wait_for()
        appointment.refresh_from_db()
        assert appointment.status == Status.CHECKED_IN and appointment.queue_number
        number = str(appointment.queue_number)
        assert desk.locator(".appt-ticket-number").inner_text().strip() == number
        assert "Lê Thị Hoa" in ticket.inner_text()
        desk.get_by_text(f"Đã tiếp đón Lê Thị Hoa — số thứ tự {number}.").wait_for()
        shoot(desk, "pw-desk-08-reception-ticket")

    # Back on the patient's phone.
    page.goto(booking_url)
    assert "Đã đến khám" in main_text(page)
    assert page.locator(".queue-number").inner_text().strip() == number
    shoot(page, "pw-desk-09-portal-checked-in")


def test_reception_accepts_the_code_exactly_as_the_booking_page_shows_it(
    browser: Any, page: Any, live_server: Any, sms: Any
) -> None:
    ent_service()
    base = live_server.url
    appointment, shown_code = book_on_portal(page, base, sms)
    assert " " in shown_code
    with desk_session(browser, base, "tiepdon") as desk:
        desk.goto(base + "/desk/appointments/appointment/tiep-don/")
        box = desk.get_by_label(re.compile("Quét mã QR hoặc nhập mã tiếp đón"))
        box.type(shown_code)
        box.press("Enter")
        desk.wait_for_load_state()
        appointment.refresh_from_db()
        assert appointment.status == Status.CHECKED_IN
