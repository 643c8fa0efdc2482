"""Appointments in a real browser: a person without an account books a slot on the portal (facility →
service → day → time → who, with an OTP), the booking desk confirms it, reception checks the patient in by
the booking's code, and the booking's page then shows "Đã đến khám" with the queue number. Also: the
account's list with a re-exam to acknowledge, the SMS link's OTP gate, cancel and reschedule pages, the
whole booking without JavaScript, accessibility (axe) and page weight of every new page."""

from __future__ import annotations

import os
import re
import uuid
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import (
    Appointment,
    Holiday,
    ScheduleTemplate,
    Service,
    Status,
)
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from tests.www.test_appointments_portal import open_today

pytestmark = pytest.mark.browser

PHONE = "0977 222 333"
E164 = "+84977222333"


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def demo_bookings() -> None:
    """The demo's booking and re-exam plan for bn0000001 (idempotent; seed_demo may have loaded them)."""
    with open(os.devnull, "w") as devnull:
        call_command("load_appointments_demo", stdout=devnull)


def user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def ent_service() -> Service:
    """Ear-nose-throat clinic: mornings Monday to Saturday, and open today for two hours from the first
    quarter hour at least 10 minutes away (`open_today`, so the patient can be received today), 15 minutes
    a slot, 2 places; patients may cancel or move a booking until its time."""
    service = Service.objects.create(
        facility=Facility.objects.get(code="PK-NOI1"),
        code=f"tmh-{uuid.uuid4().hex[:6]}",
        name="Khám Tai Mũi Họng",
        short_name="Kham TMH",
        duration_minutes=15,
        capacity_per_slot=2,
        min_notice_hours=0,
        booking_horizon_days=14,
        cancel_cutoff_hours=0,
    )
    for weekday in range(6):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(7), end_time=time(11, 30)
        )
    open_today(service)
    return service


def main_text(page: Any) -> str:
    return str(page.locator("main").inner_text())


def login(page: Any, base: str, username: str = "bn0000001", password: str = "demo-2026") -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label(re.compile(r"^Mật khẩu")).fill(password)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")


def fill_guest(page: Any) -> None:
    page.get_by_label("Họ và tên người đi khám").fill("Lê Thị Hoa")
    page.get_by_label("Ngày sinh").fill("12/03/1985")
    page.get_by_label("Nữ", exact=True).check()
    page.get_by_label("Số điện thoại di động").fill(PHONE)
    page.get_by_label(re.compile("Lý do khám")).fill("Đau họng, sốt nhẹ 3 ngày")
    page.get_by_label(re.compile("Tôi đồng ý để cơ sở khám bệnh xử lý")).check()


def test_book_confirm_check_in(page: Any, live_server: Any, sms: Any, axe: Any, shoot: Any) -> None:
    service = ent_service()
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("link", name="Đặt lịch khám", exact=True).click()
    page.wait_for_url("**/dat-lich")
    assert "Bước 1 trên 5" in main_text(page)
    assert axe(page) == []
    shoot(page, "appt-portal-01-facility")

    page.get_by_role("link", name=re.compile("Trung tâm Y tế khu vực Hải Dương")).click()
    page.get_by_role("heading", name="Chọn dịch vụ khám").wait_for()
    assert axe(page) == []
    shoot(page, "appt-portal-02-service")

    page.get_by_role("link", name=re.compile("Khám Tai Mũi Họng")).click()
    page.get_by_role("heading", name="Chọn ngày khám").wait_for()
    assert axe(page) == []
    shoot(page, "appt-portal-03-day")

    # Two people booked by phone fill today's second time: it shows, struck out, and cannot be chosen.
    today = timezone.localdate()
    second = appt_selectors.slots_free(service=service, start=today, end=today)[1]
    desk = user("datlich")
    hung = Patient.objects.get(account__username="bn0000001")
    lan = Patient.objects.create(
        full_name="Phạm Thị Lan",
        date_of_birth=datetime(1970, 5, 2).date(),
        sex="female",
        phone="+84988111222",
        province_code=31,
        ward_code=10532,
        facility=Facility.objects.get(code="TTYT-HD"),
    )
    for patient in (hung, lan):
        appt_services.appointment_book(
            patient=patient, service=service, slot_start=second.start, channel="phone", actor=desk
        )
    page.get_by_role("link", name=f"{today:%d/%m/%Y}").click()
    page.get_by_role("heading", name=re.compile("Chọn giờ khám")).wait_for()
    full = page.locator(".slot-full")
    assert full.count() == 1 and "hết chỗ" in full.inner_text()
    assert f"{timezone.localtime(second.start):%H:%M}" in full.inner_text()
    assert axe(page) == []
    shoot(page, "appt-portal-04-time")

    page.locator("a.slot").first.click()
    page.get_by_role("heading", name="Người đi khám").wait_for()
    assert "Bước 5 trên 5" in main_text(page)
    fill_guest(page)
    page.get_by_role("button", name="Nhận OTP").click()
    page.get_by_role("status").filter(has_text="Mã OTP đã được gửi tới 0977 222 333").wait_for()
    assert page.get_by_label("Họ và tên người đi khám").input_value() == "Lê Thị Hoa"
    expect(page.locator("input[name=otp]")).to_be_focused()
    assert axe(page) == []
    shoot(page, "appt-portal-05-who")

    page.keyboard.type(sms.last_otp(E164))
    page.get_by_role("button", name="Xác nhận đặt lịch").last.click()
    page.wait_for_url("**/lich-hen/**")
    appointment = Appointment.objects.select_related("patient").get(service=service, channel="web")
    assert appointment.status == Status.REQUESTED and appointment.channel == "web"
    text = main_text(page)
    assert "Chờ xác nhận" in text and "Lê Thị Hoa" in text
    start = timezone.localtime(appointment.slot_start)
    assert f"{start:%d/%m/%Y %H:%M}" in text
    assert "Phòng khám Nội 1" in text and "Số 1 Nguyễn Lương Bằng" in text
    code = page.locator(".checkin-code").inner_text().replace(" ", "")
    assert code == appointment.check_in_code
    assert page.locator(".qr svg").is_visible()
    assert axe(page) == []
    shoot(page, "appt-portal-06-booked")

    # The booking desk confirms (service call with the desk persona), and the patient sees it.
    appt_services.appointment_confirm(appointment=appointment, actor=user("datlich"))
    page.reload()
    assert "Đã xác nhận" in main_text(page)
    assert (
        "lich" in sms.last(E164, "appointment")["body"]
        and "da duoc xac nhan" in sms.last(E164, "appointment")["body"]
    )

    # Reception checks the patient in by the code shown on the phone.
    received = appt_services.appointment_check_in(code=code.lower(), actor=user("tiepdon"))
    page.reload()
    text = main_text(page)
    assert "Đã đến khám" in text
    assert page.locator(".queue-number").inner_text() == str(received.queue_number)
    assert page.locator(".qr svg").count() == 0
    assert axe(page) == []
    shoot(page, "appt-portal-07-checked-in")


