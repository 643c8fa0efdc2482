"""OTP rules: 6 digits, stored as an HMAC, 5 minutes, 5 wrong tries, 60 s between codes, hourly caps."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from health_f0.core.exceptions import DomainError, RateLimited
from health_f0.patients.models import OtpChallenge
from health_f0.patients.otp import otp_consume, otp_request, otp_verify

pytestmark = pytest.mark.django_db

PHONE = "+84977000111"
PURPOSE = "registration"


def _issue(capture: Any, sms: Any, phone: str = PHONE, ip: str | None = "10.0.0.1") -> str:
    with capture(execute=True):
        otp_request(phone=phone, purpose=PURPOSE, ip=ip)
    return sms.last_otp(phone)


def _later(seconds: int) -> None:
    """Pretend `seconds` have passed: age every challenge and drop the 60-second resend guards."""
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=seconds))
    for challenge in OtpChallenge.objects.all():
        cache.delete(f"otp-resend:{challenge.purpose}:{challenge.phone}")


def test_code_is_six_digits_and_stored_only_as_hmac(
    django_capture_on_commit_callbacks: Any, sms: Any
) -> None:
    code = _issue(django_capture_on_commit_callbacks, sms)
    assert re.fullmatch(r"\d{6}", code)
    challenge = OtpChallenge.objects.get()
    assert re.fullmatch(r"[0-9a-f]{64}", challenge.code_hash)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM registration_otpchallenge")
        row = cursor.fetchone()
    assert all(code not in str(value) for value in row)
    assert (challenge.expires_at - challenge.created_at).total_seconds() == pytest.approx(300, abs=2)
    assert otp_verify(phone=PHONE, purpose=PURPOSE, code=code).verified_at is not None


def test_code_expires_after_five_minutes(django_capture_on_commit_callbacks: Any, sms: Any) -> None:
    code = _issue(django_capture_on_commit_callbacks, sms)
    OtpChallenge.objects.update(expires_at=timezone.now() + timedelta(seconds=5))
    otp_verify(phone=PHONE, purpose=PURPOSE, code=code)  # still alive just before the end
    OtpChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code=code)
    assert exc.value.code == "otp_expired"


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_sixth_try_is_refused_even_with_the_right_code(
    django_capture_on_commit_callbacks: Any, sms: Any
) -> None:
    code = _issue(django_capture_on_commit_callbacks, sms)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(DomainError) as exc:
            otp_verify(phone=PHONE, purpose=PURPOSE, code=_wrong(code))
        assert exc.value.code == "otp_invalid"
        assert (f"còn {left} lần" in exc.value.message) if left else ("khoá" in exc.value.message)
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code=code)
    assert exc.value.code == "otp_locked"


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", " 12 34 "])
def test_malformed_codes_cost_a_try(django_capture_on_commit_callbacks: Any, sms: Any, bad: str) -> None:
    _issue(django_capture_on_commit_callbacks, sms)
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code=bad)
    assert exc.value.code == "otp_invalid"


def test_wrong_tries_count_even_when_the_callers_transaction_fails(
    django_capture_on_commit_callbacks: Any, sms: Any
) -> None:
    code = _issue(django_capture_on_commit_callbacks, sms)
    for _ in range(5):
        with pytest.raises(DomainError), transaction.atomic():
            otp_verify(phone=PHONE, purpose=PURPOSE, code=_wrong(code))
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code=code)
    assert exc.value.code == "otp_locked"


def test_new_code_only_after_60_seconds_and_the_old_one_stops_working(
    django_capture_on_commit_callbacks: Any, sms: Any
) -> None:
    first = _issue(django_capture_on_commit_callbacks, sms)
    OtpChallenge.objects.update(created_at=timezone.now() - timedelta(seconds=20))
    with pytest.raises(RateLimited) as exc:
        otp_request(phone=PHONE, purpose=PURPOSE, ip="10.0.0.1")
    assert exc.value.code == "otp_resend_too_soon"
    assert 1 <= exc.value.extra["retry_after"] <= 60
    assert exc.value.status_code == 429
    assert OtpChallenge.objects.count() == 1

    _later(61)
    second = _issue(django_capture_on_commit_callbacks, sms)
    assert OtpChallenge.objects.count() == 2
    if first != second:
        with pytest.raises(DomainError):
            otp_verify(phone=PHONE, purpose=PURPOSE, code=first)
    assert otp_verify(phone=PHONE, purpose=PURPOSE, code=second)
    old = OtpChallenge.objects.order_by("created_at", "pk").first()
    assert old is not None and old.consumed_at is not None and old.verified_at is None


def test_other_purpose_has_its_own_resend_clock(django_capture_on_commit_callbacks: Any, sms: Any) -> None:
    _issue(django_capture_on_commit_callbacks, sms)
    otp_request(phone=PHONE, purpose="booking", ip="10.0.0.1")
    assert OtpChallenge.objects.count() == 2


def test_per_phone_cap_five_an_hour(django_capture_on_commit_callbacks: Any, sms: Any, settings: Any) -> None:
    assert settings.OTP_MAX_PER_PHONE_PER_HOUR == 5
    for _ in range(5):
        otp_request(phone=PHONE, purpose=PURPOSE, ip=None)
        _later(61 * 5)  # each one a few minutes older; all within the hour
    with pytest.raises(RateLimited) as exc:
        otp_request(phone=PHONE, purpose=PURPOSE, ip=None)
    assert exc.value.code == "otp_phone_limit"
    _later(3601)  # an hour later the phone may ask again
    otp_request(phone=PHONE, purpose=PURPOSE, ip=None)


def test_per_ip_cap_an_hour(settings: Any) -> None:
    settings.OTP_MAX_PER_IP_PER_HOUR = 20  # the default (300) is sized for carrier-grade NAT
    for i in range(20):
        otp_request(phone=f"+8491200{i:04d}", purpose=PURPOSE, ip="203.0.113.9")
    with pytest.raises(RateLimited) as exc:
        otp_request(phone="+84912009999", purpose=PURPOSE, ip="203.0.113.9")
    assert exc.value.code == "otp_ip_limit"
    otp_request(phone="+84912009999", purpose=PURPOSE, ip="203.0.113.10")  # another network is fine


def test_unknown_purpose_is_refused() -> None:
    with pytest.raises(DomainError) as exc:
        otp_request(phone=PHONE, purpose="nope", ip=None)
    assert exc.value.code == "purpose_invalid"


def test_verify_without_a_code_asks_for_one() -> None:
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code="123456")
    assert exc.value.code == "otp_missing"


def test_a_verified_code_is_consumed_once(django_capture_on_commit_callbacks: Any, sms: Any) -> None:
    code = _issue(django_capture_on_commit_callbacks, sms)
    challenge = otp_verify(phone=PHONE, purpose=PURPOSE, code=code)
    again = otp_verify(phone=PHONE, purpose=PURPOSE, code=code)  # after a fixable form error
    assert again.pk == challenge.pk
    otp_consume(challenge=challenge)
    with pytest.raises(DomainError) as exc:
        otp_consume(challenge=challenge)
    assert exc.value.code == "otp_used"
    with pytest.raises(DomainError) as exc:
        otp_verify(phone=PHONE, purpose=PURPOSE, code=code)
    assert exc.value.code == "otp_missing"
