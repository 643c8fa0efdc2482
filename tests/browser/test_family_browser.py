"""The family bond in a real browser (issue 8, item 2).

1. A patient opens "Ai có thể thay mặt tôi" from /ca-nhan and sees the child registered on the portal with
   the same proved phone, and how the phone was proved.
2. The station corrects the patient's phone: the desk shows "Chưa xác thực"; the clerk sends a code to the new
   number, types the code the patient reads out, and the desk shows the bond.
3. After another correction the patient proves the new number on the portal: gets a code, types it.

Checked on a 390 px phone and at 200 % zoom (no sideways scrolling), with axe."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from health_f0.patients.models import Patient, PhoneBond
from health_f0.patients.services import patient_update_details
from tests.browser.test_desk_journeys import desk_session
from tests.browser.test_monitoring_journey import add_child
from tests.browser.test_monitoring_journey import login as portal_login

pytestmark = pytest.mark.browser

NEW_PHONE = "+84986000111"
OTHER_PHONE = "+84986000222"


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, width


def _at_200_percent(page: Any) -> None:
    """As a phone at 200 % zoom: half the CSS width."""
    page.set_viewport_size({"width": 195, "height": 844})
    _no_sideways_scroll(page)
    page.set_viewport_size({"width": 390, "height": 844})


def _correct(patient: Patient, phone: str) -> None:
    nurse = get_user_model().objects.get(username="thanhdong.nv")
    patient_update_details(patient=Patient.objects.get(pk=patient.pk), actor=nurse, changes={"phone": phone})


def test_who_can_act_for_me_and_the_desks_phone_check(
    browser: Any, page: Any, live_server: Any, axe: Any, shoot: Any, sms: Any
) -> None:
    base = live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    add_child(hung)
    portal_login(page, base)
    page.get_by_role("link", name="Xem ai có thể thay mặt tôi").click()
    page.wait_for_url("**/ca-nhan/nguoi-thay-mat")
    assert page.get_by_role("heading", name="Ai có thể thay mặt tôi", level=1).is_visible()
    members = page.locator("#members-title + p + ul").inner_text()
    assert "Nguyễn Minh Khang" in members
    phone_card = page.locator("section", has=page.locator("#phone-title")).inner_text()
    assert "Đã xác thực" in phone_card and "0912 *** 678" in phone_card
    assert axe(page) == []
    _no_sideways_scroll(page)
    _at_200_percent(page)
    shoot(page, "family-01-who-can-act-for-me")

    # The station corrects Hùng's phone: nobody acts for him until the new number answers an OTP.
    _correct(hung, NEW_PHONE)
    with desk_session(browser, base, "thanhdong.nv") as desk:
        desk.goto(f"{base}/desk/patients/patient/{hung.pk}/change/")
        assert "chưa xác thực" in desk.locator("body").inner_text().lower()  # a label (upper case)
        shoot(desk, "family-02-desk-unverified")
        desk.get_by_role("link", name="Gửi mã xác thực số điện thoại").click()
        desk.get_by_role("button", name="Gửi mã").click()
        expect(desk.locator("body")).to_contain_text("Đã gửi mã OTP tới 0986 000 111")
        code = sms.last_otp(NEW_PHONE)
        desk.get_by_role("link", name="Nhập mã xác thực").click()
        desk.get_by_label(re.compile("Mã OTP người bệnh đọc")).fill(code)
        shoot(desk, "family-03-desk-code-dialog")
        desk.get_by_role("button", name="Xác thực", exact=True).click()
        expect(desk.locator("body")).to_contain_text("Đã xác thực số 0986 000 111")
        assert "OTP đọc cho nhân viên y tế khi đổi số" in desk.locator("body").inner_text()
        shoot(desk, "family-04-desk-verified")
    bond = PhoneBond.objects.get(patient=hung, ended_at__isnull=True)
    assert (bond.phone, bond.method) == (NEW_PHONE, "desk_otp")


def test_the_patient_proves_a_corrected_phone_on_the_portal(
    page: Any, live_server: Any, axe: Any, shoot: Any, sms: Any
) -> None:
    base = live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    _correct(hung, OTHER_PHONE)
    portal_login(page, base)
    page.goto(base + "/ca-nhan/nguoi-thay-mat")
    main = page.locator("main").inner_text()
    assert "chưa được xác thực" in main and "0986 *** 222" in main
    assert axe(page) == []
    shoot(page, "family-05-portal-unverified")
    page.get_by_role("button", name="Nhận mã OTP").click()
    page.wait_for_url("**/ca-nhan/nguoi-thay-mat")
    assert "Mã OTP đã được gửi tới 0986 *** 222" in page.locator("main").inner_text()
    page.get_by_label(re.compile(r"^Mã OTP")).fill(sms.last_otp(OTHER_PHONE))
    _no_sideways_scroll(page)
    _at_200_percent(page)
    shoot(page, "family-06-portal-code")
    page.get_by_role("button", name="Xác thực số điện thoại").click()
    page.wait_for_url("**/ca-nhan/nguoi-thay-mat")
    main = page.locator("main").inner_text()
    assert "Đã xác thực số điện thoại của bạn." in main and "OTP người bệnh tự nhập trên cổng" in main
    assert axe(page) == []
    shoot(page, "family-07-portal-verified")
