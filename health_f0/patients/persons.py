"""A person's identity, checked once for every domain, and the one rule for "the same person already on record".

Who registers for home care (registration), who books or walks in with no record (appointments: the desk and
the guest booking with an OTP) give the same identity fields: name, date of birth, sex, phone, CCCD, BHYT.
`person_errors` checks them all (every error at once, as `ValidationErrors` wants them) and returns cleaned
values; `person_validate` raises; `first_error` turns the collected errors into the first one, for callers that
answer one error at a time; `date_of_birth_check` is the date-of-birth rule alone (the portal's forms use it).
`patient_match_or_create` returns the patient on record with the same phone, date of birth and name (accents,
case and spacing ignored), else creates one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.exceptions import DomainError, ValidationErrors
from health_f0.core.phone import normalize_mobile
from health_f0.core.text import clean_person_name, name_key, normalize_name
from health_f0.facilities.models import Facility
from health_f0.patients.identifiers import clean_bhyt, clean_cccd
from health_f0.patients.models import Patient, Sex

Errors = dict[str, list[tuple[str, str]]]
# Nobody on record was born more than this many years ago.
MAX_AGE_YEARS = 120


@dataclass(frozen=True)
class Person:
    """A person's identity fields as typed (a desk form, a booking): `person_validate(**asdict(person))`
    checks them."""

    full_name: str
    date_of_birth: date
    sex: str
    phone: str
    cccd: str = ""
    bhyt: str = ""


def date_of_birth_check(born: date, *, today: date | None = None) -> date:
    """A date of birth on record: not in the future, not more than MAX_AGE_YEARS years ago (DomainError on
    `date_of_birth` otherwise)."""
    today = today or timezone.localdate()
    if born > today:
        raise DomainError(
            _("Ngày sinh không được ở tương lai."), code="date_of_birth_future", field="date_of_birth"
        )
    if born < date(today.year - MAX_AGE_YEARS, 1, 1):
        raise DomainError(_("Ngày sinh không hợp lệ."), code="date_of_birth_invalid", field="date_of_birth")
    return born


def person_errors(
    *,
    full_name: str,
    date_of_birth: date,
    sex: str,
    phone: str,
    cccd: str = "",
    bhyt: str = "",
    today: date | None = None,
) -> tuple[dict[str, Any], Errors]:
    """Check the identity fields; return (cleaned values, errors by field as (code, message)). A field that
    fails keeps a usable value so the caller can go on checking its own fields: the name normalised, the phone
    as typed, CCCD and BHYT empty."""
    today = today or timezone.localdate()
    errors: Errors = {}

    def check(field_name: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except DomainError as exc:
            errors.setdefault(exc.field or field_name, []).append((exc.code, exc.message))
            return None

    cleaned: dict[str, Any] = {"date_of_birth": date_of_birth, "sex": sex}
    name = check("full_name", lambda: clean_person_name(full_name or ""))
    cleaned["full_name"] = name or normalize_name(full_name or "")
    check("date_of_birth", lambda: date_of_birth_check(date_of_birth, today=today))
    if sex not in Sex.values:
        errors.setdefault("sex", []).append(("sex_invalid", _("Vui lòng chọn giới tính.")))
    cleaned["phone"] = check("phone", lambda: normalize_mobile(phone)) or phone
    known_sex = sex if sex in {Sex.MALE, Sex.FEMALE} else None
    cleaned["cccd"] = (
        check("cccd", lambda: clean_cccd(cccd, date_of_birth=date_of_birth, sex=known_sex)) or ""
    )
    cleaned["bhyt"] = check("bhyt", lambda: clean_bhyt(bhyt)) or ""
    return cleaned, errors


def person_validate(**fields: Any) -> dict[str, Any]:
    """`person_errors`, raising ValidationErrors (every field's errors) when any field is wrong."""
    cleaned, errors = person_errors(**fields)
    if errors:
        raise ValidationErrors(errors)
    return cleaned


def first_error(exc: ValidationErrors) -> DomainError:
    """The first of the collected errors, as the DomainError of its field."""
    for field_name, items in exc.errors.items():
        for code, message in items:
            return DomainError(message, code=code, field=field_name)
    return exc


def patient_on_record(*, full_name: str, date_of_birth: date, phone: str) -> Patient | None:
    """The patient on record with the same phone, date of birth and name (accents, case and spacing
    ignored); the oldest record when there are several."""
    wanted = name_key(full_name)
    for existing in Patient.objects.filter(phone=phone, date_of_birth=date_of_birth).order_by("pk"):
        if name_key(existing.full_name) == wanted:
            return existing
    return None


@transaction.atomic
def patient_match_or_create(
    *,
    full_name: str,
    date_of_birth: date,
    sex: str,
    phone: str,
    facility: Facility,
    cccd: str = "",
    bhyt: str = "",
    actor: Any = None,
) -> Patient:
    """The same person already on record (`patient_on_record`), else a new patient managed by `facility`,
    address unknown (its province, ward 0: asked later if needed). Takes cleaned values (`person_validate`)."""
    from health_f0.patients.services import patient_create

    existing = patient_on_record(full_name=full_name, date_of_birth=date_of_birth, phone=phone)
    if existing is not None:
        return existing
    return patient_create(
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone,
        cccd=cccd,
        bhyt=bhyt,
        facility=facility,
        province_code=facility.province_code or 0,
        ward_code=0,
        actor=actor,
    )
