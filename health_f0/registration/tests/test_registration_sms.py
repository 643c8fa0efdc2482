"""Issue 9 item 11: what the person who registered is told when the station transfers or rejects the
registration (the texts are built in registration.services)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.core.exceptions import DomainError
from health_f0.core.text import SMS_TWO_SEGMENTS, sms_text
from health_f0.facilities.models import Facility
from health_f0.registration.models import Channel, Registration
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_reject,
    registration_transfer,
    registration_validate,
)

pytestmark = pytest.mark.django_db

PHONE = "+84977000333"


def _submit(**overrides: Any) -> Registration:
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
    data = registration_validate(RegistrationInput(**values))
    return _create(data, channel=Channel.WEB, facility=Facility.objects.get(code="TYT-10510"), actor=None)


def test_the_person_is_told_where_the_registration_went(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registration = _submit()
    tan_hung = Facility.objects.get(code="TYT-10537")
    with django_capture_on_commit_callbacks(execute=True):
        registration_transfer(
            registration=registration,
            actor=persona("thanhdong.nv"),
            station=tan_hung,
            note="Nội bộ: sai phường",
        )
    message = sms.last(to=PHONE)
    body = message["body"]
    assert message["kind"] == "registration_received"
    assert "NGUYEN THI MAI" in body and "TYT Tan Hung" in body and tan_hung.hotline in body
    assert "Noi bo" not in body  # the staff's note stays inside
    assert body == sms_text(body) and len(body) <= SMS_TWO_SEGMENTS and ".." not in body


def test_a_transfer_that_is_refused_texts_nobody(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registration = _submit()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(DomainError):
        registration_transfer(
            registration=registration, actor=persona("thanhdong.nv"), station=registration.facility
        )
    assert not [m for m in sms.messages() if m["to"] == PHONE]


def test_a_long_name_never_pushes_the_station_out_of_the_transfer_text(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registration = _submit(full_name=("Tôn Nữ " + " ".join(["Hoàng Phương Thảo"] * 7))[:120].strip())
    with django_capture_on_commit_callbacks(execute=True):
        registration_transfer(
            registration=registration,
            actor=persona("thanhdong.nv"),
            station=Facility.objects.get(code="TYT-10537"),
        )
    body = sms.last(to=PHONE)["body"]
    assert len(body) <= SMS_TWO_SEGMENTS and "TYT Tan Hung" in body and body.endswith("02203891003")


@pytest.mark.parametrize(
    "reason",
    [
        "Sai địa chỉ, vui lòng đăng ký lại.",
        "Sai địa chỉ, vui lòng đăng ký lại",
        "Sai địa chỉ, vui lòng đăng ký lại. ",
        "Sai địa chỉ!",
    ],
)
def test_the_rejection_text_has_one_full_stop_between_reason_and_hotline(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any, reason: str
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        registration_reject(registration=_submit(), actor=persona("thanhdong.nv"), reason=reason)
    body = sms.last(to=PHONE, kind="registration_rejected")["body"]
    assert ".." not in body and "!." not in body
    assert "Ly do: Sai dia chi" in body and body.endswith("Lien he: 02203891001")


def test_the_rejection_text_ends_with_a_full_stop_when_the_station_has_no_hotline(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    Facility.objects.filter(code="TYT-10510").update(hotline="")
    with django_capture_on_commit_callbacks(execute=True):
        registration_reject(registration=_submit(), actor=persona("thanhdong.nv"), reason="Sai địa chỉ")
    assert sms.last(to=PHONE, kind="registration_rejected")["body"].endswith("Ly do: Sai dia chi.")
