"""The family bond: a patient's phone proved by an OTP texted to it (writes and the patient's view of it).

Accounts act for each other (a parent for the children, a relative for an elderly patient) when their
patients hold active bonds on the same number: facilities.access.own_patients_for reads
Patient.verified_phone, which only this module writes. A bond is made when a phone answers an OTP:

- a home-care registration from the portal or the app (the form is taken only with an OTP to its phone:
  registration.services.registration_accept records it for the accepted patient);
- a sign-up (an account opened with an OTP; the sign-up service calls `phone_bond_record` with SIGNUP_OTP);
- a corrected phone confirmed by an OTP to the new number: the clerk enters the code the patient reads out
  (`phone_verification_*` from the desk) or the patient types it on the portal.

A correction of Patient.phone by staff (no OTP) ends the bond on the old number (`phone_bond_end`, called by
patients.services.patient_update_details): the desk has just said the patient no longer uses it, and a number
given up may be given to someone else. Nobody gains access until the new number answers an OTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from health_f0.core.audit import audit_log
from health_f0.core.exceptions import DomainError, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.patients.models import BondEnd, BondMethod, Patient, PhoneBond

# The OTP purpose of a phone check (patients.otp.PURPOSES).
OTP_PURPOSE = "phone_verify"


def _locked(patient: Patient) -> Patient:
    return Patient.objects.select_for_update().select_related("facility").get(pk=patient.pk)


def _end_active(patient: Patient, *, actor: Any, reason: str, now: Any) -> list[int]:
    ended = []
    for bond in PhoneBond.objects.select_for_update().filter(patient=patient, ended_at__isnull=True):
        bond.ended_at = now
        bond.ended_by = actor if getattr(actor, "is_authenticated", False) else None
        bond.end_reason = reason
        bond.save(update_fields=["ended_at", "ended_by", "end_reason", "updated_at"])
        ended.append(bond.pk)
    return ended


@transaction.atomic
def phone_bond_record(
    *,
    patient: Patient,
    phone: str,
    method: str,
    actor: Any,
    evidence: str = "",
    verified_by: Any = None,
    verified_at: Any = None,
) -> PhoneBond:
    """Record that `phone` (E.164) answered an OTP for `patient` (`method`: a BondMethod; `evidence`: what
    proves it, e.g. "registration:17" or "otp:523"; `verified_by`: the staff member who entered the code).

    Guarantees: the patient holds exactly this one active bond (an earlier one ends as "replaced");
    Patient.verified_phone is `phone`; an audit row "phone_bond" names the method and the evidence (not the
    number). Call it only after checking an OTP to `phone`: it is what lets other accounts act for the
    patient."""
    if method not in BondMethod.values:
        raise DomainError(_("Cách xác thực số điện thoại không hợp lệ."), code="bond_method_invalid")
    now = timezone.now()
    locked = _locked(patient)
    replaced = _end_active(locked, actor=actor, reason=BondEnd.REPLACED, now=now)
    bond = PhoneBond.objects.create(
        patient=locked,
        phone=phone,
        method=method,
        verified_at=verified_at or now,
        verified_by=verified_by,
        evidence=evidence[:64],
    )
    locked.verified_phone = phone
    locked.save(update_fields=["verified_phone", "updated_at"])
    patient.verified_phone = phone
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="phone_bond",
        target=locked,
        facility=locked.facility,
        data={"bond": bond.pk, "method": method, "evidence": bond.evidence, "replaced": replaced},
    )
    return bond


@transaction.atomic
def phone_bond_end(*, patient: Patient, actor: Any, reason: str) -> list[int]:
    """End the patient's active bond (`reason`: a BondEnd): from now on no other account acts for the patient
    through it, and the patient's account acts only for its own record until a new number answers an OTP.
    Audited ("phone_bond_end"); returns the ended bonds' ids (none: nothing to do, nothing audited)."""
    locked = _locked(patient)
    ended = _end_active(locked, actor=actor, reason=reason, now=timezone.now())
    if locked.verified_phone:
        locked.verified_phone = ""
        locked.save(update_fields=["verified_phone", "updated_at"])
    patient.verified_phone = ""
    if ended:
        audit_log(
            actor=actor,
            action=AuditLog.Action.UPDATE,
            verb="phone_bond_end",
            target=locked,
            facility=locked.facility,
            data={"bonds": ended, "reason": reason},
        )
    return ended


