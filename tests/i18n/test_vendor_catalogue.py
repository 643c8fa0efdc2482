"""Django strings whose Vietnamese is missing from Django's own catalogue are in locale_vendor (issue 9
item 11): Django 5.2 changed the minimum-length message's msgid ("%(min_length)d" -> "%d") and its `vi`
catalogue still has only the old one, so the password page showed "This password is too short…"."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.password_validation import MinimumLengthValidator, validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation


def test_every_password_validator_speaks_vietnamese() -> None:
    with translation.override("vi"):
        with pytest.raises(ValidationError) as exc:
            validate_password("ab1x9")
        messages = exc.value.messages
        assert "Mật khẩu quá ngắn: cần ít nhất 8 ký tự." in messages
        assert not [m for m in messages if m.isascii()], messages
        assert "ít nhất 8 ký tự" in MinimumLengthValidator().get_help_text()


def test_english_stays_english() -> None:
    with translation.override("en"), pytest.raises(ValidationError) as exc:
        MinimumLengthValidator().validate("ab1x9")
    assert exc.value.messages == ["This password is too short. It must contain at least 8 characters."]


@pytest.mark.django_db
def test_the_portal_password_page_shows_the_vietnamese_message(demo: Any) -> None:
    from health_f0.patients.models import Patient

    client = Client()
    client.force_login(Patient.objects.get(account__username="bn0000001").account)
    response = client.post(
        "/tai-khoan/doi-mat-khau",
        {"old_password": "demo-2026", "new_password1": "Ab1x", "new_password2": "Ab1x"},
    )
    page = response.content.decode()
    assert response.status_code == 400 and "Mật khẩu quá ngắn: cần ít nhất 8 ký tự." in page
    assert "too short" not in page
