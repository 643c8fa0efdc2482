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