def test_list_gate_cancel_reschedule(
    browser: Any, page: Any, live_server: Any, sms: Any, axe: Any, shoot: Any
) -> None:
    base = live_server.url
    demo_bookings()
    service = ent_service()
    hung = Patient.objects.get(account__username="bn0000001")
    day = next(
        timezone.localdate() + timedelta(days=n)
        for n in range(4, 9)
        if (timezone.localdate() + timedelta(days=n)).weekday() < 5
        and not Holiday.objects.filter(date=timezone.localdate() + timedelta(days=n)).exists()
    )
    booked = appt_services.appointment_book(
        patient=hung,
        service=service,
        slot_start=datetime.combine(day, time(9), tzinfo=timezone.get_current_timezone()),
        channel="web",
        actor=hung.account,
        reason="Ù tai bên trái",
    )
    holiday = day + timedelta(days=1)
    Holiday.objects.update_or_create(date=holiday, defaults={"name": "Ngày nghỉ bù"})

    login(page, base)
    page.goto(base + "/lich-hen")
    text = main_text(page)
    assert "Tái khám" in text and "Tôi sẽ đến" in text and "Khám Tai Mũi Họng" in text
    assert axe(page) == []
    shoot(page, "appt-portal-08-list")
    page.get_by_role("button", name=re.compile("Tôi sẽ đến")).first.click()
    page.wait_for_url("**/lich-hen")
    assert "Cảm ơn bạn đã xác nhận sẽ đến tái khám" in main_text(page)

    page.goto(base + f"/lich-hen/{booked.public_id}/doi-lich")
    assert "Nghỉ lễ: Ngày nghỉ bù" in main_text(page)
    assert axe(page) == []
    shoot(page, "appt-portal-09-reschedule-day")
    page.get_by_role("link", name=f"{day:%d/%m/%Y}").click()
    page.get_by_role("heading", name=re.compile("Chọn giờ mới")).wait_for()
    assert "giờ hẹn hiện tại" in main_text(page)
    assert axe(page) == []
    shoot(page, "appt-portal-10-reschedule-time")
    # A time is proposed, then confirmed (issue 9: a tap alone no longer moves the booking).
    page.get_by_role("link", name=re.compile("^10:00")).click()
    page.get_by_role("heading", name="Xác nhận đổi giờ khám").wait_for()
    assert "09:00" in main_text(page) and "10:00" in main_text(page)
    assert axe(page) == []
    shoot(page, "appt-portal-10b-reschedule-confirm")
    page.get_by_role("button", name="Xác nhận đổi giờ").click()
    page.wait_for_url(f"**/lich-hen/{booked.public_id}")
    assert "Đã đổi giờ hẹn" in main_text(page) and f"{day:%d/%m/%Y} 10:00" in main_text(page)

    page.get_by_role("link", name="Huỷ lịch hẹn").click()
    page.get_by_label("Lý do huỷ").fill("Đã đỡ, không cần khám nữa")
    assert axe(page) == []
    shoot(page, "appt-portal-11-cancel")
    page.get_by_role("button", name="Xác nhận huỷ lịch").click()
    page.wait_for_url(f"**/lich-hen/{booked.public_id}")
    assert "Đã huỷ" in main_text(page)
    booked.refresh_from_db()
    assert booked.status == Status.CANCELLED and booked.cancel_reason == "Đã đỡ, không cần khám nữa"

    # The SMS link opened on another phone (no session): nothing personal until the OTP.
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="vi-VN")
    other = context.new_page()
    reexam = Appointment.objects.get(patient=hung, is_reexam=True)
    other.goto(base + f"/lich-hen/{reexam.public_id}")
    gate = main_text(other)
    assert "Nhận OTP" in gate and "Nguyễn Văn Hùng" not in gate and reexam.check_in_code not in gate
    assert axe(other) == []
    shoot(other, "appt-portal-12-gate")
    other.get_by_role("button", name="Nhận OTP").click()
    other.get_by_role("status").wait_for()
    other.get_by_label("Mã OTP (6 chữ số)").fill(sms.last_otp(hung.phone))
    other.get_by_role("button", name="Xem lịch hẹn").last.click()
    other.get_by_role("heading", name="Mã tiếp đón").wait_for()
    assert "Nguyễn Văn Hùng" in main_text(other) and "Tái khám" in main_text(other)
    context.close()


