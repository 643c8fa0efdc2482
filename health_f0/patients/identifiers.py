"""CCCD and BHYT number checks (DESIGN.md section 5)."""

from __future__ import annotations

import re
from datetime import date

from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError

_BHYT_OLD = re.compile(r"^[A-Z]{2}[1-5]\d{12}$")


def clean_cccd(raw: str, *, date_of_birth: date | None = None, sex: str | None = None) -> str:
    """12 digits: 1-3 province, 4 century+sex, 5-6 birth year. Checked against DOB and sex when given."""
    value = re.sub(r"\s+", "", raw or "")
    if not value:
        return ""
    if not re.fullmatch(r"\d{12}", value):
        raise DomainError(_("Số CCCD phải gồm đúng 12 chữ số."), code="cccd_invalid", field="cccd")
    century_sex = int(value[3])
    if century_sex > 9:
        raise DomainError(_("Số CCCD không hợp lệ."), code="cccd_invalid", field="cccd")
    century = 1900 + 100 * (century_sex // 2)
    if date_of_birth is not None:
        year = century + int(value[4:6])
        if year != date_of_birth.year:
            raise DomainError(
                _("Số CCCD không khớp với năm sinh (chữ số 4–6 mã hoá thế kỷ và năm sinh)."),
                code="cccd_mismatch",
                field="cccd",
            )
    if sex in {"male", "female"}:
        is_female = century_sex % 2 == 1
        if is_female != (sex == "female"):
            raise DomainError(
                _("Số CCCD không khớp với giới tính (chữ số thứ 4 mã hoá giới tính)."),
                code="cccd_mismatch",
                field="cccd",
            )
    return value


def clean_bhyt(raw: str) -> str:
    """The 10-digit social-insurance number, or an older 15-character card number (e.g. HS4010123456789)."""
    value = re.sub(r"\s+", "", raw or "").upper()
    if not value:
        return ""
    if re.fullmatch(r"\d{10}", value) or _BHYT_OLD.fullmatch(value):
        return value
    raise DomainError(
        _("Số thẻ BHYT gồm 10 chữ số (mã số BHXH) hoặc 15 ký tự trên thẻ cũ (ví dụ HS4010123456789)."),
        code="bhyt_invalid",
        field="bhyt",
    )
