"""Writes to patients and their portal accounts."""

from __future__ import annotations

import secrets
from datetime import date
from typing import Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.models import AuditLog, User
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

# No 0/o/1/l/i: a password read from an SMS on a small screen must be typed right the first time.
_PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # noqa: S105 - an alphabet, not a password
USERNAME_PREFIX = "bn"


def generate_password(length: int = 8) -> str:
    while True:
        password = "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))
        if any(c.isdigit() for c in password) and any(c.isalpha() for c in password):
            return password


@transaction.atomic
def patient_create(
    *,
    full_name: str,
    date_of_birth: date,
    sex: str,
    phone: str,
    facility: Facility,
    province_code: int,
    ward_code: int,
    ward_name: str = "",
    street: str = "",
    cccd: str = "",
    bhyt: str = "",
    actor: Any = None,
) -> Patient:
    patient = Patient(
        full_name=full_name,
        date_of_birth=date_of_birth,
        sex=sex,
        phone=phone,
        cccd=cccd,
        bhyt=bhyt,
        province_code=province_code,
        ward_code=ward_code,
        ward_name=ward_name,
        street=street,
        facility=facility,
    )
    patient.full_clean(exclude=["account"])
    patient.save()
    audit_log(actor=actor, action=AuditLog.Action.CREATE, verb="create", target=patient, facility=facility)
    return patient


@transaction.atomic
def patient_take_into_care(
    *,
    patient: Patient,
    facility: Facility,
    province_code: int,
    ward_code: int,
    ward_name: str = "",
    street: str = "",
    cccd: str = "",
    bhyt: str = "",
    actor: Any = None,
) -> Patient:
    """A person already on record (a resident's sign-up, a guest booking, an earlier episode) is taken into
    home care by `facility`: the station now manages the record and its address is the one just declared; a
    CCCD or BHYT number the record lacks is added, one it holds is kept. The audit row names the fields changed
    and the facility that managed the record before."""
    patient = Patient.objects.select_for_update().get(pk=patient.pk)
    before = patient.facility_id
    wanted: dict[str, Any] = {
        "facility": facility,
        "province_code": province_code,
        "ward_code": ward_code,
        "ward_name": ward_name,
        "street": street,
    }
    if cccd and not patient.cccd:
        wanted["cccd"] = cccd
    if bhyt and not patient.bhyt:
        wanted["bhyt"] = bhyt
    changed = []
    for name, value in wanted.items():
        current = patient.facility_id if name == "facility" else getattr(patient, name)
        target = value.pk if name == "facility" else value
        if current != target:
            setattr(patient, name, value)
            changed.append(name)
    if changed:
        patient.full_clean(exclude=["account"])
        patient.save(update_fields=[*changed, "updated_at"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="take_into_care",
        target=patient,
        facility=facility,
        data={"fields": changed, "facility_before": before},
    )
    return patient


def account_attach(*, patient: Patient, password: str | None, must_change_password: bool = False) -> User:
    """A portal account for `patient` with a drawn username (bn + 7 digits) and the patient's name, linked to
    the record. `password` None: no usable password until one is set (by OTP, "Quên mật khẩu"). Not audited
    here: the caller says why the account was made."""
    user_model = get_user_model()
    for _attempt in range(20):
        username = f"{USERNAME_PREFIX}{secrets.randbelow(10**7):07d}"
        try:
            with transaction.atomic():
                user = user_model.objects.create_user(
                    username=username,
                    password=password,
                    phone=patient.phone,
                    must_change_password=must_change_password,
                )
        except IntegrityError:
            continue  # username taken: draw another
        break
    else:  # pragma: no cover - 20 collisions in a 10-million space
        raise RuntimeError("could not draw a free username")
    parts = patient.full_name.split()
    user.first_name = (parts[-1] if parts else "")[:150]
    user.last_name = " ".join(parts[:-1])[:150]
    user.save(update_fields=["first_name", "last_name"])
    patient.account = user
    patient.save(update_fields=["account", "updated_at"])
    return user  # type: ignore[no-any-return]


def account_issue(*, patient: Patient, actor: Any = None) -> tuple[User, str]:
    """Create the patient's portal account with a unique username and a random password.

    Returns the user and the clear password, which the caller texts to the patient and never stores.
    The patient must change it at first login.
    """
    password = generate_password()
    user = account_attach(patient=patient, password=password, must_change_password=True)
    audit_log(
        actor=actor,
        action=AuditLog.Action.CREATE,
        verb="issue_account",
        target=patient,
        facility=patient.facility,
        data={"username": user.username},
    )
    return user, password


@transaction.atomic
def patient_confirm_details(*, patient: Patient, actor: Any) -> Patient:
    """The patient checked their personal details on the portal and found them right (Phần 2, bước 3)."""
    patient.details_confirmed_at = timezone.now()
    patient.save(update_fields=["details_confirmed_at", "updated_at"])
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="confirm_details",
        target=patient,
        facility=patient.facility,
    )
    return patient


