"""Sign in with the mobile number instead of the drawn username (bn1234567).

A resident knows their phone number, not the username texted at sign-up. `PhoneLoginBackend` comes after
Django's ModelBackend: when what was typed as the username is a Vietnamese mobile number, it checks the
password against the patient accounts bonded to that number by OTP (`Patient.verified_phone`, never the
`phone` staff may type) and signs in the one account whose password matches. Several family accounts on one
number each have their own password; if two of them share the password typed, nobody is signed in (the
username is then needed) rather than guessing whose record to open. Staff accounts never sign in this way.

The lockout (django-axes per username + address, `accounts.lockout`'s back-off) counts the number as typed,
so guessing passwords of a phone's accounts is limited exactly like guessing one username's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from health_f0.core.exceptions import DomainError
from health_f0.core.phone import normalize_mobile


def phone_of(typed: str | None) -> str:
    """E.164 when `typed` is a Vietnamese mobile number (digits, spaces, dots, +84), else ""."""
    if not typed or not any(ch.isdigit() for ch in typed) or any(ch.isalpha() for ch in typed):
        return ""
    try:
        return normalize_mobile(typed)
    except DomainError:
        return ""


class PhoneLoginBackend(ModelBackend):
    def authenticate(  # type: ignore[override]
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        phone = phone_of(username)
        if not phone or not password:
            return None
        from health_f0.facilities import access
        from health_f0.patients.models import Patient

        accounts = [
            patient.account
            for patient in Patient.objects.filter(verified_phone=phone, account__isnull=False)
            .select_related("account")
            .order_by("pk")
        ]
        matching = [
            user
            for user in accounts
            if user is not None
            and self.user_can_authenticate(user)
            and user.check_password(password)
            and not access.is_staff_member(user)
        ]
        return matching[0] if len(matching) == 1 else None