def test_booking_without_javascript(nojs_page: Any, live_server: Any, sms: Any, shoot: Any) -> None:
    page = nojs_page
    service = ent_service()
    base = live_server.url
    page.goto(base + "/dat-lich")
    page.get_by_role("link", name=re.compile("Trung tâm Y tế khu vực Hải Dương")).click()
    page.get_by_role("link", name=re.compile("Khám Tai Mũi Họng")).click()
    page.locator("a.day-open").first.click()
    page.locator("a.slot").nth(1).click()
    fill_guest(page)
    page.get_by_role("button", name="Nhận OTP").click()
    page.get_by_role("status").filter(has_text="Mã OTP đã được gửi").wait_for()
    page.get_by_label("Mã OTP (6 chữ số)").fill(sms.last_otp(E164))
    page.get_by_role("button", name="Xác nhận đặt lịch").last.click()
    page.wait_for_url("**/lich-hen/**")
    assert "Chờ xác nhận" in main_text(page)
    assert Appointment.objects.filter(service=service, status=Status.REQUESTED).count() == 1
    shoot(page, "appt-portal-13-booked-nojs")


def test_page_weight(page: Any, live_server: Any, sms: Any) -> None:
    demo_bookings()
    service = ent_service()
    base = live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    booked = Appointment.objects.filter(patient=hung, is_reexam=False).first()
    assert booked is not None
    centre = Facility.objects.get(code="TTYT-HD").public_id
    today = timezone.localdate()
    login(page, base)
    for url in (
        base + "/dat-lich",
        base + f"/dat-lich?co-so={centre}",
        base + f"/dat-lich?co-so={centre}&dich-vu={service.public_id}",
        base + f"/dat-lich?co-so={centre}&dich-vu={service.public_id}&ngay={today.isoformat()}",
        base + "/lich-hen",
        base + f"/lich-hen/{booked.public_id}",
        base + f"/lich-hen/{booked.public_id}/huy",
        base + f"/lich-hen/{booked.public_id}/doi-lich",
    ):
        responses: list[Any] = []

        def handler(response: Any, responses: list[Any] = responses) -> None:
            responses.append(response)

        page.on("response", handler)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", handler)
        total = sum(len(r.body()) for r in responses if r.status < 300)
        assert total < 100 * 1024, f"{url}: {total} bytes"
        assert all(r.url.startswith(base) for r in responses), "no third-party requests"


def test_a_time_gone_while_filling_the_form_returns_to_that_days_times(
    page: Any, live_server: Any, sms: Any, shoot: Any, axe: Any
) -> None:
    """The patient fills step 5 while the time leaves the offer (here: the desk closes the day's first time
    by moving today's opening later). "Nhận OTP" then brings back that day's times with the message, and
    the next time is one tap away; no booking is made."""
    service = ent_service()
    base = live_server.url
    page.goto(base + "/dat-lich")
    page.get_by_role("link", name=re.compile("Trung tâm Y tế khu vực Hải Dương")).click()
    page.get_by_role("link", name=re.compile("Khám Tai Mũi Họng")).click()
    page.get_by_role("link", name=f"{timezone.localdate():%d/%m/%Y}").click()
    page.locator("a.slot").first.click()
    page.get_by_role("heading", name="Người đi khám").wait_for()
    fill_guest(page)
    override = service.overrides.get(date=timezone.localdate())
    first = datetime.combine(override.date, override.start_time)
    override.start_time = (first + timedelta(minutes=15)).time()
    override.save()
    page.get_by_role("button", name="Nhận OTP").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text(
        "Khung giờ này không có hoặc đã quá giờ nhận đặt lịch. Vui lòng chọn giờ khác."
    )
    page.get_by_role("heading", name=re.compile("Chọn giờ khám")).wait_for()
    later = first + timedelta(minutes=15)
    expect(page.locator("a.slot").first).to_contain_text(f"{later:%H:%M}")
    assert axe(page) == []
    shoot(page, "appt-portal-14-time-gone")
    assert not Appointment.objects.filter(service=service).exists()
