"""The appointment workflow: (state, action) -> (next state, who may do it).

Besides staff roles (checked at the service's facility through facilities.access) a transition may name
two pseudo-roles: PATIENT (the account that owns the patient record, a family member's account on the
same verified phone, or the holder of the number that answers for the booking: PhoneHolder) and SYSTEM
(background jobs, actor None).

Declining is a cancellation by the booking desk with a required reason (cancel_source "declined"), not a
status of its own: a declined booking holds no seat and blocks nothing, exactly like a cancelled one, so
every "live booking" rule stays one status list; reports tell declines apart by cancel_source.
Rescheduling keeps the state (a confirmed booking moved stays confirmed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from health_f0.appointments.models import Status
from health_f0.core.exceptions import PermissionDenied
from health_f0.core.workflow import Transition, Workflow
from health_f0.facilities import access
from health_f0.facilities.models import Facility

PATIENT = "patient"
SYSTEM = "system"

DESK_ROLES: frozenset[str] = access.BOOKING_DESK_ROLES
RECEPTION_ROLES: frozenset[str] = access.RECEPTION_ROLES
CLINICIAN_ROLES: frozenset[str] = access.CLINICIAN_ROLES
REEXAM_ROLES: frozenset[str] = access.REEXAM_ROLES
COMPLETE_ROLES: frozenset[str] = access.COMPLETE_ROLES

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


# "Không … được": what the refused action was, as the desk and the patient read it.
REFUSED: dict[str, Any] = {
    "confirm": gettext_lazy("Không xác nhận được lịch hẹn"),
    "decline": gettext_lazy("Không từ chối được lịch hẹn"),
    "cancel": gettext_lazy("Không huỷ được lịch hẹn"),
    "reschedule": gettext_lazy("Không đổi được lịch hẹn"),
    "check_in": gettext_lazy("Không tiếp đón được"),
    "complete": gettext_lazy("Không ghi nhận khám xong được"),
    "no_show": gettext_lazy("Không ghi nhận vắng mặt được"),
    "expire": gettext_lazy("Không huỷ được yêu cầu quá hạn"),
}


def _moment(value: datetime | None, now: datetime) -> str:
    """'07:31' on the day of `now` (local), else '07:31 23/11/2026'."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    return f"{local:%H:%M}" if local.date() == timezone.localtime(now).date() else f"{local:%H:%M %d/%m/%Y}"


def state_sentence(appointment: Any, *, now: datetime | None = None) -> str:
    """Where the booking stands, in a sentence with the moment and the queue number of its last step
    ('Người bệnh đã được tiếp đón lúc 03:31, số thứ tự 1.'): what a refusal tells the desk or the patient."""
    from health_f0.appointments.models import CancelSource

    now = now or timezone.now()
    status = appointment.status
    if status == Status.REQUESTED:
        return _("Lịch hẹn đang chờ bộ phận đặt lịch xác nhận (gửi lúc %(at)s).") % {
            "at": _moment(appointment.created_at, now)
        }
    if status == Status.CONFIRMED:
        slot = _moment(appointment.slot_start, now)
        if appointment.confirmed_at:
            return _("Lịch hẹn đã được xác nhận lúc %(at)s, hẹn %(slot)s.") % {
                "at": _moment(appointment.confirmed_at, now),
                "slot": slot,
            }
        return _("Lịch hẹn đã được xác nhận, hẹn %(slot)s.") % {"slot": slot}
    if status == Status.CHECKED_IN:
        return _("Người bệnh đã được tiếp đón lúc %(at)s, số thứ tự %(number)s.") % {
            "at": _moment(appointment.checked_in_at, now),
            "number": appointment.queue_number,
        }
    if status == Status.COMPLETED:
        return _("Người bệnh đã khám xong lúc %(at)s.") % {"at": _moment(appointment.completed_at, now)}
    if status == Status.CANCELLED:
        at = _moment(appointment.cancelled_at, now)
        if appointment.cancel_source == CancelSource.DECLINED:
            return _("Lịch hẹn đã bị bộ phận đặt lịch từ chối lúc %(at)s.") % {"at": at}
        if appointment.cancel_source:
            return _("Lịch hẹn đã được huỷ lúc %(at)s (%(source)s).") % {
                "at": at,
                "source": str(appointment.get_cancel_source_display()).lower(),
            }
        return _("Lịch hẹn đã được huỷ lúc %(at)s.") % {"at": at}
    if status == Status.NO_SHOW:
        return _("Người bệnh đã không đến theo lịch hẹn %(slot)s.") % {
            "slot": f"{timezone.localtime(appointment.slot_start):%H:%M %d/%m/%Y}"
        }
    return str(Status(status).label) if status in Status.values else _("Trạng thái không xác định.")


def refusal_message(appointment: Any, action: str, *, now: datetime | None = None) -> str:
    """'Không huỷ được lịch hẹn: Người bệnh đã được tiếp đón lúc 07:31, số thứ tự 1.'"""
    return _("%(refused)s: %(state)s") % {
        "refused": REFUSED.get(action, _("Không thực hiện được thao tác này")),
        "state": state_sentence(appointment, now=now),
    }


@dataclass(frozen=True)
class PhoneHolder:
    """Someone without an account who has just proved, with an OTP texted to `phone` (E.164), that they hold
    the number that answers for `booking` on its SMS link (`booking_phone`). They act as the patient of that
    booking — and for any patient whose verified phone is that number (the family bond). Only code that has
    verified such an OTP creates one; it is never a logged-in user, so every staff check sees nobody."""

    phone: str
    booking: Any = None
    is_authenticated: bool = False


def booking_phone(patient: Any, booked_at: datetime) -> str:
    """The number that answers for a booking of `patient` made at `booked_at` (the SMS link's OTP goes there,
    and only its holder becomes a PhoneHolder): the patient's verified phone (proved by OTP: the bond), else
    the phone the booking was made with — the current phone, unless staff changed it after the booking was
    made. A correction proves nothing: the new number's holder booked nothing, so they answer for nothing until
    the number is proved (the desk's or the portal's OTP). "" when no number answers."""
    if patient.verified_phone:
        return str(patient.verified_phone)
    changed = patient.phone_changed_at
    if not patient.phone or (changed is not None and changed > booked_at):
        return ""
    return str(patient.phone)


def owns_patient(actor: Any, patient: Any) -> bool:
    """The actor is the patient's own account or a family account allowed to act for them, or the holder of
    a number that answers for the patient (see PhoneHolder)."""
    if isinstance(actor, PhoneHolder):
        if not actor.phone:
            return False
        if patient.verified_phone == actor.phone:
            return True
        booking = actor.booking
        return (
            booking is not None
            and booking.patient_id == patient.pk
            and booking_phone(patient, booking.created_at) == actor.phone
        )
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
