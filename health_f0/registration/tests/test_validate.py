"""registration_validate: one error code per broken field rule (no database needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from health_f0.registration.services import RegistrationInput, ValidationErrors, registration_validate

TODAY = date(2026, 3, 15)


def _form(**overrides: object) -> RegistrationInput:
    data = RegistrationInput(
        full_name="trần  thị   bích",
        date_of_birth=date(1992, 5, 1),
        sex="female",
        phone="0912 345 678",
        province_code=31,
        ward_code=10510,
        test_type="rapid",
        positive_date=TODAY - timedelta(days=1),
        care="self_care",
        consent=True,
    )
    return replace(data, **overrides)  # type: ignore[arg-type]


def _codes(**overrides: object) -> dict[str, list[str]]:
    try:
        registration_validate(_form(**overrides), today=TODAY)
    except ValidationErrors as exc:
        return {name: [code for code, _ in errors] for name, errors in exc.errors.items()}
    return {}


def test_valid_form_is_normalised() -> None:
    data = registration_validate(_form(cccd="031 192 012345", bhyt="hs4010123456789"), today=TODAY)
    assert data.full_name == "Trần Thị Bích"
    assert data.phone == "+84912345678"
    assert data.cccd == "031192012345" and data.bhyt == "HS4010123456789"


@pytest.mark.parametrize(
    "phone", ["+84 912 345 678", "84912345678", "0912.345.678", "0912-345-678", "(+84) 912345678"]
)
def test_mobile_formats_accepted(phone: str) -> None:
    assert registration_validate(_form(phone=phone), today=TODAY).phone == "+84912345678"


@pytest.mark.parametrize(
    ("phone", "code"),
    [
        ("", "phone_required"),
        ("024 3825 1234", "phone_invalid"),  # Hà Nội landline
        ("0225 3842 000", "phone_invalid"),  # Hải Phòng landline
        ("0912 345 67", "phone_invalid"),
        ("0612 345 678", "phone_invalid"),
        ("+1 202 555 0143", "phone_invalid"),
        ("số điện thoại", "phone_invalid"),
    ],
)
def test_bad_phones(phone: str, code: str) -> None:
    assert _codes(phone=phone) == {"phone": [code]}


@pytest.mark.parametrize(
    ("cccd", "sex", "dob", "code"),
    [
        ("03119201234", "female", date(1992, 5, 1), "cccd_invalid"),  # 11 digits
        ("0311920123456", "female", date(1992, 5, 1), "cccd_invalid"),  # 13 digits
        ("03119201234a", "female", date(1992, 5, 1), "cccd_invalid"),
        ("031193012345", "female", date(1992, 5, 1), "cccd_mismatch"),  # year 93
        ("031392012345", "female", date(1992, 5, 1), "cccd_mismatch"),  # century 2000s
        ("031092012345", "female", date(1992, 5, 1), "cccd_mismatch"),  # 0 = male, 1900s
    ],
)
def test_cccd_rules(cccd: str, sex: str, dob: date, code: str) -> None:
    assert _codes(cccd=cccd, sex=sex, date_of_birth=dob) == {"cccd": [code]}


@pytest.mark.parametrize(
    ("cccd", "sex", "dob"),
    [
        ("031092012345", "male", date(1992, 5, 1)),
        ("031192012345", "female", date(1992, 5, 1)),
        ("031205012345", "male", date(2005, 5, 1)),
        ("031305012345", "female", date(2005, 5, 1)),
        ("031305012345", "other", date(2005, 5, 1)),  # sex "other": only the year is checked
    ],
)
def test_cccd_century_sex_year_accepted(cccd: str, sex: str, dob: date) -> None:
    assert _codes(cccd=cccd, sex=sex, date_of_birth=dob) == {}


@pytest.mark.parametrize("bhyt", ["0123456789", "HS4010123456789", "dn 1 79 0123456789"])
def test_bhyt_accepted(bhyt: str) -> None:
    assert _codes(bhyt=bhyt) == {}


@pytest.mark.parametrize(
    "bhyt", ["012345678", "01234567890", "HS401012345678", "HS6010123456789", "H14010123456789"]
)
def test_bhyt_refused(bhyt: str) -> None:
    assert _codes(bhyt=bhyt) == {"bhyt": ["bhyt_invalid"]}


def test_ward_must_belong_to_the_province() -> None:
    assert _codes(ward_code=4) == {"ward_code": ["ward_invalid"]}  # Phường Ba Đình, Hà Nội
    assert _codes(province_code=999) == {"province_code": ["province_invalid"]}


def test_future_and_old_dates() -> None:
    assert _codes(date_of_birth=TODAY + timedelta(days=1)) == {"date_of_birth": ["date_of_birth_future"]}
    assert _codes(date_of_birth=date(1900, 1, 1)) == {"date_of_birth": ["date_of_birth_invalid"]}
    assert _codes(positive_date=TODAY + timedelta(days=1)) == {"positive_date": ["positive_date_future"]}
    assert _codes(positive_date=TODAY - timedelta(days=31)) == {"positive_date": ["positive_date_too_old"]}


def test_consent_is_required() -> None:
    assert _codes(consent=False) == {"consent": ["consent_required"]}


def test_other_fields() -> None:
    assert _codes(full_name="A") == {"full_name": ["full_name_invalid"]}
    assert _codes(full_name="Nguyen Van 3") == {"full_name": ["full_name_invalid"]}
    assert _codes(sex="x") == {"sex": ["sex_invalid"]}
    assert _codes(relation="relative") == {"registrant_name": ["registrant_name_required"]}
    assert _codes(test_type="pcr?") == {"test_type": ["test_type_invalid"]}
    assert _codes(symptoms=["none", "fever"]) == {"symptoms": ["symptoms_conflict"]}
    assert _codes(symptoms=["zombie"]) == {"symptoms": ["symptom_invalid"]}
    assert _codes(conditions=["x"]) == {"conditions": ["condition_invalid"]}
    assert _codes(spo2=49) == {"spo2": ["spo2_out_of_range"]}
    assert _codes(breathing_rate=81) == {"breathing_rate": ["breathing_rate_out_of_range"]}
    assert _codes(vaccine_doses=-1) == {"vaccine_doses": ["vaccine_doses_invalid"]}
    assert _codes(sex="male", pregnant=True, cccd="") == {"pregnant": ["pregnancy_conflict"]}
    assert _codes(care="?") == {"care": ["care_invalid"]}


def test_all_errors_come_together_with_vietnamese_messages() -> None:
    with pytest.raises(ValidationErrors) as exc:
        registration_validate(_form(phone="123", consent=False, ward_code=4), today=TODAY)
    assert set(exc.value.errors) == {"phone", "consent", "ward_code"}
    assert all(
        message and not message.isascii() for errors in exc.value.errors.values() for _, message in errors
    )
