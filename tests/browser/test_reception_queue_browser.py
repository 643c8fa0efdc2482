"""Issue 12 §3 in a real browser: reception marks a statutory priority (suggested from the date of birth,
confirmed with a note) and the ticket jumps the queue; a called patient who does not come is recalled, then
skipped; the waiting-hall screen (a TV in the hall) shows the new number without reloading, with a large
flash, and fetches the spoken call."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Service
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
TV = {"width": 1920, "height": 1080}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


@contextmanager
def desk_session(browser: Any, base: str, username: str) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(base + "/desk/login/")
        page.get_by_label("Tên đăng nhập").fill(username)
        page.get_by_label("Mật khẩu").fill("demo-2026")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/desk/login/" not in url)
        yield page
    finally:
        context.close()


def _walk_in(name: str, phone: str, born: date) -> Appointment:
    patient = Patient.objects.create(
        full_name=name,
        date_of_birth=born,
        sex="female",
        phone=phone,
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TTYT-HD"),
    )
    return appt_services.walk_in_register(
        patient=patient,
        service=Service.objects.get(code="kham-noi"),
        actor=get_user_model().objects.get(username="tiepdon"),
    )


def test_priority_recall_skip_and_the_hall_display(
    browser: Any, live_server: Any, seeded: None, shoot: Any, axe: Any
) -> None:
    base = live_server.url
    first = _walk_in("Trần Văn Sớm", "+84912400001", date(1990, 2, 1))
    second = _walk_in("Lý Thị Kế", "+84912400002", date(1988, 6, 1))
    elder = _walk_in("Cụ Bà Hoà", "+84912400003", date(1944, 8, 15))
    service = Service.objects.get(code="kham-noi")

    # The hall's TV: numbers only, nothing called yet, the next numbers in calling order.
    tv_context = browser.new_context(viewport=TV, locale="vi-VN")
    tv_context.set_default_timeout(15_000)
    tv = tv_context.new_page()
    tv.goto(base + "/hang-doi/KKB-HD/")
    noi = tv.locator("section.room", has=tv.locator("h2", has_text="Khám Nội"))
    expect(noi.locator(".now")).to_have_text("Chưa gọi")
    expect(noi.locator(".numbers.next")).to_have_text("123")
    expect(tv.locator("body")).not_to_contain_text("Cụ Bà Hoà")
    assert axe(tv) == []

    with desk_session(browser, base, "tiepdon") as desk:
        desk.goto(base + f"/desk/appointments/appointment/hang-doi/?service={service.pk}")
        waiting = desk.locator("#waiting tbody tr")
        expect(waiting.first).to_contain_text("Trần Văn Sớm")
        row = desk.locator(f'#waiting tr[data-number="{elder.queue_number}"]')
        expect(row).to_contain_text("Gợi ý: Người từ đủ 75 tuổi")
        row.get_by_text("Đánh dấu ưu tiên").click()
        expect(row.get_by_label("Đối tượng")).to_have_value("elderly")  # suggested, staff confirm
        row.get_by_label("Ghi chú (lý do, giấy tờ đã xem)").fill("Đã xem CCCD")
        shoot(desk, "reception-queue-mark-priority")
        row.get_by_role("button", name="Xác nhận").click()
        expect(desk.locator("body")).to_contain_text(
            f"Số {elder.queue_number} được ưu tiên: Người từ đủ 75 tuổi."
        )
        expect(waiting.first).to_contain_text("Cụ Bà Hoà")
        expect(waiting.first.locator(".appt-priority-badge")).to_have_text("Người từ đủ 75 tuổi")
        shoot(desk, "reception-queue-priority-jumped")
        # The hall's next numbers follow (the screen polls; no reload).
        expect(noi.locator(".numbers.next")).to_have_text(f"{elder.queue_number}12", timeout=10_000)

        # Call: the elder is invited; the hall flashes the number and the spoken call is ready.
        desk.get_by_role("button", name="Gọi số tiếp theo").click()
        expect(desk.locator("body")).to_contain_text(f"Mời số {elder.queue_number} — Cụ Bà Hoà.")
        expect(tv.locator("#call")).to_be_visible(timeout=10_000)
        expect(tv.locator("#call-number")).to_have_text(str(elder.queue_number))
        expect(tv.locator("#call-text")).to_have_text(f"Mời số {elder.queue_number} đến Phòng khám Nội 1")
        shoot(tv, "hall-display-calling")
        expect(noi.locator(".now")).to_have_text(str(elder.queue_number))
        state = tv.evaluate("fetch('/hang-doi/KKB-HD/trang-thai/').then(r => r.json())")
        row_state = next(r for r in state["rows"] if r["service"] == "Khám Nội")
        speech = row_state["announcement"]["speech"]
        assert speech and tv.evaluate(f"fetch('{speech}').then(r => r.status)") == 200
        expect(tv.locator("#call")).to_be_hidden(timeout=15_000)
        shoot(tv, "hall-display")

        # She does not come: recall (the hall announces again), then skip (back behind the next ones).
        desk.get_by_role("button", name=f"Gọi lại số {elder.queue_number}").first.click()
        expect(desk.locator("body")).to_contain_text(f"Đã gọi lại số {elder.queue_number} (lần 1).")
        expect(tv.locator("#call")).to_be_visible(timeout=10_000)
        desk.get_by_role("button", name=f"Bỏ qua số {elder.queue_number}").first.click()
        expect(desk.locator("body")).to_contain_text(f"Đã bỏ qua số {elder.queue_number}")
        expect(desk.locator("#waiting tbody tr").last).to_contain_text("Cụ Bà Hoà")  # behind the other two
        shoot(desk, "reception-queue-after-skip")
        assert axe(desk) == []

    elder.refresh_from_db()
    assert (elder.priority_group, elder.recall_count, elder.skip_count, elder.status) == (
        "elderly",
        1,
        1,
        "checked_in",
    )
    assert first.pk and second.pk
    tv_context.close()
