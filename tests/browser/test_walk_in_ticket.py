"""Issue 9, items 13 and 17 in a real browser: a walk-in patient opens the link of their SMS on a phone and
reads their queue place (no 404, no personal data, readable at 390 px and at 200 % zoom); an unknown short
link says so in Vietnamese; the desk's appointment history reads in Vietnamese."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Channel, Service
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def _person(name: str, phone: str) -> Patient:
    return Patient.objects.create(
        full_name=name,
        date_of_birth=timezone.localdate().replace(year=1975),
        sex="female",
        phone=phone,
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TTYT-HD"),
    )


def _no_overflow(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"))


def test_walk_in_opens_its_ticket_from_the_sms(page: Any, live_server: Any, shoot: Any, axe: Any) -> None:
    base = live_server.url
    service = Service.objects.get(code="kham-noi")
    reception = get_user_model().objects.get(username="tiepdon")
    appt_services.walk_in_register(
        patient=_person("Đào Văn Trước", "+84912300001"), service=service, actor=reception
    )
    ticket = appt_services.walk_in_register(
        patient=_person("Ngô Thị Vãng Lai", "+84912300002"), service=service, actor=reception
    )
    body = OutboxMessage.objects.filter(to="+84912300002").latest("pk").body
    [link] = re.findall(r"https?://\S+", body)
    assert link.endswith(f"/h/{ticket.link_code}")

    page.goto(base + urlsplit(link).path)
    page.wait_for_url(f"**/so-thu-tu/{ticket.public_id}")
    main = page.locator("main")
    expect(page.locator(".queue-number")).to_have_text(str(ticket.queue_number))
    expect(main).to_contain_text("Còn 1 người trước bạn.")
    expect(main).to_contain_text("Khám Nội")
    expect(main).not_to_contain_text("Ngô Thị Vãng Lai")
    assert _no_overflow(page)
    assert axe(page) == []
    shoot(page, "walk-in-ticket")
    # 200 % zoom on the same phone: half the CSS width, still nothing wider than the screen.
    page.set_viewport_size({"width": 195, "height": 422})
    page.reload()
    assert _no_overflow(page)
    shoot(page, "walk-in-ticket-zoom200")
    page.set_viewport_size({"width": 390, "height": 844})

    appt_services.queue_call_next(service=service, actor=reception)
    appt_services.queue_call_next(service=service, actor=reception)
    page.reload()
    expect(main).to_contain_text("Đã đến lượt bạn: mời vào phòng khám.")
    shoot(page, "walk-in-ticket-called")

    page.goto(base + "/h/ABCD2345")
    expect(page.locator("main")).to_contain_text("Không tìm thấy đường dẫn này")
    assert _no_overflow(page)
    shoot(page, "short-link-not-found")


def test_desk_history_reads_in_vietnamese(browser: Any, live_server: Any, seeded: None, shoot: Any) -> None:
    base = live_server.url
    service = Service.objects.get(code="kham-noi")
    desk_user = get_user_model().objects.get(username="datlich")
    patient = _person("Lương Thị Lịch Sử", "+84912300003")
    slot = next(
        s
        for s in appt_selectors.slots_free(
            service=service,
            start=timezone.localdate() + timedelta(days=2),
            end=timezone.localdate() + timedelta(days=12),
            for_staff=True,
        )
        if s.free
    )
    appointment = appt_services.appointment_book(
        patient=patient, service=service, slot_start=slot.start, channel=Channel.PHONE, actor=desk_user
    )
    later = next(
        s
        for s in appt_selectors.slots_free(
            service=service,
            start=timezone.localdate(slot.start) + timedelta(days=1),
            end=timezone.localdate(slot.start) + timedelta(days=9),
            for_staff=True,
        )
        if s.free
    )
    appt_services.appointment_reschedule(appointment=appointment, actor=desk_user, slot_start=later.start)
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(slot_start=now, slot_end=now + timedelta(minutes=15))
    reception = get_user_model().objects.get(username="tiepdon")
    appt_services.appointment_check_in(code=appointment.check_in_code, actor=reception)

    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        desk = context.new_page()
        desk.goto(base + "/desk/login/")
        desk.get_by_label("Tên đăng nhập").fill("tiepdon")
        desk.get_by_label("Mật khẩu").fill("demo-2026")
        desk.keyboard.press("Enter")
        desk.wait_for_url(lambda url: "/desk/login/" not in url)
        # Checking the same code in again: the refusal says where the booking stands, in words.
        desk.goto(base + "/desk/appointments/appointment/tiep-don/")
        box = desk.locator("input[name=q]")
        box.fill(appointment.check_in_code)
        box.press("Enter")
        expect(desk.locator("body")).to_contain_text("Người bệnh đã được tiếp đón lúc")
        expect(desk.locator("body")).not_to_contain_text("(checked_in)")
        shoot(desk, "desk-check-in-refusal")
        desk.goto(f"{base}/desk/appointments/appointment/{appointment.pk}/change/")
        history = desk.locator("fieldset", has_text="Lịch sử lịch hẹn")
        expect(history).to_contain_text("Đặt lịch")
        expect(history).to_contain_text("Kênh đặt: Điện thoại; Trạng thái: Đã xác nhận")
        expect(history).to_contain_text("Đổi lịch")
        expect(history).to_contain_text("Tiếp đón")
        expect(history).to_contain_text("Số thứ tự: 1")
        expect(history).not_to_contain_text("channel:")
        history.scroll_into_view_if_needed()
        shoot(desk, "desk-appointment-history")
    finally:
        context.close()