# --- Checking a phone that is not proved yet (after a correction, or a desk registration) ------------


def _staff_may_verify(actor: Any, patient: Patient) -> bool:
    return access.can_act_at(actor, patient.facility, access.STATION_ACTING_ROLES)


def _check_actor(actor: Any, patient: Patient) -> bool:
    """True when staff act (at the desk), False when the patient's own account does (on the portal); else
    PermissionDenied. A family member cannot: the phone to prove is the patient's, and the bond is its own."""
    if access.is_staff_member(actor):
        if _staff_may_verify(actor, patient):
            return True
    elif getattr(actor, "is_authenticated", False) and patient.account_id == actor.pk:
        return False
    raise PermissionDenied(_("Bạn không có quyền xác thực số điện thoại của người bệnh này."))


def _check_pending(patient: Patient) -> None:
    if phone_is_verified(patient):
        raise DomainError(
            _("Số điện thoại này đã được xác thực."), code="phone_already_verified", field="code"
        )


def phone_verification_send(*, patient: Patient, actor: Any, ip: str | None) -> Any:
    """Text an OTP to the patient's current phone, to prove it (the desk's "Gửi mã xác thực", the portal's
    "Nhận mã"). The OTP service's limits apply (one code a minute, per-phone and per-network caps; RateLimited
    says how long to wait). Audited ("phone_verify_request", without the number or the code)."""
    from health_f0.patients.otp import otp_request

    by_staff = _check_actor(actor, patient)
    _check_pending(patient)
    issued = otp_request(phone=patient.phone, purpose=OTP_PURPOSE, ip=ip)
    audit_log(
        actor=actor,
        action=AuditLog.Action.UPDATE,
        verb="phone_verify_request",
        target=patient,
        facility=patient.facility,
        data={"by": "staff" if by_staff else "patient"},
    )
    return issued


def phone_verification_confirm(*, patient: Patient, actor: Any, code: str) -> PhoneBond:
    """Check the code texted by `phone_verification_send` and make the bond on the patient's current phone
    (DESK_OTP with the clerk who entered it, or PORTAL_OTP). A wrong code costs one of the OTP's tries and
    makes nothing; a right one serves once."""
    from health_f0.patients.otp import otp_consume, otp_verify

    by_staff = _check_actor(actor, patient)
    _check_pending(patient)
    phone = patient.phone
    challenge = otp_verify(phone=phone, purpose=OTP_PURPOSE, code=code)
    with transaction.atomic():
        otp_consume(challenge=challenge)
        return phone_bond_record(
            patient=patient,
            phone=phone,
            method=BondMethod.DESK_OTP if by_staff else BondMethod.PORTAL_OTP,
            actor=actor,
            evidence=f"otp:{challenge.pk}",
            verified_by=actor if by_staff else None,
        )


# --- Reads -----------------------------------------------------------------------------------------


def active_bond(patient: Patient) -> PhoneBond | None:
    return PhoneBond.objects.filter(patient=patient, ended_at__isnull=True).order_by("-verified_at").first()


def phone_is_verified(patient: Patient) -> bool:
    return bool(patient.verified_phone) and patient.verified_phone == patient.phone


@dataclass(frozen=True)
class FamilyView:
    """What an account's own patient sees on "Ai có thể thay mặt tôi": the bond, whether the current phone
    still waits for its OTP, who may act for it (the same accounts it may act for: the rule is symmetric),
    and the bonds' history."""

    patient: Patient
    bond: PhoneBond | None
    pending: bool
    members: list[Patient]
    history: list[PhoneBond]


def family_view(*, user: Any) -> FamilyView | None:
    """The account's own patient record and its family; None for an account with no patient record."""
    patient = Patient.objects.select_related("facility").filter(account=user).first()
    if patient is None:
        return None
    members = list(
        access.own_patients_for(user)
        .exclude(pk=patient.pk)
        .select_related("account")
        .order_by("full_name", "id")
    )
    history = list(PhoneBond.objects.filter(patient=patient).select_related("verified_by")[:20])
    bond = next((b for b in history if b.ended_at is None), None)
    return FamilyView(
        patient=patient, bond=bond, pending=not phone_is_verified(patient), members=members, history=history
    )
