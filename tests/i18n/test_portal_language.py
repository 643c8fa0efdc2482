"""The portal speaks English when the browser, the language cookie or the language switch asks for it."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

# Phrases with no quotes or ampersands, so they appear in the HTML exactly as written.
PAGES: dict[str, dict[str, list[str]]] = {
    "/": {
        "en": [
            "Book an appointment",
            "See, move or cancel your bookings.",
            "Link your hospital record",
            "Part 1: Register to open an account",
            "Part 2: Daily health declaration",
            "Personal data protection policy",
        ],
        "vi": [
            "Đặt lịch khám",
            "Xem, đổi giờ hoặc huỷ lịch đã đặt.",
            "Liên kết hồ sơ bệnh viện",
            "Phần 1: Đăng ký thông tin để mở tài khoản",
            "Phần 2: Khai báo sức khoẻ hằng ngày",
            "Chính sách bảo vệ dữ liệu cá nhân",
        ],
    },
    "/dang-ky": {
        "en": [
            "Register for F0 home care",
            "Patient details",
            "Date of birth",
            "Breathing rate (breaths/minute)",
            "Underlying conditions",
            "Get OTP",
            # Screening options come from registration/screening.py (data with vi/en labels).
            "Registering myself",
            "Difficulty breathing",
        ],
        "vi": [
            "Đăng ký chăm sóc F0 tại nhà",
            "Thông tin người bệnh",
            "Ngày sinh",
            "Nhịp thở (lần/phút)",
            "Bệnh nền",
            "Nhận OTP",
            "Tôi tự đăng ký cho bản thân",
            "Khó thở, thở hụt hơi",
        ],
    },
    "/dang-nhap": {
        "en": ["Log in", "Phone number or username", "Password", "No account yet?", "Forgot your password?"],
        "vi": [
            "Đăng nhập",
            "Số điện thoại hoặc tên tài khoản",
            "Mật khẩu",
            "Chưa có tài khoản?",
            "Quên mật khẩu?",
        ],
    },
}
OTHER = {"en": "vi", "vi": "en"}
CASES = [(url, lang) for url in PAGES for lang in ("en", "vi")]


def _assert_language(response: Any, url: str, lang: str) -> None:
    assert response.status_code == 200
    html = response.content.decode()
    assert f'<html lang="{lang}">' in html
    for phrase in PAGES[url][lang]:
        assert phrase in html, f"{url} [{lang}] lacks {phrase!r}"
    # The page is not a mix: the other language's headline phrase is absent.
    assert PAGES[url][OTHER[lang]][0] not in html or url == "/dang-nhap"


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "lang"), CASES)
def test_accept_language_header_picks_the_language(client: Client, url: str, lang: str) -> None:
    response = client.get(url, headers={"accept-language": lang})
    assert response.headers["Content-Language"] == lang
    _assert_language(response, url, lang)


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "lang"), CASES)
def test_language_cookie_wins_over_the_browser(client: Client, url: str, lang: str) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.get(url, headers={"accept-language": OTHER[lang]})
    _assert_language(response, url, lang)


@pytest.mark.django_db
def test_default_language_is_vietnamese(client: Client) -> None:
    _assert_language(client.get("/"), "/", "vi")


@pytest.mark.django_db
def test_language_switch_sets_the_cookie_and_returns_to_the_page(client: Client) -> None:
    response = client.post(reverse("set_language"), {"language": "en", "next": "/dang-nhap"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/dang-nhap"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    _assert_language(client.get("/dang-nhap"), "/dang-nhap", "en")
    _assert_language(client.get("/"), "/", "en")

    client.post(reverse("set_language"), {"language": "vi", "next": "/"})
    _assert_language(client.get("/"), "/", "vi")


@pytest.mark.django_db
def test_language_switch_is_offered_on_every_page(client: Client) -> None:
    html = client.get("/", headers={"accept-language": "en"}).content.decode()
    assert f'action="{reverse("set_language")}"' in html
    assert 'name="language" value="vi"' in html
    assert 'name="language" value="en"' in html


@pytest.mark.django_db
def test_form_errors_are_in_english(client: Client) -> None:
    response = client.post("/dang-ky", {"action": "submit"}, headers={"accept-language": "en"})
    html = response.content.decode()
    assert "Please enter the patient" in html  # "Please enter the patient's full name."
    assert "Please choose a province/city." in html
    assert "Vui lòng nhập họ và tên người bệnh." not in html


@pytest.mark.django_db
def test_login_error_is_in_english(client: Client) -> None:
    response = client.post(
        "/dang-nhap", {"username": "nobody", "password": "wrong-password"}, headers={"accept-language": "en"}
    )
    assert "Wrong phone number, username or password." in response.content.decode()


@pytest.mark.django_db
def test_date_errors_are_in_english(client: Client) -> None:
    response = client.post(
        "/dang-ky", {"action": "submit", "date_of_birth": "99/99/9999"}, headers={"accept-language": "en"}
    )
    html = response.content.decode()
    assert "Please enter the positive result date." in html
    assert "Date of birth is not valid." in html
