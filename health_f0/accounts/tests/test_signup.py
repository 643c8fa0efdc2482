"""Sign-up, forgot password, guest bookings claimed, family members (accounts.signup)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from health_f0.accounts import signup
from health_f0.api.models import ApiToken
from health_f0.api.services import api_token_issue
from health_f0.appointments import services as appt_services
from health_f0.core.exceptions import Conflict, DomainError, ValidationErrors
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import FacilityKind
from health_f0.patients.models import BondMethod, OtpChallenge, Patient
from health_f0.patients.otp import otp_request
from health_f0.privacy.models import ConsentChannel, ConsentRecord
from health_f0.privacy.selectors import policy_current

pytestmark = pytest.mark.django_db

PHONE = "+84986111222"
PASSWORD = "Hoa-sen-2026"


def _otp(phone: str, purpose: str, sms: Any, capture: Any) -> str:
    with capture(execute=True):
        otp_request(phone=phone, purpose=purpose, ip="10.1.2.3")
    return sms.last_otp(phone)


def _signup(sms: Any, capture: Any, **overrides: Any) -> signup.SignupResult:
    fields: dict[str, Any] = {
        "phone": "0986 111 222",
        "full_name": "Trần Thị Hoa",
        "date_of_birth": date(1990, 5, 17),
        "sex": "female",
        "password": PASSWORD,
        "consent": True,
        "policy_version": policy_current().version,
    }
    fields.update(overrides)
    if "otp" not in fields:
        from health_f0.core.phone import normalize_mobile

        fields["otp"] = _otp(normalize_mobile(fields["phone"]), "signup", sms, capture)
    with capture(execute=True):
        return signup.account_signup(**fields)


def _later() -> None:
    """A minute has passed: the 60-second resend guard is over (test_otp's way)."""
    from datetime import timedelta

    from django.core.cache import cache
    from django.utils import timezone

    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    for challenge in OtpChallenge.objects.all():
        cache.delete(f"otp-resend:{challenge.purpose}:{challenge.phone}")


def test_signup_makes_an_account_its_record_the_bond_the_consent_and_an_audit_row(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    result = _signup(sms, django_capture_on_commit_callbacks, cccd="031190001234")
    user, patient = result.user, result.patient
    assert patient.account == user and user.check_password(PASSWORD) and not user.must_change_password
    assert user.password.startswith("md5$")  # hashed by Django (the tests' fast hasher)
    assert patient.facility.kind == FacilityKind.DEPARTMENT_OF_HEALTH
    assert patient.cccd == "031190001234" and patient.verified_phone == PHONE
    assert patient.phone_bonds.get().method == BondMethod.SIGNUP_OTP
    consent = ConsentRecord.objects.get(user=user)
    assert consent.channel == ConsentChannel.SIGNUP and consent.policy_version == policy_current().version
    audit = AuditLog.objects.get(verb="signup")
    assert audit.actor == user and audit.data["username"] == user.username
    assert OtpChallenge.objects.get(purpose="signup").consumed_at is not None
    assert user.username in sms.last(to=PHONE, kind="account")["body"]
    # The account acts for itself only; no station sees the record, the Sở's manager does.
    assert list(access.own_patients_for(user)) == [patient]
    station_nurse = get_user_model().objects.get(username="thanhdong.nv")
    assert not access.patients_for(station_nurse).filter(pk=patient.pk).exists()


def test_every_field_error_comes_at_once_before_the_otp_is_tried(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    code = _otp(PHONE, "signup", sms, django_capture_on_commit_callbacks)
    with pytest.raises(ValidationErrors) as exc:
        signup.account_signup(
            phone=PHONE,
            otp=code,
            full_name="Trần Thị Hoa",
            date_of_birth=date(1990, 5, 17),
            sex="female",
            password="12345678",
            cccd="031090001234",  # born 1990 says 190, this says 090 (2090)
            bhyt="123",
            consent=False,
        )
    assert set(exc.value.errors) == {"password", "cccd", "bhyt", "consent"}
    assert OtpChallenge.objects.get().attempts == 0


def test_a_wrong_code_costs_a_try_and_makes_nothing(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    _otp(PHONE, "signup", sms, django_capture_on_commit_callbacks)
    with pytest.raises(DomainError) as exc:
        _signup(sms, django_capture_on_commit_callbacks, otp="000000")
    assert exc.value.code == "otp_invalid"
    assert not Patient.objects.filter(phone=PHONE).exists()


def test_the_same_person_cannot_sign_up_twice_a_code_serves_once(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = _signup(sms, django_capture_on_commit_callbacks)
    with pytest.raises(DomainError) as used:
        signup.account_signup(
            phone=PHONE,
            otp=sms.last_otp(PHONE),
            full_name="Trần Thị Hoa",
            date_of_birth=date(1990, 5, 17),
            sex="female",
            password=PASSWORD,
            consent=True,
        )
    assert used.value.code in {"otp_used", "otp_missing"}
    _later()
    with pytest.raises(Conflict) as exc:
        _signup(sms, django_capture_on_commit_callbacks, full_name="tran thi  HOA")
    assert exc.value.code == "account_exists"
    assert Patient.objects.filter(phone=PHONE).count() == 1 and first.patient.account_id


def test_a_second_person_on_the_number_is_family(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mother = _signup(sms, django_capture_on_commit_callbacks)
    _later()
    son = _signup(
        sms,
        django_capture_on_commit_callbacks,
        full_name="Nguyễn Minh An",
        date_of_birth=date(2015, 1, 2),
        sex="male",
        password="Cau-be-An-2015",
    )
    assert set(access.own_patients_for(mother.user)) == {mother.patient, son.patient}
    assert set(access.own_patients_for(son.user)) == {mother.patient, son.patient}


def _guest_booking(sms: Any, capture: Any, *, full_name: str, born: date, sex: str) -> Any:
    from tests.www.test_appointments_portal import at, make_service, open_day

    service = make_service()
    code = _otp(PHONE, "booking", sms, capture)
    _later()
    return appt_services.appointment_book_guest(
        service=service,
        slot_start=at(open_day(service), 8),
        full_name=full_name,
        date_of_birth=born,
        sex=sex,
        phone=PHONE,
        otp=code,
    )


def test_guest_bookings_are_claimed_own_record_and_family(
    appointments_demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mine = _guest_booking(
        sms,
        django_capture_on_commit_callbacks,
        full_name="Trần Thị Hoa",
        born=date(1990, 5, 17),
        sex="female",
    )
    child = _guest_booking(
        sms, django_capture_on_commit_callbacks, full_name="Nguyễn Minh An", born=date(2015, 1, 2), sex="male"
    )
    result = _signup(sms, django_capture_on_commit_callbacks, full_name="TRẦN THỊ HOA")
    assert result.patient.pk == mine.patient_id  # the guest's record is the account's own
    assert [p.pk for p in result.family] == [child.patient_id]
    assert result.claimed_bookings == 2
    child_patient = Patient.objects.get(pk=child.patient_id)
    assert child_patient.account is not None and not child_patient.account.has_usable_password()
    assert child_patient.verified_phone == PHONE
    assert set(access.appointments_for(result.user)) == {mine, child}


def test_a_desk_record_on_the_number_is_not_claimed_as_family(
    appointments_demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.www.test_appointments_portal import make_service

    service = make_service()
    desk = persona("datlich")
    stranger = appt_services.booking_patient_create(
        actor=desk,
        service=service,
        full_name="Phạm Văn Tư",
        date_of_birth=date(1950, 1, 1),
        sex="male",
        phone=PHONE,
    )
    result = _signup(sms, django_capture_on_commit_callbacks)
    assert result.family == []
    assert stranger not in access.own_patients_for(result.user)


def test_family_member_added_from_the_account(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mother = _signup(sms, django_capture_on_commit_callbacks)
    _later()
    code = _otp(PHONE, "signup", sms, django_capture_on_commit_callbacks)
    grandpa = signup.family_member_add(
        user=mother.user, otp=code, full_name="Trần Văn Ba", date_of_birth=date(1940, 2, 3), sex="male"
    )
    assert grandpa.account is not None and grandpa.verified_phone == PHONE
    assert set(access.own_patients_for(mother.user)) == {mother.patient, grandpa}
    assert AuditLog.objects.filter(verb="family_member_add", actor=mother.user).exists()


def test_password_reset_is_texted_only_to_a_number_with_an_account(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    nobody = "+84986999000"
    with django_capture_on_commit_callbacks(execute=True):
        issued = signup.password_reset_request(phone=nobody, ip="10.1.2.3")
    assert issued.expires_in == 300 and not [m for m in sms.messages() if m["to"] == nobody]
    assert OtpChallenge.objects.filter(phone=nobody, purpose="password_reset").exists()  # limits count alike
    with pytest.raises(DomainError) as exc:
        signup.password_reset_confirm(phone=nobody, otp="123456", new_password=PASSWORD)
    assert exc.value.code == "otp_invalid"


def test_password_reset_sets_the_password_and_revokes_tokens(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user = _signup(sms, django_capture_on_commit_callbacks).user
    api_token_issue(user=user)
    with django_capture_on_commit_callbacks(execute=True):
        signup.password_reset_request(phone=PHONE, ip="10.1.2.3")
    code = sms.last_otp(PHONE)
    with pytest.raises(ValidationErrors):
        signup.password_reset_confirm(phone=PHONE, otp=code, new_password="12345678")
    signup.password_reset_confirm(phone=PHONE, otp=code, new_password="Moi-mat-khau-9")
    user.refresh_from_db()
    assert user.check_password("Moi-mat-khau-9")
    assert not ApiToken.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(verb="password_reset", target_id=str(user.pk)).exists()
    with pytest.raises(DomainError):  # spent
        signup.password_reset_confirm(phone=PHONE, otp=code, new_password="Moi-mat-khau-10")


def test_password_reset_on_a_family_number_asks_which_account(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    mother = _signup(sms, django_capture_on_commit_callbacks)
    _later()
    son = _signup(
        sms,
        django_capture_on_commit_callbacks,
        full_name="Nguyễn Minh An",
        date_of_birth=date(2015, 1, 2),
        sex="male",
        password="Cau-be-An-2015",
    )
    _later()
    with django_capture_on_commit_callbacks(execute=True):
        signup.password_reset_request(phone=PHONE, ip="10.1.2.3")
    code = sms.last_otp(PHONE)
    with pytest.raises(DomainError) as exc:
        signup.password_reset_confirm(phone=PHONE, otp=code, new_password="Moi-mat-khau-9")
    assert exc.value.code == "account_choice_required"
    assert {a.username for a in exc.value.extra["accounts"]} == {mother.user.username, son.user.username}
    signup.password_reset_confirm(
        phone=PHONE, otp=code, new_password="Moi-mat-khau-9", username=son.user.username
    )
    son.user.refresh_from_db()
    mother.user.refresh_from_db()
    assert son.user.check_password("Moi-mat-khau-9") and mother.user.check_password(PASSWORD)
