"""Bearer tokens (login, expiry, logout, throttling, lockout), /me and the password change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from health_f0.api.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"


def test_login_issues_a_hashed_30_day_token(demo, client_api):
    response = client_api.post(TOKEN, {"username": "thanhdong.nv", "password": "demo-2026"}, format="json")
    assert response.status_code == 200, response.json()
    raw = response.json()["token"]
    token = ApiToken.objects.get(key_hash=hash_token(raw))
    assert not ApiToken.objects.filter(key_hash=raw).exists()
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    me = client_api.get("/api/v1/me").json()
    assert me["username"] == "thanhdong.nv" and me["kind"] == "staff"
    assert {
        "role": me["roles"][0]["role"],
        "code": me["roles"][0]["facility"]["code"],
    } == {"role": "station_staff", "code": "TYT-10510"}


@pytest.mark.parametrize(
    "payload",
    [
        {"username": "thanhdong.nv", "password": "wrong-password"},
        {"username": "nobody", "password": "demo-2026"},
        {"username": "thanhdong.nv"},
        {"username": ["x"], "password": {"a": 1}},
        {"username": "x" * 5000, "password": "y"},
    ],
)
def test_bad_credentials_are_400(demo, client_api, payload):
    response = client_api.post(TOKEN, payload, format="json")
    assert response.status_code == 400, response.json()
    assert not response.json()["detail"].isascii()


def test_wrong_password_message_is_vietnamese(demo, client_api):
    response = client_api.post(TOKEN, {"username": "thanhdong.nv", "password": "sai"}, format="json")
    body = response.json()
    assert body["code"] == "invalid_credentials"
    assert body["errors"]["password"][0]["message"] == "Tên đăng nhập hoặc mật khẩu không đúng."


def test_axes_lockout_is_429_json(demo, client_api, settings):
    settings.AXES_FAILURE_LIMIT = 3
    statuses = [
        client_api.post(
            TOKEN, {"username": "thanhdong.nv", "password": f"bad-{i}"}, format="json"
        ).status_code
        for i in range(3)
    ]
    assert statuses[-1] == 429
    response = client_api.post(TOKEN, {"username": "thanhdong.nv", "password": "demo-2026"}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "locked_out" and "khoá" in body["detail"]
    assert int(response["Retry-After"]) > 0


def test_token_endpoint_is_throttled_per_ip(demo, client_api):
    codes = [
        client_api.post(
            TOKEN, {"username": f"user{i}", "password": "x"}, format="json", REMOTE_ADDR="10.9.9.9"
        ).status_code
        for i in range(21)
    ]
    assert codes[:20] == [400] * 20
    assert codes[20] == 429
    other_ip = client_api.post(
        TOKEN, {"username": "u", "password": "x"}, format="json", REMOTE_ADDR="10.9.9.8"
    )
    assert other_ip.status_code == 400


def test_expired_token_is_401(as_user):
    client = as_user("thanhdong.nv")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer nonsense", "Bearer \u00e9"])
def test_malformed_tokens_are_401(demo, client_api, header):
    client_api.credentials(HTTP_AUTHORIZATION=header)
    assert client_api.get("/api/v1/me").status_code == 401


def test_logout_revokes_the_token(as_user):
    client = as_user("bn0000001")
    assert client.get("/api/v1/me").status_code == 200
    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/me").status_code == 401


def test_me_for_a_patient(as_user):
    body = as_user("bn0000001").get("/api/v1/me").json()
    assert body["kind"] == "patient" and body["roles"] == []
    assert body["full_name"] == "Nguyễn Văn Hùng"
    [patient] = body["patients"]
    assert patient["full_name"] == "Nguyễn Văn Hùng"
    assert patient["date_of_birth"] == "1985-04-12"
    assert patient["station"]["code"] == "TYT-10510"
    assert body["must_change_password"] is False


def _accepted(persona, *, name, channel, phone="0912345678"):
    """A child registered on Hùng's phone and accepted at Thành Đông: through the portal (its OTP proves the
    phone: a family bond) or at the desk (typed by staff: no bond)."""
    from health_f0.facilities.models import Facility
    from health_f0.registration.services import (
        RegistrationInput,
        _create,
        registration_accept,
        registration_validate,
    )
    from tests.access_records import portal_ready

    data = registration_validate(
        RegistrationInput(
            full_name=name,
            date_of_birth=timezone.localdate().replace(year=2019, month=3, day=4),
            sex="male",
            phone=phone,
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
    station = Facility.objects.get(code="TYT-10510")
    registration = _create(data, channel=channel, facility=station, actor=None)
    return portal_ready(registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient)


def test_me_lists_every_patient_the_account_acts_for(as_user, persona):
    """Issue 9 item 6: /me says whom the account may act for (access.own_patients_for), with the relation.
    `patients` keeps its meaning (the account's own record); `acting_for` is the new list."""
    child = _accepted(persona, name="Nguyễn Minh Khang", channel="web")
    _accepted(persona, name="Nguyễn Minh Khôi", channel="desk")  # same phone, never proved: not family
    body = as_user("bn0000001").get("/api/v1/me").json()
    assert [p["full_name"] for p in body["patients"]] == ["Nguyễn Văn Hùng"]
    rows = [(p["full_name"], p["relation"], p["relation_label"]) for p in body["acting_for"]]
    assert rows == [
        ("Nguyễn Văn Hùng", "self", "Bản thân"),
        ("Nguyễn Minh Khang", "family", "Người nhà (cùng số điện thoại đã xác thực)"),
    ]
    khang = body["acting_for"][1]
    assert khang["id"] == str(child.public_id) and khang["station"]["code"] == "TYT-10510"
    # The rule is symmetric: the child's account acts for Hùng.
    other = as_user(child.account.username).get("/api/v1/me").json()
    assert [(p["full_name"], p["relation"]) for p in other["acting_for"]] == [
        ("Nguyễn Minh Khang", "self"),
        ("Nguyễn Văn Hùng", "family"),
    ]
    # The list is the access rule's, not a restatement of it.
    from health_f0.facilities import access

    ruled = {str(p.public_id) for p in access.own_patients_for(persona("bn0000001"))}
    assert {p["id"] for p in body["acting_for"]} == ruled
    # Staff act on patients through the desk: nobody listed.
    staff = as_user("thanhdong.nv").get("/api/v1/me").json()
    assert staff["acting_for"] == [] and staff["patients"] == []


def test_password_change(as_user, persona, client_api):
    client = as_user("bn0000001")
    other_device = as_user("bn0000001")
    url = "/api/v1/auth/password"
    wrong = client.post(url, {"old_password": "nope", "new_password": "Mot-Mat-Khau-Moi-2026"}, format="json")
    assert wrong.status_code == 400 and "old_password" in wrong.json()["errors"]
    weak = client.post(url, {"old_password": "demo-2026", "new_password": "12345678"}, format="json")
    assert weak.status_code == 400 and "new_password" in weak.json()["errors"]
    assert client.post(url, {"old_password": "demo-2026"}, format="json").status_code == 400
    ok = client.post(
        url, {"old_password": "demo-2026", "new_password": "Mot-Mat-Khau-Moi-2026"}, format="json"
    )
    assert ok.status_code == 204
    user = persona("bn0000001")
    assert user.check_password("Mot-Mat-Khau-Moi-2026") and not user.must_change_password
    assert client.get("/api/v1/me").status_code == 200  # this device stays logged in
    assert other_device.get("/api/v1/me").status_code == 401  # others must log in again
    login = client_api.post(
        TOKEN, {"username": "bn0000001", "password": "Mot-Mat-Khau-Moi-2026"}, format="json"
    )
    assert login.status_code == 200
