"""The portal's sign-up, forgot-password and add-a-family-member pages (issue 12, section 1)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.patients.models import OtpChallenge, Patient
from tests.www.test_appointments_portal import text

pytestmark = pytest.mark.django_db

PHONE = "0986 111 222"
E164 = "+84986111222"
PASSWORD = "Hoa-sen-2026"
FORM = {
    "full_name": "Trần Thị Hoa",
    "date_of_birth": "17/05/1990",
    "sex": "female",
    "phone": PHONE,
    "cccd": "",
    "bhyt": "",
    "password": PASSWORD,
    "password2": PASSWORD,
    "consent": "on",
}


def _later() -> None:
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    for challenge in OtpChallenge.objects.all():
        cache.delete(f"otp-resend:{challenge.purpose}:{challenge.phone}")


def _signup(client: Client, sms: Any, capture: Any, **overrides: Any) -> Any:
    form = {**FORM, **overrides}
    with capture(execute=True):
        response = client.post("/dang-ky-tai-khoan", {**form, "action": "otp"})
    assert response.status_code == 200, text(response)
    assert "Mã OTP đã được gửi tới" in text(response)
    return client.post("/dang-ky-tai-khoan", {**form, "action": "submit", "otp": sms.last_otp(E164)})


def test_login_page_links_sign_up_and_forgot_password(demo: Any) -> None:
    page = Client().get("/dang-nhap").content.decode()
    assert 'href="/dang-ky-tai-khoan"' in page and 'href="/quen-mat-khau"' in page


def test_sign_up_logs_in_and_shows_the_username(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client(enforce_csrf_checks=False)
    response = _signup(client, sms, django_capture_on_commit_callbacks)
    assert response.status_code == 302 and response["Location"] == "/tai-khoan/da-mo"
    user = get_user_model().objects.get(patient__phone=E164)
    assert user.username in text(client.get("/tai-khoan/da-mo"))
    assert client.get("/ca-nhan").status_code == 200  # the account's own record, no station
    assert client.get("/lich-hen").status_code == 200
    assert AuditLog.objects.filter(verb="signup", actor=user).exists()


def test_sign_up_offers_the_third_sex_the_api_accepts(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    page = text(Client().get("/dang-ky-tai-khoan"))
    assert 'value="other"' in Client().get("/dang-ky-tai-khoan").content.decode() and "Khác" in page
    response = _signup(Client(), sms, django_capture_on_commit_callbacks, sex="other")
    assert response.status_code == 302
    assert get_user_model().objects.get(patient__phone=E164).patient.sex == "other"


def test_every_error_at_once_and_no_account(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    response = client.post(
        "/dang-ky-tai-khoan",
        {**FORM, "password2": "khac-hoan-toan", "cccd": "12", "consent": "", "action": "submit", "otp": ""},
    )
    assert response.status_code == 400
    page = text(response)
    for message in ("Hai mật khẩu không giống nhau", "CCCD", "Cần đồng ý", "mã OTP"):
        assert message in page
    assert not Patient.objects.filter(phone=E164).exists()


def test_a_weak_password_is_refused_by_djangos_validators(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = _signup(
        Client(), sms, django_capture_on_commit_callbacks, password="12345678", password2="12345678"
    )
    page = text(response)
    assert response.status_code == 400 and ("toàn chữ số" in page or "phổ biến" in page)
    assert not Patient.objects.filter(phone=E164).exists()


def test_the_same_person_again_is_offered_login_and_reset(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert _signup(Client(), sms, django_capture_on_commit_callbacks).status_code == 302
    _later()
    response = _signup(Client(), sms, django_capture_on_commit_callbacks)
    assert response.status_code == 409
    page = response.content.decode()
    assert "đã có tài khoản" in page and 'href="/quen-mat-khau"' in page


def test_post_needs_the_csrf_token(demo: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post("/dang-ky-tai-khoan", {**FORM, "action": "otp"}).status_code == 403
    assert client.post("/quen-mat-khau", {"phone": PHONE, "action": "otp"}).status_code == 403


def test_forgot_password_says_the_same_for_a_number_without_an_account(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    answers = []
    for number in ("0986 999 000", PHONE):
        if number == PHONE:
            assert _signup(Client(), sms, django_capture_on_commit_callbacks).status_code == 302
        with django_capture_on_commit_callbacks(execute=True):
            response = Client().post("/quen-mat-khau", {"phone": number, "action": "otp"})
        assert response.status_code == 200
        answers.append(text(response).replace(f"0986 *** {number[-3:]}", "0986 *** ###"))
    assert answers[0] == answers[1]
    assert not [m for m in sms.messages() if m["to"] == "+84986999000"]


def test_forgot_password_resets_and_ends_other_sessions(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    other_device = Client()
    assert _signup(other_device, sms, django_capture_on_commit_callbacks).status_code == 302
    assert other_device.get("/ca-nhan").status_code == 200
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/quen-mat-khau", {"phone": PHONE, "action": "otp"})
    code = sms.last_otp(E164)
    new = {"phone": PHONE, "otp": code, "new_password1": "Moi-mat-khau-9", "new_password2": "Moi-mat-khau-9"}
    response = client.post("/quen-mat-khau", {**new, "action": "submit"})
    assert response.status_code == 302 and response["Location"] == "/quen-mat-khau/xong"
    user = get_user_model().objects.get(patient__phone=E164)
    assert user.username in text(client.get("/quen-mat-khau/xong"))
    assert other_device.get("/ca-nhan").status_code == 302  # logged out
    login = client.post("/dang-nhap", {"username": user.username, "password": "Moi-mat-khau-9"})
    assert login.status_code == 302


def test_a_wrong_reset_code_is_refused(demo: Any, sms: Any, django_capture_on_commit_callbacks: Any) -> None:
    assert _signup(Client(), sms, django_capture_on_commit_callbacks).status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/quen-mat-khau", {"phone": PHONE, "action": "otp"})
    response = Client().post(
        "/quen-mat-khau",
        {
            "phone": PHONE,
            "otp": "000000",
            "new_password1": "Moi-mat-khau-9",
            "new_password2": "Moi-mat-khau-9",
        },
    )
    assert response.status_code == 400 and "Mã OTP không đúng" in text(response)


def test_an_account_made_by_sign_up_adds_a_child(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    assert _signup(client, sms, django_capture_on_commit_callbacks).status_code == 302
    _later()
    child = {"full_name": "Nguyễn Minh An", "date_of_birth": "02/01/2015", "sex": "male", "consent": "on"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/ca-nhan/them-nguoi-nha", {**child, "action": "otp"}).status_code == 200
    response = client.post(
        "/ca-nhan/them-nguoi-nha", {**child, "action": "submit", "otp": sms.last_otp(E164)}
    )
    assert response.status_code == 302 and response["Location"] == "/ca-nhan/nguoi-thay-mat"
    assert "Nguyễn Minh An" in text(client.get("/ca-nhan/nguoi-thay-mat"))
    user = get_user_model().objects.get(patient__full_name="Trần Thị Hoa")
    assert {p.full_name for p in access.own_patients_for(user)} == {"Trần Thị Hoa", "Nguyễn Minh An"}
    # The booking page offers the child.
    assert date(2015, 1, 2) in {p.date_of_birth for p in access.own_patients_for(user)}


def test_a_resident_without_home_care_is_not_sent_to_declare(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client(enforce_csrf_checks=False)
    _signup(client, sms, django_capture_on_commit_callbacks)
    page = text(client.get("/ca-nhan"))
    assert "Khai báo sức khoẻ hằng ngày" not in page  # no episode: nothing to declare
    patient = Patient.objects.get(phone=E164)
    response = client.post("/ca-nhan", {"patient": str(patient.public_id)})
    assert response.status_code == 302 and response["Location"] == "/lich-hen"
