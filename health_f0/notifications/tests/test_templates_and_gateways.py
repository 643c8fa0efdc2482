"""Every SMS template is unaccented GSM-7 within two segments; console and file gateways."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from health_f0.core.exceptions import DomainError
from health_f0.core.text import _GSM7, SMS_TWO_SEGMENTS, unaccent
from health_f0.notifications.gateways import ConsoleGateway, FileGateway, get_gateway
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.otp import ACCOUNT_ONLY_PURPOSES, PURPOSES, otp_request
from health_f0.registration.models import Channel
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    facility_for_ward,
    registration_accept,
    registration_reject,
    registration_validate,
)

LONG_NAME = "Tôn Nữ Hoàng Thị Phương Thảo Nguyên Khánh Ngọc Diễm Quỳnh Hương"


def _assert_plain_sms(body: str) -> None:
    assert len(body) <= SMS_TWO_SEGMENTS, len(body)
    assert all(ch in _GSM7 for ch in body), body
    assert body == unaccent(body)


def _registration(name: str) -> Any:
    data = registration_validate(
        RegistrationInput(
            full_name=name,
            date_of_birth=date(1985, 1, 2),
            sex="female",
            phone="0966 123 456",
            province_code=31,
            ward_code=10543,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=2),
            care="self_care",
            consent=True,
        )
    )
    facility = facility_for_ward(province_code=31, ward_code=10543)
    return _create(data, channel=Channel.WEB, facility=facility, actor=None)


@pytest.mark.django_db
def test_every_template_is_plain_gsm7_within_two_segments(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    nurse = persona("tanhung.nv")
    with django_capture_on_commit_callbacks(execute=True):
        # One number per purpose (a number gets 5 codes an hour); password reset texts only a number with an
        # account: the demo patient's.
        account_phone = persona("bn0000001").patient.verified_phone
        for n, purpose in enumerate(sorted(PURPOSES)):
            phone = account_phone if purpose in ACCOUNT_ONLY_PURPOSES else f"+8496612345{n}"
            otp_request(phone=phone, purpose=purpose, ip=None)
        registration_accept(registration=_registration(LONG_NAME), actor=nurse)
        reason = (
            "Hồ sơ thiếu kết quả xét nghiệm; người bệnh đang điều trị bệnh nền nặng ở bệnh viện tuyến trên. "
            * 4
        )[:300]
        registration_reject(registration=_registration("Đặng Thị Ánh Tuyết"), actor=nurse, reason=reason)
    messages = sms.messages()
    assert {m["kind"] for m in messages} == {"otp", "account", "registration_rejected"}
    assert len(messages) == len(PURPOSES) + 2
    for message in messages:
        _assert_plain_sms(message["body"])


def test_enqueue_refuses_a_body_over_two_segments(db: Any) -> None:
    with pytest.raises(DomainError) as exc:
        sms_enqueue(to="+84912345678", body="x" * (SMS_TWO_SEGMENTS + 1), kind="generic")
    assert exc.value.code == "sms_too_long"


def test_console_gateway_prints(capsys: Any) -> None:
    result = ConsoleGateway().send(to="+84912345678", body="Xin chao", kind="generic", reference="ref-1")
    assert result.provider_message_id == "ref-1"
    assert "+84912345678" in capsys.readouterr().out


def test_file_gateway_writes_one_json_object_per_line(settings: Any, tmp_path: Any) -> None:
    settings.SMS_FILE_PATH = str(tmp_path / "out.jsonl")
    gateway = get_gateway("file")
    assert isinstance(gateway, FileGateway)
    gateway.send(to="+84912345678", body="Ma OTP: 123456", kind="otp", reference="a")
    gateway.send(to="+84987654321", body="Tai khoan: bn0000001", kind="account", reference="b")
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert [r["to"] for r in records] == ["+84912345678", "+84987654321"]
    assert [r["kind"] for r in records] == ["otp", "account"]
    assert records[0]["body"] == "Ma OTP: 123456"
    assert all(datetime.fromisoformat(r["created_at"]).tzinfo is not None for r in records)


def test_unknown_backend_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="SMS_BACKEND"):
        get_gateway("carrier-pigeon")


def test_cache_is_isolated() -> None:  # the root conftest clears this worker's keys between tests
    assert cache.get("otp-resend:registration:+84966123456") is None
