"""An online consultation in a real browser (issue 8, items 6 and 7): the patient's booking page shows the
booking's own video room shortly before its time, with no reception QR code and no street address; the
doctor's desk page shows the same room; and no page of the journey (portal, desk, check-in with its inline
script, reports) trips the Content-Security-Policy in the browser's console."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Channel, Service
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def watch_console(page: Any) -> list[str]:
    """Collect what the browser reports about the page: CSP violations land in the console as errors."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return problems


def csp_violations(problems: list[str]) -> list[str]:
    return [
        text for text in problems if "Content Security Policy" in text or "Content-Security-Policy" in text
    ]


def online_booking_in_five_minutes() -> Appointment:
    """The demo patient's online consultation, moved to start in five minutes (its room is open)."""
    service = Service.objects.get(code="tu-van-online")
    patient = Patient.objects.get(account__username="bn0000001")
    start = None
    for day_ahead in range(1, 15):
        day = timezone.localdate() + timedelta(days=day_ahead)
        slots = appt_selectors.slots_free(service=service, start=day, end=day)
        if slots:
            start = slots[0].start
            break
    assert start is not None, "the demo's online service has no free slot in two weeks"
    appointment = appt_services.appointment_book(
        patient=patient, service=service, slot_start=start, channel=Channel.WEB, actor=patient.account
    )
    soon = timezone.now() + timedelta(minutes=5)
    Appointment.objects.filter(pk=appointment.pk).update(
        slot_start=soon, slot_end=soon + timedelta(minutes=service.duration_minutes)
    )
    appointment.refresh_from_db()
    return appointment


def portal_login(page: Any, base: str) -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill("bn0000001")
    page.get_by_label(re.compile(r"^Mật khẩu")).fill("demo-2026")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url(lambda url: "/dang-nhap" not in url)


@contextmanager
def desk_session(browser: Any, base: str, username: str) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        problems = watch_console(page)
        page.goto(base + "/desk/login/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill("demo-2026")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/desk/login/" not in url)
        yield page, problems
    finally:
        context.close()


def test_online_consultation_room_for_patient_and_doctor_without_csp_violations(
    page: Any, browser: Any, live_server: Any, shoot: Any
) -> None:
    base = live_server.url
    appointment = online_booking_in_five_minutes()
    room = appt_selectors.meeting_url(appointment)
    assert room.startswith("https://meet.jit.si/tuvan-")

    problems = watch_console(page)
    page.goto(base + "/")
    portal_login(page, base)
    page.goto(f"{base}/lich-hen/{appointment.public_id}")
    box = page.locator(".meeting-box")
    expect(box).to_contain_text("Phòng tư vấn trực tuyến")
    join = box.get_by_role("link", name="Vào phòng tư vấn")
    expect(join).to_have_attribute("href", room)
    expect(join).to_have_attribute("rel", "noopener noreferrer")
    main = page.locator("main")
    expect(main).not_to_contain_text("Mã tiếp đón")
    assert page.locator(".qr, .checkin-box").count() == 0
    address = appointment.facility.address or appointment.facility.parent.address
    assert address and address not in page.locator("main").inner_text()
    expect(main).to_contain_text("Tư vấn trực tuyến qua video")
    # Readable on a 390 px phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    shoot(page, "online-consultation-booking")
    page.goto(base + "/lich-hen")
    page.goto(base + "/dat-lich")
    assert csp_violations(problems) == [], problems

    url = f"{base}/desk/appointments/appointment/{appointment.pk}/change/"
    with desk_session(browser, base, "bacsi.noi") as (desk, desk_problems):
        desk.goto(url)
        expect(desk.get_by_role("link", name="Vào phòng tư vấn")).to_have_attribute("href", room)
        shoot(desk, "online-consultation-desk-doctor")
        desk.goto(base + "/desk/appointments/appointment/")
        assert csp_violations(desk_problems) == [], desk_problems
    with desk_session(browser, base, "datlich") as (desk, desk_problems):
        desk.goto(url)
        expect(desk.locator("main, #content").first).to_contain_text("Chỉ bác sĩ tư vấn")
        assert desk.get_by_role("link", name="Vào phòng tư vấn").count() == 0
        assert csp_violations(desk_problems) == [], desk_problems
    with desk_session(browser, base, "tiepdon") as (desk, desk_problems):
        # The check-in page keeps its inline focus script (with the request's nonce).
        desk.goto(base + "/desk/appointments/appointment/tiep-don/")
        expect(desk.locator("#checkin-q")).to_be_focused()
        assert csp_violations(desk_problems) == [], desk_problems
    with desk_session(browser, base, "ttyt.lanhdao") as (desk, desk_problems):
        desk.goto(base + "/bao-cao/")
        desk.wait_for_load_state("networkidle")
        assert csp_violations(desk_problems) == [], desk_problems
