from datetime import date, timedelta

import pytest
from django.utils import timezone

from health_f0.patients.otp import otp_request
from health_f0.registration.models import Registration
from health_f0.registration.services import RegistrationInput, registration_accept, registration_submit


@pytest.mark.django_db
def test_submit_and_accept_sends_account_sms(persona, sms, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone="+84977000111", purpose="registration", ip="10.0.0.1")
    code = sms.last_otp("+84977000111")
    data = RegistrationInput(
        full_name="nguyễn  thị  mai",
        date_of_birth=date(1992, 5, 1),
        sex="female",
        phone="0977 000 111",
        province_code=31,
        ward_code=10532,
        test_type="rapid",
        positive_date=timezone.localdate() - timedelta(days=1),
        care="self_care",
        consent=True,
        spo2=98,
        breathing_rate=16,
        vaccine_doses=2,
    )
    with django_capture_on_commit_callbacks(execute=True):
        registration = registration_submit(data=data, otp=code)
    assert registration.full_name == "Nguyễn Thị Mai"
    assert registration.facility.code == "TYT-10532"
    assert registration.eligibility == "eligible"
    with django_capture_on_commit_callbacks(execute=True):
        registration_accept(registration=registration, actor=persona("lethanhnghi.nv"))
    registration.refresh_from_db()
    assert registration.status == "accepted"
    message = sms.last(to="+84977000111", kind="account")
    assert registration.patient.account.username in message["body"]
    assert len(message["body"]) <= 306
    assert Registration.objects.count() >= 1


@pytest.mark.django_db
def test_a_signed_up_resident_taken_into_home_care_keeps_one_record_and_one_account(
    persona, sms, django_capture_on_commit_callbacks
):
    """A resident with an account registers as F0: accepting takes their own record into the station's care
    (no second patient, no second account) and the SMS names the account they already have."""
    from health_f0.accounts.signup import account_signup
    from health_f0.patients.models import Patient

    phone = "+84977000222"
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=phone, purpose="signup", ip="10.0.0.2")
    with django_capture_on_commit_callbacks(execute=True):
        signed = account_signup(
            phone=phone,
            otp=sms.last_otp(phone),
            full_name="Trần Văn Bình",
            date_of_birth=date(1980, 3, 4),
            sex="male",
            password="mat-khau-rat-dai-2026",
            consent=True,
        )
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone=phone, purpose="registration", ip="10.0.0.2")
    data = RegistrationInput(
        full_name="tran van binh",
        date_of_birth=date(1980, 3, 4),
        sex="male",
        phone="0977 000 222",
        province_code=31,
        ward_code=10532,
        street="12 Lê Lợi",
        test_type="rapid",
        positive_date=timezone.localdate() - timedelta(days=1),
        care="self_care",
        consent=True,
        spo2=98,
        breathing_rate=16,
        vaccine_doses=2,
    )
    with django_capture_on_commit_callbacks(execute=True):
        registration = registration_submit(data=data, otp=sms.last_otp(phone))
    with django_capture_on_commit_callbacks(execute=True):
        registration_accept(registration=registration, actor=persona("lethanhnghi.nv"))
    registration.refresh_from_db()
    assert registration.patient_id == signed.patient.pk
    assert Patient.objects.filter(phone=phone).count() == 1
    patient = Patient.objects.get(phone=phone)
    assert patient.account_id == signed.user.pk
    assert patient.facility_id == registration.facility_id  # the station manages the record now
    assert patient.street == "12 Lê Lợi"
    message = sms.last(to=phone, kind="account")
    assert signed.user.username in message["body"]
    assert "Mat khau" not in message["body"]
    assert len(message["body"]) <= 306
