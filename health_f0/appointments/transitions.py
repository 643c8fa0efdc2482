"""The appointment workflow: (state, action) -> (next state, who may do it, the guards that must hold).

Besides staff roles (checked at the booking's facility through facilities.access) a transition may name the
pseudo-roles of core.actors: PATIENT (the account that owns the patient record, a family member's account on
the same verified phone, or the holder of the number that answers for the booking: core.actors.PhoneHolder)
and SYSTEM (background jobs, actor None). The rules that decide whether a step may be taken now are guards on
the transitions (the patient's cut-off, a walk-in that has no slot to move, a check-in on another day, a
no-show before the visit), so the desk's buttons, the portal's flags and the API's `actions` all come from
`APPOINTMENT_WORKFLOW.available()` and no surface restates them. `appointments.services` is the only caller
of `apply()`.

Declining is a cancellation by the booking desk with a required reason (cancel_source "declined"), not a
status of its own: a declined booking holds no seat and blocks nothing, exactly like a cancelled one, so
every "live booking" rule stays one status list; reports tell declines apart by cancel_source.
Rescheduling keeps the state (a confirmed booking moved stays confirmed); so does the patient's
acknowledgement of a re-exam ("acknowledge": a step with a guard, that writes no status).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from health_f0.appointments.models import Status
from health_f0.appointments.queue_rules import ticket_policy
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.core.actors import PATIENT, PSEUDO_ROLES, SYSTEM
from health_f0.core.exceptions import DomainError, InvalidTransition
from health_f0.core.workflow import Guard, Step, Transition, Workflow
from health_f0.facilities import access
from health_f0.payments import selectors as payment_rules

_R, _C, _I, _D, _X, _N = (
    Status.REQUESTED,
    Status.CONFIRMED,
    Status.CHECKED_IN,
    Status.COMPLETED,
    Status.CANCELLED,
    Status.NO_SHOW,
)


# --- Guards ------------------------------------------------------------------------------------------


def cutoff_moment(appointment: Any) -> datetime:
    """The moment the patient's own cancel or move closes: the service's cut-off before the visit."""
    return appointment.slot_start - timedelta(hours=appointment.service.cancel_cutoff_hours)


def _cutoff_passed(appointment: Any, step: Step) -> bool:
    return step.now > cutoff_moment(appointment)


def _cutoff_message(appointment: Any, step: Step) -> str:
    hours = appointment.service.cancel_cutoff_hours
    return ngettext(
        "Chỉ được tự huỷ hoặc đổi lịch đến trước giờ hẹn %(hours)s giờ. Vui lòng gọi đường dây nóng của cơ sở.",
        "Chỉ được tự huỷ hoặc đổi lịch đến trước giờ hẹn %(hours)s giờ. Vui lòng gọi đường dây nóng của cơ sở.",
        hours,
    ) % {"hours": hours}


def _walk_in(appointment: Any, step: Step) -> bool:
    return bool(appointment.is_walk_in)


def _walk_in_message(appointment: Any, step: Step) -> str:
    return _("Lượt khám vãng lai không đổi lịch được.")


@lru_cache(maxsize=16)
def _local_day_span(now: datetime) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of `now`'s local day, as aware datetimes (a page's one `now`: worked out once)."""
    day = local_date_of(now)
    return (
        datetime.combine(day, time.min, tzinfo=LOCAL_TZ),
        datetime.combine(day + timedelta(days=1), time.min, tzinfo=LOCAL_TZ),
    )


def _not_today(appointment: Any, step: Step) -> bool:
    """The visit is not on `step.now`'s local day (local_date_of of both differ), by two comparisons."""
    start, end = _local_day_span(step.now)
    return not start <= appointment.slot_start < end


def _not_today_message(appointment: Any, step: Step) -> str:
    visit_day = local_date_of(appointment.slot_start)
    return _("Lịch hẹn này vào ngày %(day)s, không phải hôm nay.") % {"day": f"{visit_day:%d/%m/%Y}"}


def _not_yet(appointment: Any, step: Step) -> bool:
    return bool(appointment.slot_start > step.now)


def _not_yet_message(appointment: Any, step: Step) -> str:
    return _("Chưa đến giờ hẹn.")


