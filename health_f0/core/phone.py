"""Vietnamese mobile numbers: store E.164, show '0912 345 678'."""

from __future__ import annotations

from collections.abc import Sequence
from operator import methodcaller
from typing import Any

import phonenumbers
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError

_MOBILE_PREFIXES = ("3", "5", "7", "8", "9")


def normalize_mobile(raw: str) -> str:
    """Parse a Vietnamese mobile number written any usual way; return E.164 or raise DomainError."""
    cleaned = (raw or "").strip()
    if not cleaned:
        raise DomainError(_("Vui lòng nhập số điện thoại di động."), code="phone_required", field="phone")
    try:
        number = phonenumbers.parse(cleaned, "VN")
    except phonenumbers.NumberParseException:
        raise DomainError(
            _("Số điện thoại không hợp lệ. Ví dụ đúng: 0912 345 678."), code="phone_invalid", field="phone"
        )
    national = str(number.national_number)
    if (
        number.country_code != 84
        or len(national) != 9
        or not national.startswith(_MOBILE_PREFIXES)
        or not phonenumbers.is_valid_number(number)
    ):
        raise DomainError(
            _("Số điện thoại di động không hợp lệ (10 số, bắt đầu bằng 03, 05, 07, 08 hoặc 09)."),
            code="phone_invalid",
            field="phone",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def display_phone(e164: str) -> str:
    """'+84912345678' -> '0912 345 678'."""
    if not e164:
        return ""
    if e164.startswith("+84") and len(e164) == 12:
        national = "0" + e164[3:]
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return e164


def display_phones(numbers: Sequence[str]) -> Sequence[str]:
    """display_phone of each number of a list's column: a column of usual numbers (+84 and nine digits, checked
    for the column at once) written by one comprehension, anything else number by number (issue 11)."""
    if set(map(type, numbers)) <= {str} and set(map(len, numbers)) <= {12} and all(map(_starts_84, numbers)):
        return [f"0{e164[3:6]} {e164[6:9]} {e164[9:]}" for e164 in numbers]
    return list(map(display_phone, numbers))


_starts_84: Any = methodcaller("startswith", "+84")


def mask_phone(e164: str) -> str:
    """'+84912345678' -> '0912 *** 678' for pages that should not show the whole number."""
    shown = display_phone(e164)
    return shown[:5] + "***" + shown[8:] if len(shown) == 12 else shown
