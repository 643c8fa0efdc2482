"""Two-factor authentication for staff (issue 8, item 5): TOTP (django-otp) with recovery codes.

Required for administrators, managers and superusers: with only the password such an account reaches
nothing but the enrolment page (first time) or the code prompt (afterwards), on the desk, the reports and the
API's token endpoint. Optional for other staff, who turn it on from their account page; once on, it is asked
at each login. Recovery codes are shown once, stored as keyed hashes, and work once each. Enrolment, removal,
recovery-code use and wrong codes are audited.

Codes are computed here from the device's key (django_otp.oath), at a clock moved by whole 30-second steps
(`time.time`), never by waiting. Staff log in through the desk's own login form.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from health_f0.core.models import AuditLog

pytestmark = pytest.mark.django_db

PASSWORD = "demo-2026"
DESK = "/desk/"
ENROL = "/desk/xac-thuc/dang-ky/"
VERIFY = "/desk/xac-thuc/"
ACCOUNT = "/desk/tai-khoan/xac-thuc-hai-lop/"
SECRET_PATTERN = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
CODE_PATTERN = re.compile(r"<li>([a-z2-7]{5}-[a-z2-7]{5})</li>")


@pytest.fixture(autouse=True)
def _two_factor_on(settings: Any) -> None:
    """Production's setting (the root conftest turns it off for the rest of the suite). Throttling is off
    except in the test about it: a wrong code then the right one would otherwise wait a second."""
    settings.STAFF_2FA_REQUIRED = True
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[float], None]:
    real = time.time
    offset = {"seconds": 0.0}
    monkeypatch.setattr(time, "time", lambda: real() + offset["seconds"])

    def advance(seconds: float) -> None:
        offset["seconds"] += seconds

    return advance


def code_now(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def desk_login(username: str) -> Client:
    """The desk's login form (the password step only)."""
    client = Client()
    response = client.post("/desk/login/?next=/desk/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:500]
    return client


def code_for_key(secret_text: str) -> str:
    """What the phone's app shows now for the key the enrolment page gives."""
    raw = secret_text.replace(" ", "")
    totp = TOTP(base64.b32decode(raw + "=" * (-len(raw) % 8)), 30, 0, 6, 0)
    totp.time = time.time()
    return f"{totp.token():06d}"


def enrol(client: Client, username: str) -> tuple[TOTPDevice, list[str]]:
    """Through the enrolment page: scan (read the key), type the first code; returns the recovery codes."""
    page = client.get(ENROL)
    assert page.status_code == 200
    secret = SECRET_PATTERN.search(page.content.decode())
    assert secret, "the enrolment page shows the key"
    response = client.post(ENROL, {"code": code_for_key(secret.group(1)), "next": DESK})
    assert response.status_code == 200, response.content.decode()[:800]
    codes = CODE_PATTERN.findall(response.content.decode())
    assert len(codes) == 10
    return TOTPDevice.objects.get(user__username=username, confirmed=True), codes


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


# --- Required roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["syt.lanhdao", "ttyt.lanhdao", "admin", "ketoan"])
def test_manager_administrator_superuser_cannot_use_the_desk_with_the_password_alone(
    demo: Any, username: str
) -> None:
    client = desk_login(username)
    for url in (DESK, "/desk/core/auditlog/", "/desk/appointments/appointment/", "/bao-cao/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(ENROL), (url, response["Location"])
    page = client.get(ENROL).content.decode()
    assert "phải bật xác thực hai lớp" in page and "<svg" in page


def test_an_administrator_role_without_superuser_requires_it_too(demo: Any, persona: Any) -> None:
    from health_f0.facilities.models import Facility, Membership

    user = persona("tiepdon")
    Membership.objects.create(user=user, facility=Facility.objects.get(code="TTYT-HD"), role="administrator")
    response = desk_login("tiepdon").get(DESK)
    assert response.status_code == 302 and response["Location"].startswith(ENROL)


def test_enrolment_then_every_login_asks_for_a_code(demo: Any, clock: Callable[[float], None]) -> None:
    client = desk_login("syt.lanhdao")
    wrong = client.post(ENROL, {"code": "000000"})
    assert wrong.status_code == 400 and "Mã xác thực không đúng hoặc đã hết hạn." in wrong.content.decode()
    device, codes = enrol(client, "syt.lanhdao")
    assert device.confirmed
    assert client.get("/desk/core/auditlog/").status_code == 200  # the enrolling session is verified
    enrolled = AuditLog.objects.get(verb="two_factor_enrol")
    assert enrolled.actor_label == "syt.lanhdao" and enrolled.data["recovery_codes"] == 10

    # The next login: the password, then the code.
    clock(30)
    second = desk_login("syt.lanhdao")
    response = second.get("/desk/core/auditlog/")
    assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert second.get(ENROL)["Location"].startswith(VERIFY)  # no swapping the device with a password alone
    bad = second.post(VERIFY, {"code": "123456"})
    assert bad.status_code == 400 and "Mã xác thực không đúng" in bad.content.decode()
    assert AuditLog.objects.filter(verb="two_factor_failed", actor_label="syt.lanhdao").count() == 1
    code = code_now(device)
    ok = second.post(VERIFY + "?next=/desk/core/auditlog/", {"code": code})
    assert ok.status_code == 302 and ok["Location"] == "/desk/core/auditlog/"
    assert second.get("/desk/core/auditlog/").status_code == 200
    assert second.get("/bao-cao/").status_code == 200

    # The same code does not open a third session (single use), even within its 30 seconds.
    third = desk_login("syt.lanhdao")
    assert third.post(VERIFY, {"code": code}).status_code == 400


def test_recovery_codes_are_stored_hashed_and_work_once(demo: Any, clock: Callable[[float], None]) -> None:
    client = desk_login("ttyt.lanhdao")
    _device, codes = enrol(client, "ttyt.lanhdao")
    stored = set(
        StaticToken.objects.filter(device__user__username="ttyt.lanhdao").values_list("token", flat=True)
    )
    assert len(stored) == 10
    plain = {code.replace("-", "") for code in codes} | set(codes)
    assert not stored & plain  # the database alone does not give them away

    second = desk_login("ttyt.lanhdao")
    response = second.post(VERIFY, {"code": codes[3].upper()}, follow=True)
    assert response.status_code == 200
    assert "còn 9 mã" in response.content.decode()
    assert second.get("/desk/core/auditlog/").status_code == 200
    used = AuditLog.objects.get(verb="two_factor_recovery_code")
    assert used.data == {"channel": "desk", "codes_left": 9}
    again = desk_login("ttyt.lanhdao").post(VERIFY, {"code": codes[3]})
    assert again.status_code == 400
    assert StaticToken.objects.filter(device__user__username="ttyt.lanhdao").count() == 9


def test_new_recovery_codes_replace_the_old(demo: Any, clock: Callable[[float], None]) -> None:
    client = desk_login("syt.lanhdao")
    device, old_codes = enrol(client, "syt.lanhdao")
    clock(30)
    response = client.post(ACCOUNT + "ma-du-phong/", {"code": code_now(device)})
    new_codes = CODE_PATTERN.findall(response.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert "no-store" in response["Cache-Control"]
    assert desk_login("syt.lanhdao").post(VERIFY, {"code": old_codes[0]}).status_code == 400
    assert desk_login("syt.lanhdao").post(VERIFY, {"code": new_codes[0]}).status_code == 302
    assert AuditLog.objects.filter(verb="two_factor_recovery_codes").count() == 1


def test_wrong_codes_are_throttled(demo: Any, settings: Any, clock: Callable[[float], None]) -> None:
    client = desk_login("syt.lanhdao")
    device, _codes = enrol(client, "syt.lanhdao")
    settings.OTP_TOTP_THROTTLE_FACTOR = 600  # ten minutes after the first wrong code
    clock(30)
    second = desk_login("syt.lanhdao")
    assert second.post(VERIFY, {"code": "000001"}).status_code == 400
    response = second.post(VERIFY, {"code": code_now(device)})
    assert response.status_code == 429
    assert "Bạn đã nhập sai mã nhiều lần. Vui lòng thử lại sau" in response.content.decode()
    assert second.get(DESK)["Location"].startswith(VERIFY)


def test_a_required_user_cannot_turn_it_off(demo: Any, clock: Callable[[float], None]) -> None:
    client = desk_login("syt.lanhdao")
    device, _codes = enrol(client, "syt.lanhdao")
    page = client.get(ACCOUNT).content.decode()
    assert "không tắt được" in page
    clock(30)
    response = client.post(ACCOUNT + "tat/", {"code": code_now(device)}, follow=True)
    assert "bắt buộc dùng xác thực hai lớp" in response.content.decode()
    assert TOTPDevice.objects.filter(user__username="syt.lanhdao", confirmed=True).exists()


# --- Optional for other staff -----------------------------------------------------------------------------


def test_other_staff_may_turn_it_on_from_their_account_page_and_off_again(
    demo: Any, clock: Callable[[float], None]
) -> None:
    client = desk_login("datlich")
    assert client.get("/desk/appointments/appointment/dat-lich/").status_code == 200  # not required
    account = client.get(ACCOUNT).content.decode()
    assert "Chưa bật" in account and ENROL in account
    assert ACCOUNT in client.get("/desk/appointments/appointment/dat-lich/").content.decode()  # user menu
    device, _codes = enrol(client, "datlich")

    clock(30)
    second = desk_login("datlich")
    assert second.get("/desk/appointments/appointment/dat-lich/")["Location"].startswith(VERIFY)
    assert second.post(VERIFY, {"code": code_now(device)}).status_code == 302
    clock(30)
    response = second.post(ACCOUNT + "tat/", {"code": code_now(device)}, follow=True)
    assert "Đã tắt xác thực hai lớp" in response.content.decode()
    assert not TOTPDevice.objects.filter(user__username="datlich").exists()
    removed = AuditLog.objects.get(verb="two_factor_remove")
    assert removed.actor_label == "datlich" and removed.data["by_self"] is True
    assert desk_login("datlich").get("/desk/appointments/appointment/dat-lich/").status_code == 200


def test_patients_have_no_two_factor_pages(demo: Any) -> None:
    from health_f0.patients.models import Patient
    from tests import access_records

    patient = access_records.portal_ready(Patient.objects.get(account__username="bn0000001"))
    client = Client()
    client.force_login(patient.account)
    assert client.get(reverse("www:me")).status_code == 200
    assert client.get(ENROL)["Location"] == reverse("www:home")
    assert not TOTPDevice.objects.exists()


def test_with_the_requirement_off_an_enrolled_user_is_still_asked(
    demo: Any, settings: Any, clock: Callable[[float], None]
) -> None:
    client = desk_login("syt.lanhdao")
    enrol(client, "syt.lanhdao")
    settings.STAFF_2FA_REQUIRED = False
    assert desk_login("ttyt.lanhdao").get("/desk/core/auditlog/").status_code == 200
    assert desk_login("syt.lanhdao").get("/desk/core/auditlog/")["Location"].startswith(VERIFY)


# --- The API ----------------------------------------------------------------------------------------------


def _token(client_api: Any, username: str, **extra: str) -> Any:
    return client_api.post(
        "/api/v1/auth/token", {"username": username, "password": PASSWORD, **extra}, format="json"
    )


def test_api_token_of_a_required_user_needs_a_code(
    demo: Any, client_api: Any, clock: Callable[[float], None]
) -> None:
    response = _token(client_api, "syt.lanhdao")
    assert response.status_code == 400 and response.json()["code"] == "otp_enrol_required"
    device, codes = enrol(desk_login("syt.lanhdao"), "syt.lanhdao")
    clock(30)
    missing = _token(client_api, "syt.lanhdao")
    assert missing.status_code == 400 and missing.json()["code"] == "otp_required"
    assert "otp" in missing.json()["errors"]
    wrong = _token(client_api, "syt.lanhdao", otp="999999")
    assert wrong.status_code == 400 and wrong.json()["code"] == "otp_invalid"
    ok = _token(client_api, "syt.lanhdao", otp=code_now(device))
    assert ok.status_code == 200 and ok.json()["token"]
    by_recovery = _token(client_api, "syt.lanhdao", otp=codes[0])
    assert by_recovery.status_code == 200
    assert AuditLog.objects.get(verb="two_factor_recovery_code").data["channel"] == "api"


def test_api_token_of_other_staff_and_patients_needs_no_code(demo: Any, client_api: Any) -> None:
    assert _token(client_api, "datlich").status_code == 200


def test_an_unverified_session_gets_no_api_answers(demo: Any) -> None:
    client = desk_login("syt.lanhdao")
    response = client.get("/api/v1/me")
    assert response.status_code == 403 and response.json()["code"] == "two_factor_required"


def test_a_lost_phone_is_reset_by_the_operator_and_audited(demo: Any) -> None:
    from io import StringIO

    from django.core.management import call_command

    enrol(desk_login("syt.lanhdao"), "syt.lanhdao")
    out = StringIO()
    call_command("two_factor_reset", "syt.lanhdao", "--reason", "Mất điện thoại, đã gọi xác minh", stdout=out)
    assert not TOTPDevice.objects.filter(user__username="syt.lanhdao").exists()
    assert not StaticToken.objects.filter(device__user__username="syt.lanhdao").exists()
    reset = AuditLog.objects.get(verb="two_factor_remove")
    assert reset.actor is None and reset.data == {
        "by_self": False,
        "reason": "Mất điện thoại, đã gọi xác minh",
    }
    response = desk_login("syt.lanhdao").get(DESK)
    assert response["Location"].startswith(ENROL)  # a manager enrols again at the next login


def test_no_desk_page_shows_another_users_device(demo: Any) -> None:
    """django-otp's own admin pages (a device's QR code is its secret) are not on the desk, even for the
    superuser: devices are managed only by their owner's two-factor pages."""
    victim = desk_login("syt.lanhdao")
    device, _codes = enrol(victim, "syt.lanhdao")
    admin = desk_login("admin")
    enrol(admin, "admin")
    for url in (
        "/desk/otp_totp/totpdevice/",
        f"/desk/otp_totp/totpdevice/{device.pk}/qrcode/",
        f"/desk/otp_totp/totpdevice/{device.pk}/config/",
        "/desk/otp_static/staticdevice/",
    ):
        assert admin.get(url).status_code == 404, url


def test_the_authenticator_app_shows_the_portals_name_not_the_code_name(demo: Any, settings: Any) -> None:
    from urllib.parse import unquote

    from django_otp.plugins.otp_totp.models import TOTPDevice

    from health_f0.accounts import two_factor
    from health_f0.facilities.portal import site_info

    user = get_user_model().objects.get(username="syt.lanhdao")
    device = TOTPDevice(user=user, name="default", confirmed=False)
    url = unquote(device.config_url)
    assert f"issuer={site_info().title}" in url and "health_f0" not in url
    assert site_info().title.startswith("Cổng sức khoẻ")
    settings.OTP_TOTP_ISSUER = "Sở Y tế: Cổng thử"
    assert two_factor.issuer() == "Sở Y tế Cổng thử"
    assert "issuer=Sở Y tế Cổng thử" in unquote(device.config_url)
