"""Duplicates, accept/reject/transfer with roles, and the SMS each decision sends."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import Conflict, DomainError, InvalidTransition, PermissionDenied
from health_f0.core.text import SMS_TWO_SEGMENTS, sms_text, unaccent
from health_f0.facilities.models import Facility, FacilityKind, StationWard
from health_f0.facilities.services import facility_save
from health_f0.patients import address
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    facility_for_ward,
    registration_accept,
    registration_reject,
    registration_transfer,
    registration_validate,
)

pytestmark = pytest.mark.django_db


def _form(**overrides: Any) -> RegistrationInput:
    values: dict[str, Any] = {
        "full_name": "Nguyễn Thị Mai",
        "date_of_birth": date(1992, 5, 1),
        "sex": "female",
        "phone": "0977 000 333",
        "province_code": 31,
        "ward_code": 10510,
        "test_type": "rapid",
        "positive_date": timezone.localdate() - timedelta(days=1),
        "care": "self_care",
        "consent": True,
        "spo2": 98,
        "breathing_rate": 16,
        "vaccine_doses": 2,
    }
    values.update(overrides)
    return RegistrationInput(**values)


def submit(**overrides: Any) -> Registration:
    """The inside of registration_submit once the OTP is checked (OTP rules are tested in health_f0/patients/tests)."""
    data = registration_validate(_form(**overrides))
    facility = facility_for_ward(province_code=data.province_code, ward_code=data.ward_code)
    return _create(data, channel=Channel.WEB, facility=facility, actor=None)


@pytest.mark.parametrize(
    "same_person", ["nguyễn thị mai", "NGUYEN THI MAI", "  Nguyen   Thi  Mai ", "Nguyễn Thị Mai"]
)
def test_same_person_cannot_hold_two_open_registrations(demo: Any, same_person: str) -> None:
    submit()
    # The name key ignores case, accents and spacing: people type names without diacritics on cheap phones.
    with pytest.raises(Conflict) as exc:
        submit(full_name=same_person, phone="+84 977 000 333")
    assert exc.value.status_code == 409 and exc.value.code == "duplicate_registration"


def test_different_dob_or_name_is_another_person(demo: Any) -> None:
    submit()
    submit(date_of_birth=date(1992, 5, 2))
    submit(full_name="Nguyễn Thị Mây")
    assert Registration.objects.filter(phone="+84977000333").count() == 3


def test_after_rejection_the_person_may_register_again(demo: Any, persona: Any) -> None:
    first = submit()
    registration_reject(
        registration=first, actor=persona("thanhdong.nv"), reason="Sai địa chỉ, vui lòng đăng ký lại"
    )
    again = submit()
    assert again.pk != first.pk and again.status == "submitted"
    with pytest.raises(Conflict):
        submit()


def test_accepted_registration_still_blocks_a_duplicate(demo: Any, persona: Any) -> None:
    registration_accept(registration=submit(), actor=persona("thanhdong.nv"))
    with pytest.raises(Conflict):
        submit()


@pytest.mark.parametrize("username", ["syt.lanhdao", "ttyt.lanhdao", "lethanhnghi.nv", "datlich", "tiepdon"])
def test_who_may_not_accept(demo: Any, persona: Any, username: str) -> None:
    registration = submit()
    with pytest.raises(PermissionDenied):
        registration_accept(registration=registration, actor=persona(username))
    with pytest.raises(PermissionDenied):
        registration_reject(registration=registration, actor=persona(username), reason="Không đủ điều kiện")
    registration.refresh_from_db()
    assert registration.status == "submitted"


@pytest.mark.parametrize("username", ["thanhdong.nv", "thanhdong.truong", "admin"])
def test_who_may_accept(demo: Any, persona: Any, username: str) -> None:
    assert registration_accept(registration=submit(), actor=persona(username)).status == "accepted"


def test_accepting_twice_or_rejecting_after_is_an_invalid_transition(demo: Any, persona: Any) -> None:
    registration = submit()
    nurse = persona("thanhdong.nv")
    registration_accept(registration=registration, actor=nurse)
    with pytest.raises(InvalidTransition):
        registration_accept(registration=registration, actor=nurse)
    with pytest.raises(InvalidTransition):
        registration_reject(registration=registration, actor=nurse, reason="Đổi ý sau khi tiếp nhận")


def test_reject_needs_a_reason(demo: Any, persona: Any) -> None:
    with pytest.raises(DomainError) as exc:
        registration_reject(registration=submit(), actor=persona("thanhdong.nv"), reason="  ")
    assert exc.value.code == "reason_required"


def test_transfer_within_the_province_only(demo: Any, persona: Any) -> None:
    registration = submit()
    nurse = persona("thanhdong.nv")
    other_province = facility_save(
        facility=Facility(
            kind=FacilityKind.STATION, code="TYT-HN-1", name="Trạm Y tế phường Ba Đình", province_code=1
        )
    )
    with pytest.raises(DomainError) as exc:
        registration_transfer(registration=registration, actor=nurse, station=other_province)
    assert exc.value.code == "other_province"
    with pytest.raises(DomainError) as exc:
        registration_transfer(registration=registration, actor=nurse, station=registration.facility)
    assert exc.value.code == "same_station"
    tan_hung = Facility.objects.get(code="TYT-10537")
    registration_transfer(registration=registration, actor=nurse, station=tan_hung, note="Sống ở Tân Hưng")
    registration.refresh_from_db()
    assert registration.facility == tan_hung
    with pytest.raises(PermissionDenied):  # now it is Tân Hưng's to decide
        registration_accept(registration=registration, actor=nurse)
    registration_accept(registration=registration, actor=persona("tanhung.nv"))


def test_ward_without_a_station_queues_at_the_department_and_must_be_transferred(
    demo: Any, persona: Any
) -> None:
    served = set(StationWard.objects.values_list("ward_code", flat=True))
    ward = next(code for code, _ in address.wards_of(31) if code not in served)
    registration = submit(ward_code=ward)
    assert registration.facility.code == "SYT-31"
    admin = persona("admin")
    with pytest.raises(DomainError) as exc:
        registration_accept(registration=registration, actor=admin)
    assert exc.value.code == "transfer_first"
    registration_transfer(
        registration=registration, actor=admin, station=Facility.objects.get(code="TYT-10510")
    )
    assert registration_accept(registration=registration, actor=persona("thanhdong.nv")).status == "accepted"


def _account_from_sms(body: str) -> tuple[str, str]:
    match = re.search(r"Tai khoan: (\S+) Mat khau: (\S+)", body)
    assert match, body
    return match.group(1), match.group(2)


def test_account_sms_carries_working_credentials(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        registration = registration_accept(registration=submit(), actor=persona("thanhdong.nv"))
    body = sms.last(to="+84977000333", kind="account")["body"]
    username, password = _account_from_sms(body)
    user = registration.patient.account  # type: ignore[union-attr]
    assert user.username == username and user.check_password(password) and user.must_change_password
    assert "NGUYEN THI MAI" in body and "02203891001" in body
    assert len(body) <= SMS_TWO_SEGMENTS and body == sms_text(body)


def test_two_patients_on_one_family_phone_get_their_own_accounts(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    nurse = persona("thanhdong.nv")
    with django_capture_on_commit_callbacks(execute=True):
        mother = registration_accept(registration=submit(), actor=nurse)
        son = registration_accept(
            registration=submit(full_name="Lê Văn An", date_of_birth=date(2015, 2, 3), sex="male"),
            actor=nurse,
        )
    bodies = [m["body"] for m in sms.messages() if m["kind"] == "account" and m["to"] == "+84977000333"]
    assert len(bodies) == 2
    accounts = [_account_from_sms(b) for b in bodies]
    assert accounts[0][0] != accounts[1][0]
    assert mother.patient.account != son.patient.account  # type: ignore[union-attr]
    assert mother.patient != son.patient


def test_rejection_sms_has_the_reason_and_the_hotline(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reason = "Kết quả test nhanh chưa rõ, vui lòng làm lại xét nghiệm tại trạm"
    with django_capture_on_commit_callbacks(execute=True):
        registration_reject(registration=submit(), actor=persona("thanhdong.nv"), reason=reason)
    body = sms.last(to="+84977000333", kind="registration_rejected")["body"]
    assert unaccent(reason) in body and "02203891001" in body


def test_long_vietnamese_reason_is_cut_to_fit_two_segments(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    reason = ("Người bệnh có bệnh nền chưa ổn định, đang mang thai và không có người chăm sóc tại nhà; " * 5)[
        :300
    ]
    with django_capture_on_commit_callbacks(execute=True):
        registration = registration_reject(
            registration=submit(), actor=persona("thanhdong.nv"), reason=reason
        )
    assert registration.reject_reason == reason.strip()
    body = sms.last(to="+84977000333", kind="registration_rejected")["body"]
    assert len(body) <= SMS_TWO_SEGMENTS and body == sms_text(body)
    assert "..." in body and body.endswith("02203891001")