def _only_booked_reexams() -> str:
    return _("Chỉ xác nhận được lịch tái khám đang hẹn.")


def _not_reexam(appointment: Any, step: Step) -> bool:
    return not appointment.is_reexam


def _not_reexam_message(appointment: Any, step: Step) -> str:
    return _only_booked_reexams()


def _not_called(appointment: Any, step: Step) -> bool:
    return appointment.called_at is None


def _not_called_message(appointment: Any, step: Step) -> str:
    return _("Số %(number)s chưa được gọi.") % {"number": appointment.queue_number}


def _already_called(appointment: Any, step: Step) -> bool:
    return appointment.called_at is not None


def _already_called_message(appointment: Any, step: Step) -> str:
    return _("Số %(number)s đã được gọi: không đổi đối tượng ưu tiên được nữa.") % {
        "number": appointment.queue_number
    }


def _recall_limit(appointment: Any) -> int:
    return int(ticket_policy(appointment).recall_limit)


def _recalls_used(appointment: Any, step: Step) -> bool:
    return bool(appointment.recall_count >= _recall_limit(appointment))


def _recalls_used_message(appointment: Any, step: Step) -> str:
    return _("Đã gọi lại số %(number)s %(count)s lần (tối đa %(limit)s): hãy bỏ qua số này.") % {
        "number": appointment.queue_number,
        "count": appointment.recall_count,
        "limit": _recall_limit(appointment),
    }


def _skips_left(appointment: Any) -> bool:
    """Whether one more skip still puts the ticket back in the queue (else it marks the patient absent)."""
    return appointment.skip_count + 1 < ticket_policy(appointment).skip_limit


def _last_skip(appointment: Any, step: Step) -> bool:
    return not _skips_left(appointment)


def _last_skip_message(appointment: Any, step: Step) -> str:
    return _("Đây là lần bỏ qua cuối: người bệnh được ghi nhận vắng mặt.")


def _skips_remain(appointment: Any, step: Step) -> bool:
    return _skips_left(appointment)


def _skips_remain_message(appointment: Any, step: Step) -> str:
    return _("Số này còn được bỏ qua và gọi lại sau.")


def _prepayment_required(appointment: Any, step: Step) -> bool:
    """Whether the booking's service asks for a prepayment: where it does not, "not_paid" holds whatever the
    booking (its screen: the booking desk's list answers the rows of such services once per service, not once a
    row)."""
    return bool(payment_rules.required_prepayment(appointment.service_id))


def _not_paid(appointment: Any, step: Step) -> bool:
    # Most services require no prepayment: the policy's memo answers them without booking_unpaid's call (the
    # booking desk's list asks this once a row: 100 calls a page fewer). booking_unpaid asks the same first.
    # payments.selectors is imported with this module (an import statement here cost ~0.6 µs a row) and read as
    # a module attribute, so a test's monkeypatch of it still holds.
    rules = payment_rules
    return bool(rules.required_prepayment(appointment.service_id)) and rules.booking_unpaid(appointment)


def _not_paid_message(appointment: Any, step: Step) -> str:
    return _("Dịch vụ này yêu cầu thanh toán phí khám trước; lịch hẹn chưa được thanh toán.")


