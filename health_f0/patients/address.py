"""Provinces and wards from vietnam-provinces (the 2025 two-level layout: 34 provinces, no districts).

Lists are in Vietnamese alphabetical order (ICU's Vietnamese collation through PyICU): a ă â b c d đ e ê …,
the base letter first and the tone only between otherwise equal words, so "Cà Mau" comes before "Cao Bằng"
and "Đà Nẵng" after every D. Python's own string order would put every accented letter after "z".
"""

from __future__ import annotations

import threading
from functools import lru_cache

import icu
from django.utils.translation import gettext as _
from vietnam_provinces import Province, Ward

from health_f0.core.exceptions import DomainError

# An ICU collator is not safe to share between threads: one per thread.
_local = threading.local()


def sort_key(text: str) -> bytes:
    """The Vietnamese collation key of `text` (for `sorted(..., key=sort_key)`)."""
    collator = getattr(_local, "collator", None)
    if collator is None:
        collator = icu.Collator.createInstance(icu.Locale("vi_VN"))
        _local.collator = collator
    key: bytes = collator.getSortKey(text)
    return key


@lru_cache(maxsize=1)
def provinces() -> list[tuple[int, str]]:
    return sorted(((int(p.code), p.name) for p in Province.iter_all()), key=lambda item: sort_key(item[1]))


@lru_cache(maxsize=64)
def wards_of(province_code: int) -> list[tuple[int, str]]:
    return sorted(
        ((int(w.code), w.name) for w in Ward.iter_all() if int(w.province_code) == province_code),
        key=lambda item: sort_key(item[1]),
    )


def province_name(code: int) -> str:
    return dict(provinces()).get(code, "")


def ward_name(code: int) -> str:
    try:
        return Ward.from_code(code).name  # type: ignore[arg-type]
    except ValueError:
        return ""


def validate_ward(province_code: int, ward_code: int) -> str:
    """Return the ward's name, or raise DomainError if it is not a ward of that province."""
    for code, name in wards_of(province_code):
        if code == ward_code:
            return name
    raise DomainError(
        _("Phường/xã không thuộc tỉnh/thành phố đã chọn."), code="ward_invalid", field="ward_code"
    )
