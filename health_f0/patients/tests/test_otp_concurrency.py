"""OTP under concurrency on MariaDB + Redis: one code per burst, one registration per verified code."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.patients.models import OtpChallenge
from health_f0.patients.otp import otp_request
from health_f0.registration.models import Registration
from health_f0.registration.services import RegistrationInput, registration_submit
from tests.standins.threads import run_together

PHONE = "+84977000222"


@pytest.mark.django_db(transaction=True)
def test_burst_of_ten_requests_issues_one_code(sms: Any) -> None:
    results = run_together(*[lambda: otp_request(phone=PHONE, purpose="registration", ip="10.0.0.7")] * 10)
    issued = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(issued) == 1 and len(refused) == 9, results
    assert all(r.code == "otp_resend_too_soon" for r in refused)
    assert OtpChallenge.objects.filter(phone=PHONE).count() == 1
    assert len([m for m in sms.messages() if m["to"] == PHONE]) == 1


def _form(name: str) -> RegistrationInput:
    return RegistrationInput(
        full_name=name,
        date_of_birth=date(1988, 3, 4),
        sex="female",
        phone="0977 000 222",
        province_code=31,
        ward_code=10510,
        test_type="rapid",
        positive_date=timezone.localdate() - timedelta(days=1),
        care="self_care",
        consent=True,
        spo2=98,
        breathing_rate=16,
        vaccine_doses=2,
    )


@pytest.mark.django_db(transaction=True)
def test_one_code_two_simultaneous_submissions_one_registration(demo: Any, sms: Any) -> None:
    otp_request(phone=PHONE, purpose="registration", ip="10.0.0.8")  # autocommit: texted at once
    code = sms.last_otp(PHONE)
    # Two different people on one phone, so only the code (not the duplicate rule) can stop the second.
    results = run_together(
        lambda: registration_submit(data=_form("Lê Thị Hạnh"), otp=code),
        lambda: registration_submit(data=_form("Lê Văn Phúc"), otp=code),
    )
    created = [r for r in results if isinstance(r, Registration)]
    errors = [r for r in results if isinstance(r, DomainError)]
    assert len(created) == 1 and len(errors) == 1, results
    assert errors[0].code in {"otp_used", "otp_missing"}
    assert Registration.objects.filter(phone=PHONE).count() == 1


@pytest.mark.django_db(transaction=True)
def test_burst_from_one_address_across_many_phones_stays_within_the_ip_cap(sms: Any, settings: Any) -> None:
    """24 different phones from one network address at once: exactly the hourly cap (here 20) get a code."""
    settings.OTP_MAX_PER_IP_PER_HOUR = cap = 20
    calls = [
        (lambda i=i: otp_request(phone=f"+8491300{i:04d}", purpose="registration", ip="198.51.100.4"))
        for i in range(cap + 4)
    ]
    results = run_together(*calls)
    issued = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(issued) == cap and len(refused) == 4, results
    assert all(r.code == "otp_ip_limit" for r in refused)
    assert OtpChallenge.objects.filter(ip_address="198.51.100.4").count() == cap
