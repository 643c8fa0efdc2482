"""Public endpoints: form description, addresses, OTP and self-registration through the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from health_f0.registration.models import Registration
from tests.api.conftest import registration_body

pytestmark = pytest.mark.django_db


def _error_shape(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) >= {"detail", "code"}, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_registration_form_lists_fields_options_and_policy(client_api):
    response = client_api.get("/api/v1/registration-form")
    assert response.status_code == 200
    body = response.json()
    fields = {f["name"]: f for f in body["fields"]}
    assert fields["full_name"]["required"] is True and fields["full_name"]["max_length"] == 200
    assert fields["spo2"]["nullable"] is True and fields["spo2"]["max_value"] == 100
    assert fields["symptoms"]["type"] == "multiple_choice"
    assert fields["date_of_birth"]["type"] == "date"
    assert {o["code"] for o in body["options"]["care"]} == {"self_care", "caregiver", "none"}
    assert body["privacy_policy_version"]
    assert "otp" in fields and "consent" in fields


def test_provinces_and_wards(client_api):
    provinces = client_api.get("/api/v1/provinces").json()
    assert len(provinces) == 34
    hai_phong = next(p for p in provinces if p["code"] == 31)
    assert set(hai_phong) == {"code", "name", "served"} and hai_phong["name"] == "Thành phố Hải Phòng"
    wards = client_api.get("/api/v1/provinces/31/wards")
    assert wards.status_code == 200
    assert 10510 in {w["code"] for w in wards.json()}


@pytest.mark.parametrize("code", ["999", "abc", "0", "31x", "١٢"])
def test_unknown_province_is_404(client_api, code):
    response = client_api.get(f"/api/v1/provinces/{code}/wards")
    assert response.status_code == 404
    assert _error_shape(response)["code"] == "province_not_found"


def test_public_endpoint_ignores_a_bad_bearer_token(client_api):
    client_api.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    assert client_api.get("/api/v1/provinces").status_code == 200


def test_otp_request_sends_sms_then_limits_resend(client_api, sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_api.post(
            "/api/v1/otp", {"phone": "0977 000 111", "purpose": "registration"}, format="json"
        )
    assert response.status_code == 202, response.json()
    assert response.json() == {"expires_in": 300, "resend_after": 60}
    assert len(sms.last_otp("+84977000111")) == 6
    again = client_api.post("/api/v1/otp", {"phone": "0977000111"}, format="json")
    assert again.status_code == 429
    body = _error_shape(again)
    assert body["code"] == "otp_resend_too_soon"
    assert int(again["Retry-After"]) == body["retry_after"] > 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"phone": "12345"}, "phone"),
        ({"phone": "0977000111", "purpose": "spam"}, "purpose"),
        ({}, "phone"),
        ({"phone": ["0977000111"]}, "phone"),
    ],
)
def test_otp_bad_input_is_400(client_api, payload, field):
    response = client_api.post("/api/v1/otp", payload, format="json")
    assert response.status_code == 400
    body = _error_shape(response)
    assert field in body["errors"]
    assert not body["errors"][field][0]["message"].isascii()  # Vietnamese


def _otp(client_api: Any, sms: Any, capture: Any, phone: str = "0977000111") -> str:
    with capture(execute=True):
        assert client_api.post("/api/v1/otp", {"phone": phone}, format="json").status_code == 202
    return sms.last_otp("+84" + phone[1:])


def test_register_through_the_api(demo, client_api, sms, django_capture_on_commit_callbacks):
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    response = client_api.post("/api/v1/registrations", registration_body(otp=code), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "submitted"
    assert body["station"]["name"].startswith("Trạm Y tế") or body["station"]["name"]
    registration = Registration.objects.get(public_id=body["id"])
    assert registration.channel == "app"
    assert registration.facility.code == "TYT-10532"
    assert body["station"]["id"] == str(registration.facility.public_id)
    assert registration.full_name == "Nguyễn Thị Mai"


def test_wrong_otp_is_400_on_otp(demo, client_api, sms, django_capture_on_commit_callbacks):
    _otp(client_api, sms, django_capture_on_commit_callbacks)
    response = client_api.post("/api/v1/registrations", registration_body(otp="999999x"), format="json")
    assert response.status_code == 400
    body = _error_shape(response)
    assert body["errors"]["otp"][0]["code"] == "otp_invalid"


def test_duplicate_registration_is_409(demo, client_api, sms, django_capture_on_commit_callbacks, settings):
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    assert (
        client_api.post("/api/v1/registrations", registration_body(otp=code), format="json").status_code
        == 201
    )
    settings.OTP_RESEND_SECONDS = 0
    from django.core.cache import cache

    cache.clear()
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    response = client_api.post("/api/v1/registrations", registration_body(otp=code), format="json")
    assert response.status_code == 409
    assert _error_shape(response)["code"] == "duplicate_registration"


def test_service_validation_errors_are_field_errors(demo, client_api):
    body = registration_body(
        full_name="A1",
        date_of_birth="2999-01-01",
        ward_code=10510,
        province_code=99,
        consent=False,
        cccd="12",
    )
    response = client_api.post("/api/v1/registrations", body, format="json")
    assert response.status_code == 400
    errors = _error_shape(response)["errors"]
    assert {"full_name", "date_of_birth", "province_code", "consent", "cccd"} <= set(errors)


HUGE = "x" * 100_000


@pytest.mark.parametrize(
    "overrides",
    [
        {"full_name": 12},
        {"full_name": None},
        {"full_name": HUGE},
        {"street": HUGE},
        {"date_of_birth": "01/05/1992"},
        {"date_of_birth": "1992-02-30"},
        {"date_of_birth": "0001-01-01"},
        {"positive_date": "2020-13-01"},
        {"positive_date": 20240101},
        {"sex": "robot"},
        {"care": ["self_care"]},
        {"symptoms": ["fever", "zombie"]},
        {"symptoms": "fever"},
        {"symptoms": ["none", "fever"]},
        {"conditions": [{"code": "diabetes"}]},
        {"spo2": "ninety"},
        {"spo2": 10**40},
        {"breathing_rate": -3},
        {"vaccine_doses": 1.5},
        {"province_code": "31; DROP TABLE"},
        {"ward_code": 10**30},
        {"ward_code": 99999},
        {"consent": "maybe"},
        {"otp": {"a": 1}},
        {"relation": "relative", "registrant_name": ""},
        {"phone": "+1 202 555 0100"},
        {"full_name": "Nguyễn\x00Văn"},
        {"full_name": "\ud800abc"},
        {"pregnant": True, "sex": "male"},
    ],
)
def test_bad_registration_input_is_400_never_500(demo, client_api, overrides):
    # json.dumps escapes lone surrogates, which the test client's own encoder would refuse.
    payload = json.dumps(registration_body(**overrides))
    response = client_api.generic("POST", "/api/v1/registrations", payload, content_type="application/json")
    assert response.status_code == 400, response.content[:500]
    body = _error_shape(response)
    for items in body.get("errors", {}).values():
        for item in items:
            assert not item["message"].isascii(), item  # every message is Vietnamese


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2, 3]", "application/json"),
        ('"just a string"', "application/json"),
        ("null", "application/json"),
        ("full_name=x", "text/plain"),
        (b"\xff\xfe\x00garbage", "application/json"),
    ],
)
def test_non_json_bodies_are_4xx(demo, client_api, data, content_type):
    for url in ("/api/v1/registrations", "/api/v1/otp", "/api/v1/auth/token"):
        response = client_api.generic("POST", url, data, content_type=content_type)
        assert 400 <= response.status_code < 500, (url, response.status_code, response.content[:300])
        _error_shape(response)


def test_missing_fields_are_listed(demo, client_api):
    response = client_api.post("/api/v1/registrations", {}, format="json")
    assert response.status_code == 400
    errors = _error_shape(response)["errors"]
    assert {"full_name", "date_of_birth", "phone", "otp", "consent"} <= set(errors)
    assert errors["full_name"][0]["code"] == "required"
    assert not errors["full_name"][0]["message"].isascii()


def test_get_on_post_only_endpoint_is_405_json(client_api):
    response = client_api.get("/api/v1/otp")
    assert response.status_code == 405
    assert _error_shape(response)["code"] == "method_not_allowed"


def test_garbage_client_ip_header_is_not_a_500(client_api, sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_api.post(
            "/api/v1/otp", {"phone": "0977000222"}, format="json", HTTP_X_REAL_IP="not-an-ip" * 10
        )
    assert response.status_code == 202