# Each guard is a test and its refusal (core.workflow.Guard.when): the refusal's sentence is built only where a
# step is refused (check, apply), not where a page only asks which actions are open (available_each). Each names
# what its test reads of the booking (`reads`), so the booking desk's list answers its actions from its rows
# (Workflow.available_rows) without a booking instance. The queue's guards read the facility's queue policy
# (queue_rules.ticket_policy): a booking's own `_queue_policy` where its list attached one (the queue's tickets; a
# worklist row's room policy, queue_rules.FacilityPolicy: sql.worklist.hold_queue_policies), else read through the
# booking's facility; a checked-in row is answered from its row like the others, its room's policy read once a
# page and only where a queue guard is asked (before, each checked-in row was built as a booking, ~19 Python calls
# a row, and each called ticket read its room's policy: one query a row).
# The patient cancels or moves their booking themselves only until the cut-off; the desk at any time.
CUTOFF = Guard.when(
    "cutoff_passed",
    _cutoff_passed,
    _cutoff_message,
    capacities=frozenset({PATIENT}),
    reads=("slot_start", "service.cancel_cutoff_hours"),
)
WALK_IN = Guard.when("walk_in", _walk_in, _walk_in_message, reads=("is_walk_in",))
NOT_TODAY = Guard.when("not_today", _not_today, _not_today_message, reads=("slot_start",))
NOT_YET = Guard.when("not_yet", _not_yet, _not_yet_message, reads=("slot_start",))
NOT_REEXAM = Guard.when("not_reexam", _not_reexam, _not_reexam_message, reads=("is_reexam",))
NOT_CALLED = Guard.when("not_called", _not_called, _not_called_message, reads=("called_at",))
ALREADY_CALLED = Guard.when("already_called", _already_called, _already_called_message, reads=("called_at",))
RECALLS_USED = Guard.when(
    "recall_limit", _recalls_used, _recalls_used_message, reads=("recall_count", "_queue_policy")
)
LAST_SKIP = Guard.when("last_skip", _last_skip, _last_skip_message, reads=("skip_count", "_queue_policy"))
SKIPS_REMAIN = Guard.when(
    "skips_remain", _skips_remain, _skips_remain_message, reads=("skip_count", "_queue_policy")
)
# A booking whose service requires prepayment is confirmed or received only once its fee is paid
# (payments.selectors.booking_unpaid: no query for a service without that rule, one at most otherwise).
NOT_PAID = Guard.when(
    "not_paid",
    _not_paid,
    _not_paid_message,
    reads=("service_id", "pk"),
    screen=(("service_id",), _prepayment_required),
)

DESK_OR_PATIENT: frozenset[str] = access.BOOKING_DESK_ROLES | {PATIENT}

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
    "recall": gettext_lazy("Không gọi lại được"),
    "skip": gettext_lazy("Không bỏ qua được"),
    "leave": gettext_lazy("Không ghi nhận vắng mặt được"),
    "mark_priority": gettext_lazy("Không đánh dấu ưu tiên được"),
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
    if status == Status.NO_SHOW and appointment.checked_in_at and appointment.skip_count:
        return _("Người bệnh không có mặt khi được gọi số %(number)s (bỏ qua %(count)s lần).") % {
            "number": appointment.queue_number,
            "count": appointment.skip_count,
        }
    if status == Status.NO_SHOW:
        return _("Người bệnh đã không đến theo lịch hẹn %(slot)s.") % {
            "slot": f"{timezone.localtime(appointment.slot_start):%H:%M %d/%m/%Y}"
        }
    return str(Status(status).label) if status in Status.values else _("Trạng thái không xác định.")


def refusal_message(appointment: Any, action: str, now: datetime | None = None) -> str:
    """'Không huỷ được lịch hẹn: Người bệnh đã được tiếp đón lúc 07:31, số thứ tự 1.' A re-exam is
    acknowledged only while booked: the same sentence whatever else it is."""
    if action == "acknowledge":
        return _only_booked_reexams()
    return _("%(refused)s: %(state)s") % {
        "refused": REFUSED.get(action, _("Không thực hiện được thao tác này")),
        "state": state_sentence(appointment, now=now),
    }


def _capacities_at(roles: frozenset[str]) -> Callable[[Any], Callable[[Any], str | None]]:
    """actor -> (a booking's key for `roles`, which the patient does not hold -> the authorizer's capacity): the key
    is the booking's facility id (authorize_reads; None for the system's roles alone), and the access rule reads
    the facility's id alone (access.capacities_at), so the booking desk's list asks it without building a booking."""
    return lambda actor: access.capacities_at(actor, roles)


