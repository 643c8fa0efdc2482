"""The province's health portal, in a real browser (issue 12, section 2).

1. The home page leads with the four services (Đặt lịch khám, Lịch hẹn của tôi, Hồ sơ khám bệnh, Liên kết hồ sơ
   bệnh viện); outbreak home care is a prominent card while the programme runs (HOMECARE_PROGRAMME_ACTIVE) and a
   small link when it does not.
2. /ca-nhan offers the same three account services to a resident who signed up and to an F0 patient; only the
   patient in home care gets the daily-declaration card.
3. The desk's header, <title> and login page name the province's Sở Y tế, never "health_f0".

Each page at 360 px (no sideways scrolling) and at 1280 px, with axe; screenshots in var/screenshots/brand-*.png."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from health_f0.monitoring.services import reset_caches
from tests.access_records import resident_account
from tests.browser.test_monitoring_journey import login as portal_login

pytestmark = pytest.mark.browser

AUTHORITY = "Sở Y tế thành phố Hải Phòng"
PORTAL = "Cổng sức khoẻ thành phố Hải Phòng"
SERVICES = ["Đặt lịch khám", "Lịch hẹn của tôi", "Hồ sơ khám bệnh", "Liên kết hồ sơ bệnh viện"]
NARROW = {"width": 360, "height": 780}
WIDE = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, width


def _check_both_widths(page: Any, shoot: Any, axe: Any, name: str) -> None:
    """Screenshots at 360 and 1280 px, no sideways scrolling on the phone, no serious axe finding."""
    for label, size in (("360", NARROW), ("1280", WIDE)):
        page.set_viewport_size(size)
        if label == "360":
            _no_sideways_scroll(page)
        shoot(page, f"brand-{name}-{label}")
    assert axe(page) == []


def _card_titles(page: Any) -> list[str]:
    """The titles of the big action cards of the page's main part, top to bottom."""
    titles: list[str] = page.locator("main .action-card .action-title").all_inner_texts()
    return [t.strip() for t in titles]


def test_home_leads_with_the_services_and_home_care_is_prominent_while_a_programme_runs(
    page: Any, live_server: Any, settings: Any, shoot: Any, axe: Any
) -> None:
    settings.HOMECARE_PROGRAMME_ACTIVE = True
    page.goto(live_server.url + "/")
    expect(page).to_have_title(f"{PORTAL} — {AUTHORITY}")
    expect(page.get_by_role("heading", level=1)).to_have_text(PORTAL)
    expect(page.locator(".site-header")).to_contain_text(AUTHORITY)
    assert "F0" not in page.locator(".site-header").inner_text()

    titles = _card_titles(page)
    assert titles[:4] == SERVICES, titles
    # Home care comes after the four, as a card of its own with its two actions.
    assert titles[4:] == ["Đăng ký chăm sóc tại nhà", "Khai báo sức khoẻ hằng ngày"], titles
    care = page.get_by_role("region", name="Chăm sóc sức khoẻ tại nhà")
    expect(care).to_be_visible()
    expect(care.get_by_role("link", name=re.compile("Đăng ký chăm sóc tại nhà"))).to_have_attribute(
        "href", "/dang-ky"
    )
    expect(page.get_by_role("heading", name=re.compile("Gọi ngay 115"))).to_be_visible()
    _check_both_widths(page, shoot, axe, "home-programme-on")
    # The step-by-step guide is folded away until asked for.
    page.set_viewport_size(NARROW)
    expect(page.get_by_text("Phần 1: Đăng ký thông tin để mở tài khoản")).to_be_hidden()
    page.get_by_text("Hướng dẫn đăng ký và khai báo từng bước").click()
    expect(page.get_by_text("Phần 1: Đăng ký thông tin để mở tài khoản")).to_be_visible()
    _no_sideways_scroll(page)
    assert axe(page) == []

    # Every service card leads where it says; its accessible name is its title (the line under it describes it).
    hrefs = [page.get_by_role("link", name=name, exact=True).get_attribute("href") for name in SERVICES]
    assert hrefs == ["/dat-lich", "/lich-hen", "/ho-so-kham", "/lien-ket-ho-so"]


def test_home_care_is_a_small_link_when_no_programme_runs(
    page: Any, live_server: Any, settings: Any, shoot: Any, axe: Any
) -> None:
    settings.HOMECARE_PROGRAMME_ACTIVE = False
    page.goto(live_server.url + "/")
    assert _card_titles(page) == SERVICES
    expect(page.get_by_role("region", name="Chăm sóc sức khoẻ tại nhà")).to_have_count(0)
    expect(page.get_by_role("heading", name=re.compile("Gọi ngay 115"))).to_have_count(0)
    other = page.get_by_role("region", name="Dịch vụ khác")
    expect(other.get_by_role("link", name="Đăng ký chăm sóc tại nhà")).to_have_attribute("href", "/dang-ky")
    expect(other.get_by_role("link", name="Khai báo sức khoẻ hằng ngày")).to_be_visible()
    _check_both_widths(page, shoot, axe, "home-programme-off")


def _my_services(page: Any) -> list[str]:
    nav = page.get_by_role("navigation", name="Dịch vụ của tôi")
    titles: list[str] = nav.locator(".action-title").all_inner_texts()
    return [t.strip() for t in titles]


def test_every_account_has_its_appointments_and_hospital_records(
    page: Any, live_server: Any, shoot: Any, axe: Any
) -> None:
    base = live_server.url
    resident = resident_account()
    assert resident.account is not None
    portal_login(page, base, resident.account.username, "Cu-dan-tinh-2026")
    assert _my_services(page)[:3] == ["Lịch hẹn của tôi", "Hồ sơ khám bệnh", "Liên kết hồ sơ bệnh viện"]
    expect(page.get_by_role("heading", name="Khai báo sức khoẻ hằng ngày")).to_have_count(0)
    _check_both_widths(page, shoot, axe, "me-resident")
    page.set_viewport_size(NARROW)
    page.get_by_role("link", name="Hồ sơ khám bệnh", exact=True).click()
    page.wait_for_url("**/ho-so-kham")

    # The F0 patient of the demo: the same services, and the declaration card.
    page.context.clear_cookies()
    portal_login(page, base)
    assert _my_services(page)[:3] == ["Lịch hẹn của tôi", "Hồ sơ khám bệnh", "Liên kết hồ sơ bệnh viện"]
    expect(page.get_by_role("heading", name="Khai báo sức khoẻ hằng ngày")).to_be_visible()
    _check_both_widths(page, shoot, axe, "me-f0")


def test_the_desk_names_the_province(browser: Any, live_server: Any, seeded: None, shoot: Any) -> None:
    context = browser.new_context(viewport=WIDE, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/desk/login/")
        expect(page.locator("body")).to_contain_text(AUTHORITY)
        assert "health_f0" not in page.title() and AUTHORITY in page.title()
        shoot(page, "brand-desk-login-1280")
        page.get_by_label("Tên đăng nhập").fill("datlich")
        page.get_by_label("Mật khẩu").fill("demo-2026")
        page.keyboard.press("Enter")
        page.wait_for_url(lambda url: "/desk/login/" not in url)
        page.goto(live_server.url + "/desk/")
        expect(page.locator("#nav-sidebar-inner, nav, aside").first).to_be_attached()
        html = page.content()
        assert AUTHORITY in html and ">health_f0<" not in html and "health_f0 —" not in html
        assert AUTHORITY in page.title() and "health_f0" not in page.title()
        shoot(page, "brand-desk-index-1280")
        page.set_viewport_size(NARROW)
        shoot(page, "brand-desk-index-360")
    finally:
        context.close()
