"""POST /api/v1/otp (signup, password_reset), POST /api/v1/accounts, POST /api/v1/auth/password-reset."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from health_f0.api.models import ApiToken, hash_token
from health_f0.core.models import AuditLog
from health_f0.patients.models import OtpChallenge, Patient
from health_f0.privacy.selectors import policy_current

pytestmark = pytest.mark.django_db

OTP = "/api/v1/otp"
ACCOUNTS = "/api/v1/accounts"
RESET = "/api/v1/auth/password-reset"
PHONE = "0986111222"
E164 = "+84986111222"
PASSWORD = "Hoa-sen-2026"


def _later() -> None:
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    for challenge in OtpChallenge.objects.all():
        cache.delete(f"otp-resend:{challenge.purpose}:{challenge.phone}")


def _body(**overrides: Any) -> dict[str, Any]:
    body = {
        "phone": PHONE,
        "full_name": "Trần Thị Hoa",
        "date_of_birth": "1990-05-17",
        "sex": "female",
        "password": PASSWORD,
        "consent": True,
        "policy_version": policy_current().version,
    }
    body.update(overrides)
    return body


def _code(client: Any, sms: Any, capture: Any, purpose: str, phone: str = PHONE) -> str:
    with capture(execute=True):
        response = client.post(OTP, {"phone": phone, "purpose": purpose}, format="json")
    assert response.status_code == 202, response.json()
    return sms.last_otp(E164)


def _sign_up(client: Any, sms: Any, capture: Any, **overrides: Any) -> Any:
    code = _code(client, sms, capture, "signup")
    with capture(execute=True):
        return client.post(ACCOUNTS, _body(otp=code, **overrides), format="json")


def test_sign_up_answers_201_with_a_working_token(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    response = _sign_up(client_api, sms, django_capture_on_commit_callbacks)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"token", "expires_at", "username", "patient_id", "bookings_claimed"}
    assert ApiToken.objects.filter(key_hash=hash_token(body["token"])).exists()
    assert not ApiToken.objects.filter(key_hash=body["token"]).exists()
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = client_api.get("/api/v1/me").json()
    assert me["username"] == body["username"] and me["kind"] == "patient"
    assert [p["full_name"] for p in me["acting_for"]] == ["Trần Thị Hoa"]
    assert client_api.get("/api/v1/appointments").status_code == 200
    assert AuditLog.objects.filter(verb="signup").count() == 1


def test_bad_input_gets_the_common_error_body(demo: Any, client_api: Any) -> None:
    response = client_api.post(
        ACCOUNTS,
        _body(otp="123456", password="123", cccd="12", consent=False, date_of_birth="2999-01-01"),
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) >= {"detail", "code", "errors"} and body["code"] == "validation_error"
    assert {"password", "cccd", "consent", "date_of_birth"} <= set(body["errors"])
    assert client_api.post(ACCOUNTS, {"phone": ["x"]}, format="json").json()["code"] == "validation_error"


def test_a_wrong_code_is_400_and_costs_a_try(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _code(client_api, sms, django_capture_on_commit_callbacks, "signup")
    response = client_api.post(ACCOUNTS, _body(otp="000000"), format="json")
    assert response.status_code == 400 and response.json()["code"] == "otp_invalid"
    assert OtpChallenge.objects.get().attempts == 1
    assert not Patient.objects.filter(phone=E164).exists()


def test_the_same_person_twice_is_409(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert _sign_up(client_api, sms, django_capture_on_commit_callbacks).status_code == 201
    _later()
    response = _sign_up(client_api, sms, django_capture_on_commit_callbacks)
    assert response.status_code == 409 and response.json()["code"] == "account_exists"


def test_reset_otp_answers_alike_with_or_without_an_account(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        nobody = client_api.post(OTP, {"phone": "0986999000", "purpose": "password_reset"}, format="json")
        again = client_api.post(OTP, {"phone": "0986999000", "purpose": "password_reset"}, format="json")
    assert _sign_up(client_api, sms, django_capture_on_commit_callbacks).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):
        somebody = client_api.post(OTP, {"phone": PHONE, "purpose": "password_reset"}, format="json")
        again_somebody = client_api.post(OTP, {"phone": PHONE, "purpose": "password_reset"}, format="json")
    assert nobody.status_code == somebody.status_code == 202 and nobody.json() == somebody.json()
    assert again.status_code == again_somebody.status_code == 429
    assert not [m for m in sms.messages() if m["to"] == "+84986999000"]


def test_password_reset_sets_the_password_and_revokes_every_token(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    token = _sign_up(client_api, sms, django_capture_on_commit_callbacks).json()["token"]
    _later()
    code = _code(client_api, sms, django_capture_on_commit_callbacks, "password_reset")
    weak = client_api.post(RESET, {"phone": PHONE, "otp": code, "new_password": "12345678"}, format="json")
    assert weak.status_code == 400 and "new_password" in weak.json()["errors"]
    response = client_api.post(
        RESET, {"phone": PHONE, "otp": code, "new_password": "Moi-mat-khau-9"}, format="json"
    )
    assert response.status_code == 200, response.json()
    username = response.json()["username"]
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client_api.get("/api/v1/me").status_code == 401
    client_api.credentials()
    login = client_api.post(
        "/api/v1/auth/token", {"username": username, "password": "Moi-mat-khau-9"}, format="json"
    )
    assert login.status_code == 200
    assert AuditLog.objects.filter(verb="password_reset").count() == 1
    spent = client_api.post(
        RESET, {"phone": PHONE, "otp": code, "new_password": "Khac-nua-10"}, format="json"
    )
    assert spent.status_code == 400


def test_password_reset_on_a_family_number_lists_the_accounts(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    assert _sign_up(client_api, sms, django_capture_on_commit_callbacks).status_code == 201
    _later()
    son = _sign_up(
        client_api,
        sms,
        django_capture_on_commit_callbacks,
        full_name="Nguyễn Minh An",
        date_of_birth="2015-01-02",
        sex="male",
        password="Cau-be-An-2015",
    )
    assert son.status_code == 201
    _later()
    code = _code(client_api, sms, django_capture_on_commit_callbacks, "password_reset")
    body = {"phone": PHONE, "otp": code, "new_password": "Moi-mat-khau-9"}
    response = client_api.post(RESET, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "account_choice_required"
    assert son.json()["username"] in {a["username"] for a in response.json()["accounts"]}
    chosen = client_api.post(RESET, {**body, "username": son.json()["username"]}, format="json")
    assert chosen.status_code == 200 and chosen.json()["username"] == son.json()["username"]


def test_reset_is_throttled_per_address(demo: Any, client_api: Any) -> None:
    statuses = [
        client_api.post(
            RESET, {"phone": PHONE, "otp": "000000", "new_password": "x"}, format="json"
        ).status_code
        for _ in range(22)
    ]
    assert statuses[-1] == 429 and 429 not in statuses[:20]


def test_an_account_adds_a_child_through_the_api(
    demo: Any, client_api: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    token = _sign_up(client_api, sms, django_capture_on_commit_callbacks).json()["token"]
    _later()
    code = _code(client_api, sms, django_capture_on_commit_callbacks, "signup")
    client_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    child = {
        "full_name": "Nguyễn Minh An",
        "date_of_birth": "2021-03-02",
        "sex": "male",
        "consent": True,
        "policy_version": policy_current().version,
    }
    assert client_api.post("/api/v1/me/family", {**child, "otp": "000000"}, format="json").status_code == 400
    response = client_api.post("/api/v1/me/family", {**child, "otp": code}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["relation"] == "family" and response.json()["full_name"] == "Nguyễn Minh An"
    me = client_api.get("/api/v1/me").json()
    assert [p["full_name"] for p in me["acting_for"]] == ["Trần Thị Hoa", "Nguyễn Minh An"]
    member = Patient.objects.get(full_name="Nguyễn Minh An")
    assert member.account is not None and not member.account.has_usable_password()
    # The code served once; a staff token may not add family here; no token: 401.
    assert client_api.post("/api/v1/me/family", {**child, "otp": code}, format="json").status_code == 400
    client_api.credentials()
    assert client_api.post("/api/v1/me/family", {**child, "otp": code}, format="json").status_code == 401


def test_staff_may_not_add_family_through_the_api(as_user: Any) -> None:
    response = as_user("thanhdong.nv").post("/api/v1/me/family", {"otp": "123456"}, format="json")
    assert response.status_code == 403


def test_a_resident_signs_in_with_the_phone_number(
    demo: Any, client_api: Any, client: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The number proved at sign-up works as the username, on the API and the portal, written any usual way;
    two family accounts on the number are told apart by their passwords; one password shared by two of them
    signs nobody in."""
    assert _sign_up(client_api, sms, django_capture_on_commit_callbacks).status_code == 201
    token = client_api.post(
        "/api/v1/auth/token", {"username": "0986 111 222", "password": PASSWORD}, format="json"
    )
    assert token.status_code == 200, token.json()
    response = client.post("/dang-nhap", {"username": "+84 986 111 222", "password": PASSWORD})
    assert response.status_code == 302
    client.post("/dang-xuat")
    assert client.post("/dang-nhap", {"username": PHONE, "password": "sai-mat-khau"}).status_code == 400
    _later()
    son = _sign_up(
        client_api,
        sms,
        django_capture_on_commit_callbacks,
        full_name="Nguyễn Minh An",
        date_of_birth="2015-01-02",
        sex="male",
        password="Cau-be-An-2015",
    ).json()
    as_son = client_api.post(
        "/api/v1/auth/token", {"username": PHONE, "password": "Cau-be-An-2015"}, format="json"
    )
    assert as_son.status_code == 200
    assert ApiToken.objects.get(key_hash=hash_token(as_son.json()["token"])).user.username == son["username"]
    # The same password on both accounts: the number alone no longer says whose record to open.
    from health_f0.core.models import User

    user = User.objects.get(username=son["username"])
    user.set_password(PASSWORD)
    user.save()
    shared = client_api.post("/api/v1/auth/token", {"username": PHONE, "password": PASSWORD}, format="json")
    assert shared.status_code in {400, 401}
    by_name = client_api.post(
        "/api/v1/auth/token", {"username": son["username"], "password": PASSWORD}, format="json"
    )
    assert by_name.status_code == 200


def test_a_staff_member_never_signs_in_by_phone(demo: Any, client_api: Any) -> None:
    from health_f0.core.models import User
    from health_f0.patients.models import Patient

    staff = User.objects.get(username="datlich")
    staff.set_password("Nhan-vien-2026")
    staff.save()
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    Patient.objects.filter(pk=patient.pk).update(account=staff, verified_phone=E164)
    response = client_api.post(
        "/api/v1/auth/token", {"username": PHONE, "password": "Nhan-vien-2026"}, format="json"
    )
    assert response.status_code in {400, 401}
