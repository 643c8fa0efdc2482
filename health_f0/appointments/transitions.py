"""The appointment workflow: (state, action) -> (next state, who may do it).

Besides staff roles (checked at the service's facility through facilities.access) a transition may name
two pseudo-roles: PATIENT (the account that owns the patient record, or a family member's account on the
same verified phone) and SYSTEM (background jobs, actor None).

Declining is a cancellation by the booking desk with a required reason (cancel_source "declined"), not a
status of its own: a declined booking holds no seat and blocks nothing, exactly like a cancelled one, so
every "live booking" rule stays one status list; reports tell declines apart by cancel_source.
Rescheduling keeps the state (a confirmed booking moved stays confirmed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from health_f0.appointments.models import Status
from health_f0.core.exceptions import PermissionDenied
from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities import access
from health_f0.facilities.models import Facility, Role

PATIENT = "patient"
SYSTEM = "system"

DESK_ROLES: frozenset[str] = frozenset({Role.BOOKING_DESK, Role.RECEPTION, Role.ADMINISTRATOR})
RECEPTION_ROLES: frozenset[str] = frozenset({Role.RECEPTION, Role.ADMINISTRATOR})
CLINICIAN_ROLES: frozenset[str] = frozenset({Role.TREATMENT_DOCTOR})
# Who may set a re-examination: clinicians and the desk.
REEXAM_ROLES: frozenset[str] = CLINICIAN_ROLES | DESK_ROLES
COMPLETE_ROLES: frozenset[str] = RECEPTION_ROLES | CLINICIAN_ROLES

_R, _C, _I, _D, _X, _N = (
    Status.REQUESTED,
    Status.CONFIRMED,
    Status.CHECKED_IN,
    Status.COMPLETED,
    Status.CANCELLED,
    Status.NO_SHOW,
)

APPOINTMENT_WORKFLOW = Workflow(
    "appointment",
    [
        Transition(_R, "confirm", _C, DESK_ROLES),
        Transition(_R, "decline", _X, DESK_ROLES),
        Transition(_R, "cancel", _X, DESK_ROLES | {PATIENT}),
        Transition(_C, "cancel", _X, DESK_ROLES | {PATIENT}),
        Transition(_R, "reschedule", _R, DESK_ROLES | {PATIENT}),
        Transition(_C, "reschedule", _C, DESK_ROLES | {PATIENT}),
        # A patient whose online booking was not confirmed yet may still be received on the day.
        Transition(_R, "check_in", _I, RECEPTION_ROLES),
        Transition(_C, "check_in", _I, RECEPTION_ROLES),
        Transition(_I, "complete", _D, COMPLETE_ROLES),
        Transition(_C, "no_show", _N, DESK_ROLES | {SYSTEM}),
        # Never confirmed and the day is over: the system releases it (cancel_source "system").
        Transition(_R, "expire", _X, frozenset({SYSTEM})),
    ],
)


@dataclass(frozen=True)
class PhoneHolder:
    """Someone without an account who has just proved, with an OTP texted to `phone` (E.164), that they hold
    the phone a booking was made with (the SMS link's reader). They act as the patient for the patients
    registered with that phone: the family-phone rule of access.patients_for. Only code that has verified
    such an OTP creates one; it is never a logged-in user, so every staff check sees nobody."""

    phone: str
    is_authenticated: bool = False


def owns_patient(actor: Any, patient: Any) -> bool:
    """The actor is the patient's own account or a family account allowed to act for them."""
    if isinstance(actor, PhoneHolder):
        return bool(actor.phone) and patient.phone == actor.phone
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if access.is_staff_member(actor):
        # A staff member's staff scope is not "their own": only their personal record counts.
        return bool(patient.account_id == actor.pk)
    return access.patients_for(actor).filter(pk=patient.pk).exists()


def check_actor(*, roles: frozenset[str], actor: Any, facility: Facility, patient: Any) -> str:
    """Which capacity the actor acts in ("system", "patient" or "staff"), or PermissionDenied."""
    if actor is None:
        if SYSTEM in roles:
            return SYSTEM
        raise PermissionDenied(_("Thao tác này cần người thực hiện."))
    staff_roles = roles - {PATIENT, SYSTEM}
    if staff_roles and access.can_act_at(actor, facility, staff_roles):
        return "staff"
    if PATIENT in roles and owns_patient(actor, patient):
        return PATIENT
    raise PermissionDenied(_("Bạn không có quyền thực hiện thao tác này tại cơ sở này."))
