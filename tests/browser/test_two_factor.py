"""Two-factor authentication in a real browser (issue 8, item 5): a manager's first desk login asks them to
enrol an authenticator app (QR code drawn by the product, the key to type by hand), shows the recovery codes
once, and every later login asks for the 6-digit code after the password. On a 390 px phone and at a desktop
size; screenshots var/screenshots/two_factor_*.png.

The code is computed here from the key the page shows (as the phone's app would), at a clock moved by one
30-second step between logins (the live server runs in this process).
"""

from __future__ import annotations

import base64
import re
import time
from typing import Any

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import expect

from health_f0.core.models import AuditLog

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(autouse=True)
def _two_factor_on(settings: Any) -> None:
    settings.STAFF_2FA_REQUIRED = True


def _code(secret_text: str, at: float) -> str:
    """What the authenticator app shows for this key at this time."""
    raw = secret_text.replace(" ", "")
    key = base64.b32decode(raw + "=" * (-len(raw) % 8))
    totp = TOTP(key, step=30, t0=0, digits=6)
    totp.time = at
    return f"{totp.token():06d}"


def _password_step(page: Any, base: str, username: str) -> None:
    page.goto(base + "/desk/login/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill("demo-2026")
    page.keyboard.press("Enter")
    page.wait_for_url(lambda url: "/desk/login/" not in url)


def test_manager_enrols_then_logs_in_with_a_code(
    browser: Any, page: Any, live_server: Any, shoot: Any, monkeypatch: pytest.MonkeyPatch, axe: Any
) -> None:
    base = live_server.url
    # First login (a phone-sized window): the password, then the enrolment page, nothing else.
    _password_step(page, base, "syt.lanhdao")
    expect(page).to_have_url(re.compile(r"/desk/xac-thuc/dang-ky/"))
    expect(page.get_by_text("phải bật xác thực hai lớp")).to_be_visible()
    expect(page.locator(".tf-qr svg")).to_be_visible()
    page.get_by_text("Không quét được? Nhập khoá bằng tay").click()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7 ]{32,}", secret), secret
    no_overflow = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert no_overflow
    shoot(page, "two_factor_enrol")
    assert not axe(page)
    page.get_by_label("Mã xác thực").fill("000000")
    page.get_by_role("button", name="Bật xác thực hai lớp").click()
    expect(page.get_by_text("Mã xác thực không đúng hoặc đã hết hạn.")).to_be_visible()
    page.get_by_label("Mã xác thực").fill(_code(secret, time.time()))
    page.get_by_role("button", name="Bật xác thực hai lớp").click()
    expect(page.get_by_text("Đã bật xác thực hai lớp.")).to_be_visible()
    codes = page.locator("#recovery-codes li").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[a-z2-7]{5}-[a-z2-7]{5}", c) for c in codes)
    shoot(page, "two_factor_recovery_codes")
    page.get_by_role("link", name="Tôi đã lưu các mã — Tiếp tục").click()
    page.wait_for_url(lambda url: "/desk/xac-thuc/" not in url)
    assert "/desk/" in page.url or "/bao-cao/" in page.url  # a manager lands on the reports
    assert AuditLog.objects.filter(verb="two_factor_enrol", actor_label="syt.lanhdao").exists()

    # A later login at a desktop: the password, then the code prompt, then the desk.
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 30)
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    context.set_default_timeout(15_000)
    try:
        desk = context.new_page()
        _password_step(desk, base, "syt.lanhdao")
        expect(desk).to_have_url(re.compile(r"/desk/xac-thuc/\?next="))
        expect(desk.get_by_text("nhập mã 6 chữ số đang hiển thị")).to_be_visible()
        shoot(desk, "two_factor_code_prompt")
        assert not axe(desk)
        desk.get_by_label("Mã xác thực").fill(_code(secret, time.time()))
        desk.get_by_role("button", name="Xác nhận").click()
        desk.wait_for_url(lambda url: "/desk/xac-thuc/" not in url)
        desk.goto(base + "/desk/tai-khoan/xac-thuc-hai-lop/")
        expect(desk.get_by_text("Đang bật")).to_be_visible()
        expect(desk.get_by_text("Còn 10 mã dự phòng.")).to_be_visible()
        shoot(desk, "two_factor_account")
    finally:
        context.close()
