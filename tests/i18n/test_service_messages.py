"""Messages raised by the services and the API speak the request's language; codes and field names do not
change with it.

English is chosen the way a client chooses it: `Accept-Language: en` on the API, the language cookie on the
portal (see test_portal_language.py). Without either, the same requests answer in Vietnamese, exactly as
before. Text stored in the database (eligibility reasons...) stays Vietnamese whoever submitted it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.appointments.models import Holiday, Service
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from health_f0.registration.models import Registration
from tests.api.conftest import registration_body
from tests.api.test_appointments import at, desk_book, iso, make_account_patient, make_service
from tests.www.test_portal import form_data

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
VI = {"HTTP_ACCEPT_LANGUAGE": "vi"}
NORMAL = {"temperature": "36,8", "spo2": 98, "breathing_rate": 16, "symptoms": ["cough"]}


def _bearer(user: Any) -> APIClient:
    raw, _token = api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _field_errors(response: Any) -> dict[str, list[tuple[str, str]]]:
    body = response.json()
    return {field: [(e["code"], e["message"]) for e in items] for field, items in body["errors"].items()}


def _codes(response: Any) -> dict[str, list[str]]:
    return {field: [code for code, _message in items] for field, items in _field_errors(response).items()}


def _message(response: Any, field: str) -> str:
    return _field_errors(response)[field][0][1]


@pytest.fixture
def patient_api(demo: Any) -> APIClient:
    reset_caches()
    return _bearer(Patient.objects.get(account__username="bn0000001").account)


# --- Registration: service validation ----------------------------------------------------------------

BAD_REGISTRATION = {"cccd": "12345", "full_name": "Mai 2", "symptoms": ["none", "cough"], "phone": "0123"}


def test_bad_registration_input_in_english_keeps_codes_and_fields(demo: Any) -> None:
    client = APIClient()
    english = client.post("/api/v1/registrations", registration_body(**BAD_REGISTRATION), format="json", **EN)
    vietnamese = client.post(
        "/api/v1/registrations", registration_body(**BAD_REGISTRATION), format="json", **VI
    )
    assert english.status_code == vietnamese.status_code == 400
    assert english.json()["code"] == vietnamese.json()["code"] == "validation_error"
    assert _codes(english) == _codes(vietnamese)
    assert _codes(english)["cccd"] == ["cccd_invalid"]
    assert _codes(english)["full_name"] == ["full_name_invalid"]

    assert english.json()["detail"] == "Some details are not valid, please check the marked fields."
    assert _message(english, "cccd") == "The citizen ID (CCCD) number must have exactly 12 digits."
    assert _message(english, "full_name") == "The full name cannot contain digits."
    assert _message(english, "symptoms") == "When “No symptoms” is chosen, no other symptom can be chosen."
    assert _message(english, "phone").startswith("Invalid mobile number")

    assert vietnamese.json()["detail"] == "Thông tin chưa hợp lệ, vui lòng kiểm tra các mục được đánh dấu."
    assert _message(vietnamese, "cccd") == "Số CCCD phải gồm đúng 12 chữ số."
    assert _message(vietnamese, "full_name") == "Họ và tên không được chứa chữ số."
    assert (
        _message(vietnamese, "symptoms") == "Đã chọn “Không có triệu chứng” thì không chọn triệu chứng khác."
    )


def test_default_language_is_still_vietnamese(demo: Any) -> None:
    response = APIClient().post("/api/v1/registrations", registration_body(cccd="12345"), format="json")
    assert _message(response, "cccd") == "Số CCCD phải gồm đúng 12 chữ số."


@pytest.mark.parametrize(
    ("lang", "expected", "absent"),
    [
        (
            "en",
            "The citizen ID (CCCD) number must have exactly 12 digits.",
            "Số CCCD phải gồm đúng 12 chữ số.",
        ),
        (
            "vi",
            "Số CCCD phải gồm đúng 12 chữ số.",
            "The citizen ID (CCCD) number must have exactly 12 digits.",
        ),
    ],
)
def test_portal_registration_errors_follow_the_language_cookie(
    demo: Any, client: Client, lang: str, expected: str, absent: str
) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    response = client.post("/dang-ky", form_data(cccd="12345", otp="000000"))
    page = response.content.decode()
    assert response.status_code == 400
    assert expected in page and absent not in page
    assert 'id="id_cccd_error"' in page


def test_unserved_province_and_ward_messages_in_english(demo: Any) -> None:
    response = APIClient().post("/api/v1/registrations", registration_body(ward_code=1), format="json", **EN)
    assert _codes(response)["ward_code"] == ["ward_invalid"]
    assert _message(response, "ward_code") == "The ward/commune is not in the chosen province/city."


# --- OTP ---------------------------------------------------------------------------------------------


def _request_otp(client: APIClient, capture: Any, **headers: Any) -> Any:
    with capture(execute=True):
        return client.post("/api/v1/otp", {"phone": "0977000111"}, format="json", **headers)


def test_bad_otp_in_english_and_vietnamese(demo: Any, django_capture_on_commit_callbacks: Any) -> None:
    client = APIClient()
    assert _request_otp(client, django_capture_on_commit_callbacks).status_code == 202
    english = client.post("/api/v1/registrations", registration_body(otp="999999x"), format="json", **EN)
    assert english.status_code == 400
    assert _codes(english) == {"otp": ["otp_invalid"]}
    assert _message(english, "otp") == "Wrong OTP code. You have 4 tries left."

    vietnamese = client.post("/api/v1/registrations", registration_body(otp="999999x"), format="json")
    assert _codes(vietnamese) == {"otp": ["otp_invalid"]}
    assert _message(vietnamese, "otp") == "Mã OTP không đúng. Bạn còn 3 lần thử."


def test_otp_resend_limit_in_english(demo: Any, django_capture_on_commit_callbacks: Any) -> None:
    client = APIClient()
    assert _request_otp(client, django_capture_on_commit_callbacks).status_code == 202
    again = _request_otp(client, django_capture_on_commit_callbacks, **EN)
    assert again.status_code == 429
    body = again.json()
    assert body["code"] == "otp_resend_too_soon" and body["retry_after"] > 0
    assert body["detail"].startswith("Please wait ") and body["detail"].endswith(
        " before getting a new code."
    )


def test_portal_wrong_otp_in_english(
    demo: Any, client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post("/dang-ky", form_data(action="otp")).status_code == 200
    response = client.post("/dang-ky", form_data(otp="999999"))
    page = response.content.decode()
    assert response.status_code == 400
    assert "Wrong OTP code. You have 4 tries left." in page
    assert "Mã OTP không đúng" not in page


def test_stored_eligibility_reasons_stay_vietnamese(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = APIClient()
    _request_otp(client, django_capture_on_commit_callbacks)
    code = sms.last_otp("+84977000111")
    response = client.post("/api/v1/registrations", registration_body(otp=code, spo2=95), format="json", **EN)
    assert response.status_code == 201, response.json()
    registration = Registration.objects.get(public_id=response.json()["id"])
    assert registration.eligibility_reasons == ["SpO2 95% trong khoảng 94–96% (mức độ trung bình)"]


# --- Declarations ------------------------------------------------------------------------------------


def test_out_of_range_spo2_declaration(patient_api: APIClient) -> None:
    answers = {"answers": {**NORMAL, "spo2": 150}}
    english = patient_api.post("/api/v1/declarations", answers, format="json", **EN)
    vietnamese = patient_api.post("/api/v1/declarations", answers, format="json", **VI)
    assert english.status_code == vietnamese.status_code == 400
    assert _codes(english) == _codes(vietnamese) == {"spo2": ["out_of_range"]}
    assert _message(english, "spo2") == (
        "SpO2 (blood oxygen): 150 % is not plausible (from 50 to 100 %). Please measure again."
    )
    assert _message(vietnamese, "spo2") == (
        "Chỉ số SpO2 (nồng độ oxy trong máu): 150 % không hợp lý (từ 50 đến 100 %). Vui lòng đo lại."
    )


def test_english_numbers_use_a_decimal_point(patient_api: APIClient) -> None:
    answers = {"answers": {**NORMAL, "temperature": "45,5"}}
    english = patient_api.post("/api/v1/declarations", answers, format="json", **EN)
    assert _message(english, "temperature") == (
        "Body temperature: 45.5 °C is not plausible (from 34.0 to 43.0 °C). Please measure again."
    )
    vietnamese = patient_api.post("/api/v1/declarations", answers, format="json")
    assert "45,5 °C không hợp lý (từ 34,0 đến 43,0 °C)" in _message(vietnamese, "temperature")


def test_portal_declaration_error_in_english(demo: Any) -> None:
    reset_caches()
    hung = Patient.objects.select_related("account").get(account__username="bn0000001")
    client = Client()
    client.force_login(hung.account)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    data = {"patient": str(hung.public_id), "idempotency_key": "", "temperature": "", "spo2": "150"}
    response = client.post("/khai-bao", data)
    page = response.content.decode()
    assert "SpO2 (blood oxygen): 150 % is not plausible (from 50 to 100 %). Please measure again." in page
    assert "không hợp lý" not in page


# --- Appointments ------------------------------------------------------------------------------------


@pytest.fixture
def clinic(appointments_demo: Any) -> Service:
    """A service open every day 05:00-06:40 (see tests/api/test_appointments.py), with no holidays."""
    Holiday.objects.all().delete()
    return make_service(Facility.objects.get(code="PK-NOI1"))


def test_full_slot_is_409_in_english(clinic: Service, persona: Any) -> None:
    day = timezone.localdate() + timedelta(days=3)
    for i in range(2):
        desk_book(persona, make_account_patient(f"Người {i}", f"+8498100000{i}"), clinic, at(day, 5))
    patient_client = _bearer(persona("bn0000001"))
    body = {"service": str(clinic.public_id), "slot": iso(at(day, 5))}
    english = patient_client.post("/api/v1/appointments", body, format="json", **EN)
    assert english.status_code == 409
    assert english.json()["code"] == "slot_full"
    assert english.json()["detail"] == "This time slot is full, please choose another time."
    assert english.json()["errors"] == {
        "slot": [{"code": "slot_full", "message": "This time slot is full, please choose another time."}]
    }
    vietnamese = patient_client.post("/api/v1/appointments", body, format="json")
    assert vietnamese.status_code == 409 and vietnamese.json()["code"] == "slot_full"
    assert vietnamese.json()["detail"] == "Khung giờ này đã đủ người, vui lòng chọn giờ khác."


def test_slot_list_message_in_english(clinic: Service) -> None:
    past = (timezone.localdate() - timedelta(days=1)).isoformat()
    query = {"service": str(clinic.public_id), "date": past}
    english = APIClient().get("/api/v1/slots", query, **EN)
    assert english.status_code == 200
    assert english.json()["message"] == "This date has passed. Please choose another date."
    assert APIClient().get("/api/v1/slots", query).json()["message"] == (
        "Ngày này đã qua. Vui lòng chọn một ngày khác."
    )


# --- HIS link ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "field", "code", "english", "vietnamese"),
    [
        (
            {"identifier_type": "his_code", "identifier": "x"},
            "identifier",
            "his_code_invalid",
            "A hospital patient ID has 3–32 characters: letters, digits or . _ / -.",
            "Mã người bệnh tại bệnh viện gồm 3–32 ký tự chữ, số hoặc . _ / -.",
        ),
        (
            {"identifier_type": "cccd", "identifier": "12345"},
            "identifier",
            "cccd_invalid",
            "The citizen ID (CCCD) number must have exactly 12 digits.",
            "Số CCCD phải gồm đúng 12 chữ số.",
        ),
    ],
)
def test_bad_his_link_identifier(
    patient_api: APIClient, payload: dict[str, str], field: str, code: str, english: str, vietnamese: str
) -> None:
    en = patient_api.post("/api/v1/his-links", payload, format="json", **EN)
    vi = patient_api.post("/api/v1/his-links", payload, format="json", **VI)
    assert en.status_code == vi.status_code == 400
    assert en.json()["code"] == vi.json()["code"] == code
    assert _codes(en) == _codes(vi) == {field: [code]}
    assert en.json()["detail"] == _message(en, field) == english
    assert vi.json()["detail"] == _message(vi, field) == vietnamese


# --- The API's own messages ----------------------------------------------------------------------------


def test_api_own_messages_in_english(demo: Any) -> None:
    client = APIClient()
    anonymous = client.get("/api/v1/declarations", **EN)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    assert (
        anonymous.json()["detail"] == "Please log in (send the header Authorization: Bearer <access token>)."
    )

    client.credentials(HTTP_AUTHORIZATION="Bearer nonsense")
    bad_token = client.get("/api/v1/declarations", **EN)
    assert bad_token.status_code == 401
    assert bad_token.json()["detail"] == "The access token is invalid or has expired."
    assert client.get("/api/v1/declarations").json()["detail"] == "Mã truy cập không hợp lệ hoặc đã hết hạn."

    province = APIClient().get("/api/v1/provinces/999/wards", **EN)
    assert province.status_code == 404 and province.json()["code"] == "province_not_found"
    assert province.json()["detail"] == "Province/city not found."


def test_drf_field_errors_in_english_and_vietnamese(demo: Any) -> None:
    body = registration_body(date_of_birth="01/05/1992")
    english = APIClient().post("/api/v1/registrations", body, format="json", **EN)
    vietnamese = APIClient().post("/api/v1/registrations", body, format="json")
    assert _codes(english) == _codes(vietnamese) == {"date_of_birth": ["invalid"]}
    assert english.json()["detail"] == "Some details are not valid."
    assert _message(english, "date_of_birth").startswith("Date has wrong format.")
    assert vietnamese.json()["detail"] == "Thông tin chưa hợp lệ."
    # DRF's own Vietnamese text where it has one, ours otherwise: Vietnamese either way.
    assert _message(vietnamese, "date_of_birth").startswith("Ngày") and "YYYY-MM-DD" in _message(
        vietnamese, "date_of_birth"
    )


def test_staff_only_permission_message_in_english(demo: Any, persona: Any) -> None:
    patient = _bearer(persona("bn0000001"))
    response = patient.get("/api/v1/alerts", **EN)
    assert response.status_code == 403
    assert response.json()["detail"] == "This function is for health staff only."


def test_service_messages_with_placeholders(demo: Any) -> None:
    """Called directly (a background job, the desk): the active language decides."""
    from django.utils import translation

    from health_f0.core.exceptions import ValidationErrors
    from health_f0.registration.services import RegistrationInput, registration_validate

    def errors() -> dict[str, list[tuple[str, str]]]:
        data = RegistrationInput(
            full_name="Nguyễn Thị Mai",
            date_of_birth=timezone.localdate().replace(year=1990),
            sex="female",
            phone="0977000111",
            province_code=31,
            ward_code=10532,
            test_type="rapid",
            positive_date=timezone.localdate(),
            care="self_care",
            consent=True,
            symptoms=["cough", "nonsense"],
            vaccine_doses=9,
        )
        with pytest.raises(ValidationErrors) as caught:
            registration_validate(data)
        return caught.value.errors

    with translation.override("en"):
        english = errors()
    with translation.override(settings.LANGUAGE_CODE):
        vietnamese = errors()
    assert english["symptoms"] == [("symptom_invalid", "Invalid symptoms: nonsense.")]
    assert english["vaccine_doses"][0][1].startswith("The number of vaccine doses must be from 0 to ")
    assert vietnamese["symptoms"] == [("symptom_invalid", "Triệu chứng không hợp lệ: nonsense.")]
    assert vietnamese["vaccine_doses"][0][1].startswith("Số mũi vắc xin từ 0 đến ")