APPOINTMENT_WORKFLOW = Workflow(
    "appointment",
    [
        Transition(_R, "confirm", _C, access.BOOKING_DESK_ROLES, guards=(NOT_PAID,)),
        Transition(_R, "decline", _X, access.BOOKING_DESK_ROLES),
        Transition(_R, "cancel", _X, DESK_OR_PATIENT, guards=(CUTOFF,)),
        Transition(_C, "cancel", _X, DESK_OR_PATIENT, guards=(CUTOFF,)),
        Transition(_R, "reschedule", _R, DESK_OR_PATIENT, guards=(WALK_IN, CUTOFF)),
        Transition(_C, "reschedule", _C, DESK_OR_PATIENT, guards=(WALK_IN, CUTOFF)),
        # A patient whose online booking was not confirmed yet may still be received on the day.
        Transition(_R, "check_in", _I, access.RECEPTION_ROLES, guards=(NOT_TODAY, NOT_PAID)),
        Transition(_C, "check_in", _I, access.RECEPTION_ROLES, guards=(NOT_TODAY, NOT_PAID)),
        Transition(_I, "complete", _D, access.COMPLETE_ROLES),
        # Reception's queue (services.queue_*): a statutory priority group marked before the call; a called
        # patient who does not come is announced again (recall, up to the facility's limit) or skipped: back
        # in the queue behind the next K tickets, and at the facility's last skip marked absent ("leave").
        Transition(_I, "mark_priority", _I, access.QUEUE_ROLES, guards=(ALREADY_CALLED,)),
        Transition(_I, "recall", _I, access.QUEUE_ROLES, guards=(NOT_CALLED, RECALLS_USED)),
        Transition(_I, "skip", _I, access.QUEUE_ROLES, guards=(NOT_CALLED, LAST_SKIP)),
        Transition(_I, "leave", _N, access.QUEUE_ROLES, guards=(NOT_CALLED, SKIPS_REMAIN)),
        Transition(_C, "no_show", _N, access.BOOKING_DESK_ROLES | {SYSTEM}, guards=(NOT_YET,)),
        # Never confirmed and the day is over: the system releases it (cancel_source "system").
        Transition(_R, "expire", _X, frozenset({SYSTEM})),
        # Not paid by the service's prepayment deadline: the system releases it (payments.services).
        Transition(_C, "expire", _X, frozenset({SYSTEM})),
        # The patient (through the link) or the desk (on the phone) says they will come to a re-exam.
        Transition(_C, "acknowledge", _C, DESK_OR_PATIENT, guards=(NOT_REEXAM,)),
    ],
    authorize=access.authorizer(facility=lambda a: a.facility, patient=lambda a: a.patient),
    refusal=refusal_message,
    # The authorizer (access.actor_capacity_or_none) reads the booking's facility for roles with a staff role,
    # and its patient only for roles open to the patient (nothing for the system's alone): a page of bookings
    # asks once per facility and roles, and per patient for those (available_each).
    authorize_reads=lambda roles: (
        *(("facility_id",) if roles - PSEUDO_ROLES else ()),
        *(("patient_id",) if PATIENT in roles else ()),
    ),
    capacity_by_key=lambda roles: None if PATIENT in roles else _capacities_at(roles),
)


# The states whose transitions have a guard reading the booking's queue policy: a list answering its actions from
# rows gives those rows their room's policy first (sql.worklist.hold_queue_policies).
QUEUE_POLICY_STATES = frozenset(
    transition.source
    for transition in APPOINTMENT_WORKFLOW.transitions
    if any("_queue_policy" in (guard.reads or ()) for guard in transition.guards)
)


def change_deadline(appointment: Any, *, now: datetime | None = None) -> datetime | None:
    """Until when the patient may still cancel or move the booking themselves (what the portal and the API
    show), or None when they no longer may: the same transition and guards as the step itself, for the
    patient's capacity."""
    now = now or timezone.now()
    try:
        transition = APPOINTMENT_WORKFLOW.get(appointment.status, "reschedule")
    except InvalidTransition:
        return None
    step = Step(action="reschedule", actor=None, capacity=PATIENT, now=now)
    if any(guard.refuses(appointment, step) for guard in transition.guards):
        return None
    return cutoff_moment(appointment)


def may(appointment: Any, action: str, actor: Any, *, now: datetime | None = None) -> bool:
    """Whether `actor` may take this one action now (one check, where `available()` tries every action)."""
    try:
        APPOINTMENT_WORKFLOW.check(appointment, action, actor, now=now)
    except DomainError:
        return False
    return True