@transaction.atomic
def password_change(*, user: Any, new_password: str, keep_token: Any = None) -> None:
    """Set a password the user chose; clears the must-change flag. Every API token of the user but
    `keep_token` (the device making the change) is revoked; every session ends too, because Django drops a
    session whose stored password hash no longer matches (the caller keeps its own with
    update_session_auth_hash)."""
    user.set_password(new_password)
    user.must_change_password = False
    user.save(update_fields=["password", "must_change_password"])
    revoked = credentials_revoke(user=user, keep_token=keep_token)
    audit_log(
        actor=user,
        action=AuditLog.Action.UPDATE,
        verb="change_password",
        target=user,
        data={"tokens_revoked": revoked},
    )


@transaction.atomic
def password_reset_done(*, user: Any, actor: Any) -> None:
    """An administrator set `user`'s password in the desk: every API token of the user is revoked (the
    sessions already end with the old password hash) and the reset is audited."""
    revoked = credentials_revoke(user=user)
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="reset_password",
        target=user,
        data={"tokens_revoked": revoked},
    )


def credentials_revoke(*, user: Any, keep_token: Any = None) -> int:
    """Revoke the user's API tokens (all but `keep_token`); returns how many."""
    tokens = user.api_tokens.all()
    if keep_token is not None:
        tokens = tokens.exclude(pk=keep_token.pk)
    deleted, _per_model = tokens.delete()
    return int(deleted)


PATIENT_EDITABLE_FIELDS = ("full_name", "date_of_birth", "sex", "phone", "cccd", "bhyt", "street")


@transaction.atomic
def patient_update_details(*, patient: Patient, actor: Any, changes: dict[str, Any]) -> Patient:
    """Staff correct a patient's personal details; the audit row names the changed fields (not values)."""
    from health_f0.core.exceptions import DomainError
    from health_f0.core.phone import normalize_mobile
    from health_f0.core.text import clean_person_name
    from health_f0.patients.identifiers import clean_bhyt, clean_cccd

    unknown = set(changes) - set(PATIENT_EDITABLE_FIELDS)
    if unknown:
        raise DomainError(
            _("Không sửa được các mục: %(fields)s.") % {"fields": ", ".join(sorted(unknown))},
            code="field_not_editable",
        )
    # The stored number (the desk's form has already put its values on `patient`).
    old_phone = Patient.objects.filter(pk=patient.pk).values_list("phone", flat=True).first()
    for name, value in changes.items():
        setattr(patient, name, value)
    if "full_name" in changes:
        patient.full_name = clean_person_name(patient.full_name)
    patient.phone = normalize_mobile(patient.phone)
    sex = patient.sex if patient.sex in {"male", "female"} else None
    patient.cccd = clean_cccd(patient.cccd, date_of_birth=patient.date_of_birth, sex=sex)
    patient.bhyt = clean_bhyt(patient.bhyt)
    changed = [name for name in PATIENT_EDITABLE_FIELDS if name in changes]
    if not changed:
        return patient
    patient.full_clean(exclude=["account"])
    update_fields = [*changed, "updated_at"]
    if patient.phone != old_phone:
        # Staff typed it: it answers for nothing booked before (facilities.access.phone_answering_for).
        patient.phone_changed_at = timezone.now()
        update_fields.append("phone_changed_at")
    patient.save(update_fields=update_fields)
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="update_details",
        target=patient,
        facility=patient.facility,
        data={"fields": changed},
    )
    if "phone" in changed and patient.verified_phone and patient.phone != patient.verified_phone:
        # A correction is not a proof: the bond on the old number ends, and nobody gains access through the
        # new one until it answers an OTP (patients.bonds).
        from health_f0.patients.bonds import phone_bond_end
        from health_f0.patients.models import BondEnd

        phone_bond_end(patient=patient, actor=actor, reason=BondEnd.PHONE_CORRECTED)
    return patient
