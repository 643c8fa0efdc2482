"""Daily home-care monitoring in a real browser: the patient logs in, checks their details, declares with a
danger sign, sees the emergency warning with 115 and the station's hotline, and finds it in the history.
Also: validation errors, guidance, the family switch, the completion certificate and its public check,
a read-only closed episode, the form without JavaScript, accessibility (axe) and page weight."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from health_f0.monitoring.models import Declaration, Episode, GuidanceDocument
from health_f0.monitoring.services import episode_close, episode_complete, reset_caches
from health_f0.patients.models import Patient
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    reset_caches()


def login(page: Any, base: str, username: str = "bn0000001", password: str = "demo-2026") -> None:
    page.goto(base + "/dang-nhap")
    page.get_by_label("Tên tài khoản").fill(username)
    page.get_by_label(re.compile(r"^Mật khẩu")).fill(password)
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")


def staff() -> Any:
    return get_user_model().objects.get(username="thanhdong.nv")


def add_child(hung: Patient) -> Patient:
    data = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=hung.date_of_birth.replace(year=2019),
            sex="male",
            phone=hung.phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="caregiver",
            consent=True,
            relation="relative",
            registrant_name="Nguyễn Văn Hùng",
        )
    )
    registration = _create(data, channel="web", facility=hung.facility, actor=None)
    child = registration_accept(registration=registration, actor=staff()).patient
    assert child is not None
    return child


def test_declaration_with_a_danger_sign(page: Any, live_server: Any, axe: Any, shoot: Any) -> None:
    base = live_server.url
    page.goto(base + "/")
    page.get_by_role("link", name=re.compile("Khai báo sức khoẻ hằng ngày")).click()
    page.wait_for_url("**/dang-nhap")
    page.get_by_label("Tên tài khoản").fill("bn0000001")
    page.get_by_label(re.compile(r"^Mật khẩu")).fill("demo-2026")
    page.get_by_role("button", name="Đăng nhập", exact=True).click()
    page.wait_for_url("**/ca-nhan")

    # Bước 3: the details, and today's status.
    main = page.locator("main").inner_text()
    assert "Nguyễn Văn Hùng" in main and "12/04/1985" in main and "Chưa khai báo" in main
    assert axe(page) == []
    shoot(page, "m-01-me")
    page.get_by_role("button", name="Thông tin chính xác — Tiếp tục").click()

    # Bước 4: the questionnaire.
    page.wait_for_url("**/khai-bao")
    assert page.get_by_role("heading", name="Khai báo sức khoẻ hôm nay").is_visible()
    assert page.get_by_text("Cảm ơn bạn đã xác nhận thông tin cá nhân.").is_visible()
    assert axe(page) == []
    shoot(page, "m-02-declare")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("37,6")
    page.get_by_label(re.compile(r"^Chỉ số SpO2")).fill("92")
    page.get_by_label(re.compile(r"^Nhịp thở")).fill("24")
    page.get_by_label(re.compile(r"^Mạch")).fill("104")
    page.get_by_label("Ho", exact=True).check()
    page.get_by_label(re.compile("Khó thở, thở hụt hơi")).check()
    page.get_by_label("Điều khác muốn báo với nhân viên y tế").fill("Mệt hơn hôm qua, thở nhanh khi đi lại.")
    page.get_by_role("button", name="Gửi khai báo").click()

    # The emergency warning: 115 and the station's hotline, with the reasons.
    page.wait_for_url("**/khai-bao/ket-qua/**")
    alert = page.get_by_role("alert")
    assert alert.get_by_role("heading", name="Cấp cứu: gọi 115 ngay").is_visible()
    assert alert.get_by_role("link", name="Gọi 115 ngay").get_attribute("href") == "tel:115"
    hotline = alert.get_by_role("link", name=re.compile("Gọi trạm y tế: 0220 389 1001"))
    assert hotline.get_attribute("href") == "tel:02203891001"
    alert_text = alert.inner_text()
    assert "Khó thở" in alert_text and "SpO2 92% dưới 94%" in alert_text
    assert axe(page) == []
    shoot(page, "m-03-result-emergency")
    declaration = Declaration.objects.get(patient__account__username="bn0000001")
    assert declaration.alert_level == "emergency" and declaration.submitted_by.username == "bn0000001"
    # The station has the alert for its board.
    assert declaration.alert.facility.code == "TYT-10510"  # type: ignore[attr-defined]

    # History shows it, with the charts.
    page.get_by_role("link", name="Xem lịch sử khai báo").click()
    page.wait_for_url("**/lich-su**")
    item = page.locator(".history-item").first
    assert "Cấp cứu" in item.inner_text() and "92%" in item.inner_text()
    assert timezone.localtime(declaration.submitted_at).strftime("%d/%m/%Y %H:%M") in item.inner_text()
    assert page.locator("svg[role=img]").count() == 2
    page.get_by_text("Xem số liệu của biểu đồ dạng bảng").click()
    assert page.locator(".chart-table td").first.inner_text() == "92%"
    assert axe(page) == []
    shoot(page, "m-04-history")

    # Declaring again is always possible; a bad value is refused next to its field.
    page.goto(base + "/khai-bao")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("37")
    page.get_by_label(re.compile(r"^Chỉ số SpO2")).fill("150")
    page.get_by_role("button", name="Gửi khai báo").click()
    page.locator(".error-summary").wait_for()
    assert "150 % không hợp lý" in page.locator("#id_spo2_error").inner_text()
    assert page.get_by_label(re.compile(r"^Chỉ số SpO2")).get_attribute("aria-invalid") == "true"
    assert axe(page) == []
    shoot(page, "m-05-declare-errors")
    assert Declaration.objects.count() == 1


def test_double_tap_and_retry_are_one_declaration(page: Any, live_server: Any) -> None:
    login(page, live_server.url)
    page.goto(live_server.url + "/khai-bao")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("36,9")
    form = {
        name: page.locator(f".declare-form input[name={name}]").input_value()
        for name in ("csrfmiddlewaretoken", "patient", "idempotency_key")
    }
    page.get_by_role("button", name="Gửi khai báo").dblclick()
    # A double tap sends the form twice, and the browser aborts the first navigation for the second
    # (net::ERR_ABORTED): wait_for_url fails on that aborted navigation, so poll the URL the page settles on.
    expect(page).to_have_url(re.compile(r"/khai-bao/ket-qua/"))
    expect(page.get_by_role("heading", name="Đã nhận khai báo — cảm ơn bạn")).to_be_visible()
    # The same form sent again (a retry over a bad connection) lands on the same result.
    retry = page.request.post(live_server.url + "/khai-bao", form={**form, "temperature": "36,9"})
    assert retry.ok and retry.url == page.url
    assert Declaration.objects.count() == 1


def test_family_guidance_certificate_and_closed(page: Any, live_server: Any, axe: Any, shoot: Any) -> None:
    base = live_server.url
    with open(os.devnull, "w") as devnull:
        call_command("load_guidance", stdout=devnull)
    hung = Patient.objects.get(account__username="bn0000001")
    child = add_child(hung)
    login(page, base)

    # Family switch: both names, the child chosen, a normal declaration for the child.
    switch = page.get_by_role("navigation", name="Đang xem và khai báo cho")
    assert "Nguyễn Minh Khang" in switch.inner_text() and "Nguyễn Văn Hùng" in switch.inner_text()
    switch.get_by_role("link", name=re.compile("Nguyễn Minh Khang")).click()
    page.wait_for_url("**/ca-nhan?nguoi-benh=*")
    assert "Nguyễn Minh Khang" in page.locator(".details").first.inner_text()
    assert axe(page) == []
    shoot(page, "m-06-me-family")
    page.goto(base + "/khai-bao")
    assert "Nguyễn Minh Khang" in page.locator(".lead").inner_text()
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("36,7")
    page.get_by_label(re.compile(r"^Chỉ số SpO2")).fill("98")
    page.get_by_label(re.compile(r"^Nhịp thở")).fill("22")
    page.get_by_role("button", name="Gửi khai báo").click()
    page.wait_for_url("**/khai-bao/ket-qua/**")
    assert page.get_by_role("heading", name="Đã nhận khai báo — cảm ơn bạn").is_visible()
    assert "Hẹn gặp lại ngày mai" in page.locator("main").inner_text()
    assert axe(page) == []
    shoot(page, "m-07-result-ok")
    assert Declaration.objects.get(patient=child).submitted_by == hung.account

    # Guidance pages.
    page.goto(base + "/huong-dan")
    assert page.locator(".doc-item").count() == 3
    assert axe(page) == []
    shoot(page, "m-08-guidance")
    page.get_by_role("link", name="Khi nào cần gọi ngay nhân viên y tế").click()
    page.wait_for_url("**/huong-dan/*")
    assert page.get_by_role("heading", name=re.compile("Gọi ngay trạm y tế hoặc 115")).is_visible()
    assert axe(page) == []
    shoot(page, "m-09-guidance-detail")

    # The child's episode is closed (transferred): read-only.
    episode_close(
        episode=Episode.objects.get(patient=child), actor=staff(), status="transferred", reason="Chuyển viện"
    )
    page.goto(base + "/khai-bao")
    assert "đã được chuyển đến cơ sở điều trị" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Gửi khai báo").count() == 0
    assert axe(page) == []
    shoot(page, "m-10-declare-closed")

    # The parent's episode is completed: the certificate and its public check.
    episode = Episode.objects.get(patient=hung)
    episode = episode_complete(
        episode=episode,
        actor=staff(),
        negative_test_date=episode.start_date + timedelta(days=6),
        negative_test_type="rapid",
        today=episode.start_date + timedelta(days=7),
    )
    page.goto(base + f"/ca-nhan?nguoi-benh={hung.public_id}")
    link = page.get_by_role("link", name="Tải giấy xác nhận hoàn thành cách ly (PDF)")
    assert link.get_attribute("href") == f"/ca-nhan/giay-xac-nhan/{episode.public_id}.pdf"
    assert axe(page) == []
    shoot(page, "m-11-me-completed")
    pdf = page.request.get(base + link.get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")

    page.goto(base + f"/xac-minh/{episode.certificate_code}")
    assert page.get_by_role("heading", name="Giấy xác nhận hợp lệ").is_visible()
    assert "N***** V** Hùng" in page.locator("main").inner_text()
    assert "Nguyễn Văn Hùng" not in page.locator("main").inner_text()
    assert axe(page) == []
    shoot(page, "m-12-verify")
    page.goto(base + "/xac-minh/KHONGCOMA1")
    assert page.get_by_role("heading", name="Không tìm thấy giấy xác nhận").is_visible()
    assert axe(page) == []
    shoot(page, "m-13-verify-missing")


def test_declaring_without_javascript(nojs_page: Any, live_server: Any) -> None:
    page = nojs_page
    login(page, live_server.url)
    page.goto(live_server.url + "/khai-bao")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("38,5")
    page.get_by_role("button", name="Gửi khai báo").click()
    page.wait_for_url("**/khai-bao/ket-qua/**")
    assert "cần theo dõi thêm" in page.locator("main").inner_text()
    assert Declaration.objects.get().temperature is not None


def test_page_weight(page: Any, live_server: Any) -> None:
    base = live_server.url
    with open(os.devnull, "w") as devnull:
        call_command("load_guidance", stdout=devnull)
    login(page, base)
    page.goto(base + "/khai-bao")
    page.get_by_label("Nhiệt độ cơ thể (°C)").fill("37")
    page.get_by_label(re.compile(r"^Chỉ số SpO2")).fill("95")
    page.get_by_role("button", name="Gửi khai báo").click()
    page.wait_for_url("**/khai-bao/ket-qua/**")
    result = page.url
    document = GuidanceDocument.objects.order_by("order").first()
    assert document is not None
    for url in (
        base + "/ca-nhan",
        base + "/khai-bao",
        result,
        base + "/lich-su",
        base + "/huong-dan",
        base + f"/huong-dan/{document.public_id}",
        base + "/xac-minh/KHONGCOMA1",
    ):
        responses: list[Any] = []

        def handler(response: Any, responses: list[Any] = responses) -> None:
            responses.append(response)

        page.on("response", handler)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        page.remove_listener("response", handler)
        total = sum(len(r.body()) for r in responses if r.status < 300 or r.status == 404)
        assert total < 100 * 1024, f"{url}: {total} bytes"
        assert all(r.url.startswith(base) for r in responses), "no third-party requests"
