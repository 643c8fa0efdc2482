"""Issue 9 in a real browser: the danger result page at 200 % zoom, the live province note on the
registration form, and the station's queue with its sickest cases first, highlighted, and a warning on accept.
Screenshots go to var/screenshots/r9-*.png."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.facilities.models import Facility
from health_f0.monitoring.services import declaration_submit, reset_caches
from health_f0.patients.models import Patient
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import RegistrationInput, _create, registration_validate
from tests.browser.test_desk_journeys import desk_session
from tests.browser.test_monitoring_journey import login as portal_login

pytestmark = pytest.mark.browser

DANGER = {
    "temperature": "38,5",
    "spo2": "90",
    "breathing_rate": "28",
    "pulse": "118",
    "symptoms": ["cough", "shortness_of_breath"],
}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def _overflow(page: Any) -> tuple[int, list[str]]:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
            .slice(0, 5).map(e => e.tagName + '.' + e.className + ' ' + (e.innerText || '').slice(0, 30))"""
    )
    return width, wide


def test_the_danger_result_page_fits_at_200_percent_zoom(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    hung = Patient.objects.get(account__username="bn0000001")
    declaration, _ = declaration_submit(patient=hung, actor=hung.account, answers=DANGER)
    assert declaration.alert_level == "emergency"
    # 200 % zoom of a 390 px wide phone: a 195 CSS px wide viewport drawn at twice the density.
    context = browser.new_context(
        viewport={"width": 195, "height": 422}, device_scale_factor=2, locale="vi-VN"
    )
    page = context.new_page()
    try:
        portal_login(page, live_server.url)
        page.goto(f"{live_server.url}/khai-bao/ket-qua/{declaration.public_id}")
        alert = page.get_by_role("alert")
        assert alert.get_by_role("heading", name="Cấp cứu: gọi 115 ngay").is_visible()
        call_station = alert.get_by_role("link", name=re.compile("Gọi trạm y tế"))
        assert call_station.is_visible()
        width, wide = _overflow(page)
        shoot(page, "r9-01-danger-result-zoom-200")
        assert width <= 0, f"horizontal scrolling at 200% zoom: {width}px {wide}"
        # The station's number stays whole on its own line, not cut or pushed off the screen.
        box = call_station.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 195 + 0.5
        # Zoom by CSS as well (a desktop browser at 200 %).
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("document.body.style.zoom = '200%'")
        width, wide = _overflow(page)
        shoot(page, "r9-02-danger-result-css-zoom-200")
        assert width <= 0, f"horizontal scrolling at CSS zoom 200%: {width}px {wide}"
    finally:
        context.close()


def test_the_form_says_at_once_when_a_province_has_no_stations(
    page: Any, live_server: Any, axe: Any, shoot: Any
) -> None:
    page.goto(live_server.url + "/dang-ky")
    province = page.get_by_label(re.compile("^Tỉnh/thành phố"))
    note = page.locator("#province-note")
    assert province.input_value() == "31" and note.is_hidden()
    # Cà Mau before Cao Bằng: Vietnamese alphabetical order.
    options = page.locator("#id_province_code option").all_inner_texts()
    assert options.index("Cà Mau") < options.index("Cao Bằng")
    province.select_option(label="Thành phố Hà Nội")
    note.wait_for(state="visible")
    assert "chưa triển khai đăng ký chăm sóc tại nhà" in note.inner_text()
    assert "Thành phố Hải Phòng" in note.inner_text()
    assert province.get_attribute("aria-describedby") == "province-note"
    assert page.locator(".province-note-live").get_attribute("aria-live") == "polite"
    assert axe(page) == []
    note.scroll_into_view_if_needed()
    shoot(page, "r9-03-register-province-note")
    province.select_option("31")
    note.wait_for(state="hidden")
    assert province.get_attribute("aria-describedby") is None


def test_the_form_without_javascript_says_it_on_update(nojs_page: Any, live_server: Any, shoot: Any) -> None:
    page = nojs_page
    page.goto(live_server.url + "/dang-ky")
    page.get_by_label(re.compile("^Tỉnh/thành phố")).select_option(label="Cà Mau")
    page.get_by_role("button", name="Cập nhật danh sách phường/xã").click()
    note = page.locator("#province-note")
    assert note.is_visible() and "chưa triển khai" in note.inner_text()
    shoot(page, "r9-04-register-province-note-nojs")


def _queued(name: str, phone: str, *, hours_ago: float, **screening: Any) -> Registration:
    data = registration_validate(
        RegistrationInput(
            full_name=name,
            date_of_birth=date(1990, 1, 1),
            sex="male",
            phone=phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="self_care",
            consent=True,
            breathing_rate=16,
            vaccine_doses=2,
            **screening,
        )
    )
    registration = _create(
        data, channel=Channel.WEB, facility=Facility.objects.get(code="TYT-10510"), actor=None
    )
    Registration.objects.filter(pk=registration.pk).update(
        created_at=timezone.now() - timedelta(hours=hours_ago)
    )
    return registration


def test_the_station_sees_the_sickest_first_and_is_warned_on_accept(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    well = _queued("Trần Văn Khoẻ", "0977000401", hours_ago=6, spo2=98)
    sick = _queued("Phạm Văn Nặng", "0977000403", hours_ago=1, spo2=92)
    with desk_session(browser, live_server.url, "thanhdong.nv") as page:
        page.goto(live_server.url + "/desk/registration/registration/?status__exact=submitted")
        rows = page.locator("#result_list tr.data-row")
        names = [" ".join(row.split("\t")[1].split()) for row in rows.all_inner_texts()]
        # SpO2 92 first though it came last; then the demo's review case; then the eligible, oldest first.
        assert names == [
            "ƯU TIÊN Phạm Văn Nặng",
            "ƯU TIÊN Phạm Văn Cường",
            "Trần Văn Khoẻ",
            "Trần Thị Bích",
        ], names
        background = rows.nth(0).locator("td").nth(1).evaluate("e => getComputedStyle(e).backgroundColor")
        assert background == "rgb(254, 242, 242)"  # highlighted
        sidebar = page.locator("#nav-sidebar, nav").filter(has_text="Ca cần ưu tiên").first
        assert re.search(r"Ca cần ưu tiên\s*2", sidebar.inner_text())
        shoot(page, "r9-05-desk-queue-priority")

        page.goto(live_server.url + f"/desk/registration/registration/{sick.pk}/change/")
        page.locator(f"a[href$='/{sick.pk}/tiep-nhan/']").click()
        dialog = page.locator("#dialog")
        dialog.wait_for()
        assert "Nên chuyển cơ sở điều trị" in dialog.inner_text() and "SpO2 92%" in dialog.inner_text()
        shoot(page, "r9-06-desk-accept-warning")
        dialog.get_by_role("button", name="Tiếp nhận", exact=True).click()
        dialog.get_by_text("Hãy xem lại và đánh dấu xác nhận").wait_for()
        sick.refresh_from_db()
        assert sick.status == "submitted"
        dialog.get_by_label("Tôi đã xem đánh giá sàng lọc và vẫn tiếp nhận chăm sóc tại nhà").check()
        dialog.get_by_role("button", name="Tiếp nhận", exact=True).click()
        page.get_by_text("Đã tiếp nhận Phạm Văn Nặng").wait_for()
        sick.refresh_from_db()
        assert sick.status == "accepted"
        well.refresh_from_db()
        assert well.status == "submitted"


def test_bulk_accept_asks_first_for_review_and_hospital_cases(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    sick = _queued("Phạm Văn Nặng", "0977000403", hours_ago=1, spo2=92)
    with desk_session(browser, live_server.url, "thanhdong.nv") as page:
        page.goto(live_server.url + "/desk/registration/registration/?status__exact=submitted")
        page.locator("#action-toggle").check()
        page.locator("select[name=action]").select_option("bulk_accept")
        page.locator("button[name=index]").click()
        page.get_by_role("heading", name="Xác nhận tiếp nhận").wait_for()
        main = page.locator("#content-main").inner_text()
        assert "Phạm Văn Nặng" in main and "Nên chuyển cơ sở điều trị" in main
        assert "Phạm Văn Cường" in main and "Cần bác sĩ đánh giá" in main
        shoot(page, "r9-07-desk-bulk-accept-confirm")
        page.get_by_label("Tôi đã xem đánh giá sàng lọc và vẫn tiếp nhận chăm sóc tại nhà").check()
        page.get_by_role("button", name=re.compile(r"Tiếp nhận \d+ hồ sơ")).click()
        page.get_by_text(re.compile(r"Đã tiếp nhận \d+ hồ sơ")).wait_for()
        sick.refresh_from_db()
        assert sick.status == "accepted"
        assert not Registration.objects.filter(facility__code="TYT-10510", status="submitted").exists()


def test_direct_entry_form_has_the_confirmation(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    with desk_session(browser, live_server.url, "thanhdong.nv") as page:
        page.goto(live_server.url + "/desk/registration/registration/add/")
        tick = page.get_by_label("Tôi đã xem đánh giá sàng lọc và vẫn tiếp nhận chăm sóc tại nhà")
        tick.scroll_into_view_if_needed()
        assert tick.is_visible()
        shoot(page, "r9-08-desk-direct-entry")
