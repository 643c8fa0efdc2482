"""Appointment writes: book, confirm, decline, cancel, reschedule, check in, call the queue, complete,
no-show, re-examinations.

Guarantees that hold across processes and machines (they rest on database row locks, not on Python):

* A slot never holds more than its capacity, nor a doctor more than their seats in it. Each (service,
  slot start, doctor) has a SlotCounter row (doctor_key 0: seats of no doctor); a booking locks every
  counter of its slot (SELECT ... FOR UPDATE, in doctor-key order), compares the doctor's `booked` with
  the doctor's seats and the slot's sum with its capacity, and increments the doctor's counter in the same
  transaction, so concurrent bookings of one slot queue on those rows and the (capacity+1)-th sees it
  full. "Any doctor" is decided under the same locks: the doctor with the most free seats (ties: the
  lowest doctor id, seats of no doctor last). A slot's first booking must create the rows: creators first
  lock the Service row, so two first bookings never race on the unique key (InnoDB deadlocks two
  concurrent duplicate inserts that then want the row for update). Cancelling decrements the booking's
  own counter. The counters also answer the free-slot search with one small indexed read.
* Limits per patient (AppointmentPolicy, selectors.booking_limits): live bookings per service, per local
  day and per week are counted after the patient's row is locked, so two concurrent bookings of one
  patient cannot both pass. The desk (phone or counter) may go past a limit with a reason, which is
  audited; re-exams reserved by a clinician, the HIS or a plan are not limited.
* One patient never holds two overlapping live bookings. Every booking, reschedule and transition locks
  the patient row first, then checks the patient's live bookings for an overlap; a second concurrent
  booking of the same patient waits for the first to commit and then sees it.
* Reschedule moves the seat in one transaction: both counters are locked (in slot order, so two
  opposite moves cannot deadlock), the old one decremented and the new one incremented together; there
  is no moment when the appointment holds both seats or neither.
* Queue numbers: a QueueCounter row per (service, local day), locked while the next number is given; a
  unique (service, day, number) constraint backs it.

Lock order everywhere: patient -> appointment -> service (only to create a counter) -> counters in (slot,
doctor key) order. Every status change locks the appointment (`_locked`) and goes through `APPOINTMENT_WORKFLOW.apply`
(transition table, actor, guards such as the patient's cut-off; it writes the status and the audit row), then
queues an SMS to the patient that is sent after commit.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any, ParamSpec, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from health_f0.appointments import texts
from health_f0.appointments.models import (
    LINK_CODE_ALPHABET,
    LINK_CODE_LENGTH,
    LIVE_STATUSES,
    NO_DOCTOR,
    Appointment,
    CancelSource,
    Channel,
    Doctor,
    QueueCounter,
    ReexamPlan,
    Service,
    SlotCounter,
    Status,
    new_link_code,
)
from health_f0.appointments.reminders import reminders_cancel, reminders_schedule
from health_f0.appointments.selectors import (
    booking_limits,
    is_online,
    queue_for,
    reexam_plans_unbooked,
    request_lapses_at,
    requests_due_to_lapse,
    service_slots,
)
from health_f0.appointments.slots import Slot, local_date_of, local_day_bounds
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW
from health_f0.core.actors import PATIENT, SYSTEM, is_user
from health_f0.core.audit import audit_log
from health_f0.core.deadlocks import retry_on_deadlock
from health_f0.core.exceptions import Conflict, DomainError, NotFound, PermissionDenied, ValidationErrors
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.notifications.services import sms_enqueue
from health_f0.patients.models import Patient
from health_f0.patients.persons import Person, first_error, patient_match_or_create, person_validate

P = ParamSpec("P")
T = TypeVar("T")

SMS_KIND = "appointment"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed at reception
CODE_LENGTH = 8
ONLINE_CHANNELS = (Channel.APP, Channel.WEB)
STAFF_CHANNELS = (Channel.PHONE, Channel.DESK)


def normalize_code(code: str) -> str:
    """'k7m2-qx9p ' -> 'K7M2QX9P' (what a QR scanner or a person at the counter types)."""
    return re.sub(r"[^A-Z0-9]", "", (code or "").upper())


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _save_new(appointment: Appointment) -> None:
    """Save a new appointment with a fresh random check-in code and short-link code (drawn again, inside a
    savepoint, in the unlikely case one is taken)."""
    for _attempt in range(5):
        appointment.check_in_code = _new_code()
        appointment.link_code = new_link_code()
        try:
            with transaction.atomic():
                appointment.save()
            return
        except IntegrityError:
            taken = Appointment.objects.filter(
                Q(check_in_code=appointment.check_in_code) | Q(link_code=appointment.link_code)
            )
            if taken.exists():
                continue  # a random code was taken: draw others
            raise
    raise DomainError(  # pragma: no cover - 32^8 and 31^8 codes
        _("Không tạo được mã tiếp đón, vui lòng thử lại."), code="code_exhausted"
    )


def new_meeting_room() -> str:
    """A fresh video room name: 128 random bits in lower-case base32 (URL-safe, and unchanged by video
    services that fold room names to lower case), so no one can guess or enumerate another booking's room."""
    return "tuvan-" + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


# --- Locks -----------------------------------------------------------------------------------------


def _lock_patient(patient_id: int) -> None:
    if not Patient.objects.select_for_update().filter(pk=patient_id).values_list("pk", flat=True):
        raise NotFound(_("Không tìm thấy người bệnh."))


def _lock_service(service: Service) -> None:
    list(Service.objects.select_for_update().filter(pk=service.pk).values_list("pk", flat=True))


CounterKey = tuple[datetime, int]  # (slot start, doctor key)


def _lock_counters(service: Service, slots: list[Slot]) -> dict[CounterKey, SlotCounter]:
    """Lock every counter of these slots (creating the missing ones of their doctors under the service
    lock), in (slot, doctor key) order. Counters of doctors no longer in a slot are locked too: their
    bookings still count against the slot's capacity."""
    wanted = {(slot.start, key) for slot in slots for key in slot.doctor_keys}
    starts = sorted({slot.start for slot in slots})
    existing = set(
        SlotCounter.objects.filter(service=service, slot_start__in=starts).values_list(
            "slot_start", "doctor_key"
        )
    )
    if not wanted <= existing:
        _lock_service(service)
        for start, key in sorted(wanted - existing):
            SlotCounter.objects.get_or_create(service=service, slot_start=start, doctor_key=key)
    counters = SlotCounter.objects.select_for_update().filter(service=service, slot_start__in=starts)
    return {(c.slot_start, c.doctor_key): c for c in counters.order_by("slot_start", "doctor_key")}


def _take_seat(
    slot: Slot, counters: dict[CounterKey, SlotCounter], doctor: Doctor | None
) -> tuple[SlotCounter, Doctor | None]:
    """Under the slot's counter locks: the counter to increment for `doctor`, or for "any doctor" (None) the
    one with the most free seats (ties: lowest doctor id, seats of no doctor last). Conflict when full."""
    mine = {key: c for (start, key), c in counters.items() if start == slot.start}
    total_free = slot.capacity - sum(c.booked for c in mine.values())
    free = {key: min(slot.seats_of(key) - mine[key].booked, total_free) for key in slot.doctor_keys}
    if doctor is not None:
        if not slot.seats_of(doctor.pk):
            raise DomainError(
                _("Bác sĩ %(doctor)s không khám vào khung giờ này, vui lòng chọn giờ khác hoặc bác sĩ khác.")
                % {"doctor": doctor.display_name},
                code="doctor_unavailable",
                field="doctor",
            )
        if free[doctor.pk] <= 0:
            raise Conflict(
                _("Bác sĩ %(doctor)s đã đủ người ở khung giờ này, vui lòng chọn giờ khác hoặc bác sĩ khác.")
                % {"doctor": doctor.display_name},
                code="slot_full",
                field="slot",
            )
        return mine[doctor.pk], doctor
    open_keys = sorted((key for key, n in free.items() if n > 0), key=lambda k: (-free[k], k == NO_DOCTOR, k))
    if not open_keys:
        raise Conflict(
            _("Khung giờ này đã đủ người, vui lòng chọn giờ khác."), code="slot_full", field="slot"
        )
    key = open_keys[0]
    return mine[key], (None if key == NO_DOCTOR else Doctor.objects.get(pk=key))


def _lock_queue(service: Service, day: date) -> QueueCounter:
    counter = QueueCounter.objects.select_for_update().filter(service=service, local_date=day).first()
    if counter is None:
        _lock_service(service)
        QueueCounter.objects.get_or_create(service=service, local_date=day)
        counter = QueueCounter.objects.select_for_update().get(service=service, local_date=day)
    return counter


def _locked(appointment: Appointment) -> Appointment:
    """Lock the patient, then the appointment (no joins in the locking query: MariaDB would lock the joined
    rows too), and return a fresh copy, holding its patient and status for the visit tally (Appointment.save)."""
    _lock_patient(appointment.patient_id)
    try:
        fresh = Appointment.objects.select_for_update().get(pk=appointment.pk)
    except Appointment.DoesNotExist:
        raise NotFound(_("Không tìm thấy lịch hẹn."))
    fresh.hold_tally_state()
    return fresh


# --- Checks ----------------------------------------------------------------------------------------


def _find_slot(*, service: Service, start: datetime, now: datetime, for_staff: bool) -> Slot:
    day = local_date_of(start)
    for slot in service_slots(service=service, start=day, end=day, now=now, for_staff=for_staff):
        if slot.start == start:
            return slot
    raise DomainError(
        _("Khung giờ này không còn nhận đặt lịch (ngoài giờ làm việc, ngày nghỉ, quá sát giờ hoặc quá xa)."),
        code="slot_unavailable",
        field="slot",
    )


def _check_no_overlap(*, patient_id: int, start: datetime, end: datetime, exclude: int | None = None) -> None:
    clashes = Appointment.objects.filter(
        patient_id=patient_id,
        status__in=LIVE_STATUSES,
        is_walk_in=False,
        slot_start__lt=end,
        slot_end__gt=start,
    )
    if exclude is not None:
        clashes = clashes.exclude(pk=exclude)
    if clashes.exists():
        raise Conflict(
            _("Người bệnh đã có một lịch hẹn khác trùng thời gian này."), code="overlap", field="slot"
        )


def _check_service(service: Service) -> None:
    if not service.is_active or not service.facility.is_active:
        raise DomainError(
            _("Dịch vụ này hiện không nhận đặt lịch."), code="service_inactive", field="service"
        )


# --- Side effects ----------------------------------------------------------------------------------


def _notify(appointment: Appointment, event: str, **extra: Any) -> None:
    """Queue the patient's SMS about this change (sent after commit by sms_enqueue). Its link is the
    booking's short link: the booking's page, or a walk-in's ticket with the queue place."""
    body = texts.render(
        texts.event_for(event, online=is_online(appointment.service)),
        **{**texts.appointment_fields(appointment), **extra},
    )
    sms_enqueue(
        to=appointment.patient.phone,
        body=body,
        kind=SMS_KIND,
        facility=appointment.facility,
        subject_ref=f"appointment:{appointment.pk}",
    )


def _audit(
    appointment: Appointment, actor: Any, verb: str, action: str = AuditLog.Action.TRANSITION, **data: Any
) -> None:
    audit_log(
        actor=actor, action=action, verb=verb, target=appointment, facility=appointment.facility, data=data
    )


# --- Booking ---------------------------------------------------------------------------------------


def _live_bookings(patient_id: int, exclude: int | None) -> Any:
    qs = Appointment.objects.filter(patient_id=patient_id, status__in=LIVE_STATUSES, is_walk_in=False)
    return qs.exclude(pk=exclude) if exclude is not None else qs


def _check_limits(
    *, patient_id: int, service: Service, start: datetime, now: datetime, exclude: int | None = None
) -> None:
    """The patient's limits (selectors.booking_limits of the service's facility): live bookings of this
    service from today on (re-exams not counted), live bookings on the slot's local day, and in its week
    (Monday to Sunday).
    Called after the patient's row is locked, so a concurrent booking of the same patient is counted."""
    limits = booking_limits(service.facility)
    live = _live_bookings(patient_id, exclude)
    if limits.per_service:
        today_start, _end = local_day_bounds(local_date_of(now))
        # A re-exam the clinic reserved is its plan, not the patient's choice: it does not use up the service's
        # limit (it still counts for the day and the week).
        held = live.filter(service=service, slot_start__gte=today_start, is_reexam=False).count()
        if held >= limits.per_service:
            raise Conflict(
                _(
                    "Người bệnh đã có %(held)s lịch hẹn chưa khám của dịch vụ này (tối đa %(max)s). Vui lòng huỷ "
                    "hoặc khám xong lịch cũ trước khi đặt thêm."
                )
                % {"held": held, "max": limits.per_service},
                code="limit_service",
                field="slot",
            )
    day = local_date_of(start)
    if limits.per_day:
        day_start, day_end = local_day_bounds(day)
        if live.filter(slot_start__gte=day_start, slot_start__lt=day_end).count() >= limits.per_day:
            raise Conflict(
                _("Mỗi người bệnh được đặt tối đa %(max)s lịch hẹn trong một ngày; ngày %(day)s đã đủ.")
                % {"max": limits.per_day, "day": f"{day:%d/%m/%Y}"},
                code="limit_day",
                field="slot",
            )
    if limits.per_week:
        monday = day - timedelta(days=day.weekday())
        week_start, _end = local_day_bounds(monday)
        _start, week_end = local_day_bounds(monday + timedelta(days=6))
        if live.filter(slot_start__gte=week_start, slot_start__lt=week_end).count() >= limits.per_week:
            raise Conflict(
                _(
                    "Mỗi người bệnh được đặt tối đa %(max)s lịch hẹn trong một tuần; tuần từ %(monday)s đến "
                    "%(sunday)s đã đủ."
                )
                % {
                    "max": limits.per_week,
                    "monday": f"{monday:%d/%m/%Y}",
                    "sunday": f"{monday + timedelta(days=6):%d/%m/%Y}",
                },
                code="limit_week",
                field="slot",
            )


def _book_locked(
    *,
    patient: Patient,
    service: Service,
    slot: Slot,
    channel: str,
    actor: Any,
    status: str,
    reason: str,
    now: datetime,
    doctor: Doctor | None = None,
    limited: bool = True,
    **extra: Any,
) -> Appointment:
    """Inside a transaction: take a seat of `slot` for `patient` with `doctor` (None: any doctor) (locks: the
    patient, then the slot's counters). `limited`: the patient's limits apply (_check_limits)."""
    _lock_patient(patient.pk)
    _check_no_overlap(patient_id=patient.pk, start=slot.start, end=slot.end)
    if limited:
        _check_limits(patient_id=patient.pk, service=service, start=slot.start, now=now)
    counter, doctor = _take_seat(slot, _lock_counters(service, [slot]), doctor)
    counter.booked += 1
    counter.save(update_fields=["booked"])
    is_staff_actor = is_user(actor) and access.is_staff_member(actor)
    appointment = Appointment(
        patient=patient,
        service=service,
        facility=service.facility,
        doctor=doctor,
        slot_start=slot.start,
        slot_end=slot.end,
        channel=channel,
        status=status,
        reason=(reason or "").strip()[:300],
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        meeting_room=new_meeting_room() if is_online(service) else "",
        **extra,
    )
    if status == Status.CONFIRMED:
        appointment.confirmed_at = now
        appointment.confirmed_by = actor if is_staff_actor else None
    _save_new(appointment)
    if status == Status.CONFIRMED:
        reminders_schedule(appointment=appointment, now=now)
    return appointment


@retry_on_deadlock
def appointment_book(
    *,
    patient: Patient,
    service: Service,
    slot_start: datetime,
    channel: str,
    actor: Any,
    reason: str = "",
    doctor: Doctor | None = None,
    limits_override: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Book a place in a slot, with `doctor` or any doctor (None). The patient's account (or a family account
    on the same phone) books for app/web; the desk books by phone or at the counter. Online bookings wait for
    the desk's confirmation when the service says so; desk bookings are confirmed at once. Raises Conflict
    when the slot (or the doctor's seats) is full, the patient already has a booking at that time, or a
    limit per patient is reached; the desk may go past a limit with `limits_override` (a reason, audited)."""
    now = now or timezone.now()
    _check_service(service)
    limits_override = (limits_override or "").strip()
    if channel in ONLINE_CHANNELS:
        if not access.owns_patient(actor, patient):
            raise PermissionDenied(_("Bạn chỉ có thể đặt lịch cho bản thân hoặc người thân trong tài khoản."))
        for_staff = False
        status = Status.REQUESTED if service.requires_confirmation else Status.CONFIRMED
    elif channel in STAFF_CHANNELS:
        access.require_role_at(actor, service.facility, access.BOOKING_DESK_ROLES)
        for_staff = True
        status = Status.CONFIRMED
    else:
        raise DomainError(_("Kênh đặt lịch không hợp lệ."), code="invalid_channel", field="channel")
    if limits_override and not for_staff:
        raise PermissionDenied(_("Chỉ bộ phận đặt lịch được đặt vượt giới hạn."))
    if limits_override:
        limits_override = _required_reason(limits_override)
    slot = _find_slot(service=service, start=slot_start, now=now, for_staff=for_staff)
    with transaction.atomic():
        appointment = _book_locked(
            patient=patient,
            service=service,
            slot=slot,
            channel=channel,
            actor=actor,
            status=status,
            reason=reason,
            now=now,
            doctor=doctor,
            limited=not limits_override,
        )
        data: dict[str, Any] = {"channel": channel, "status": status, "doctor": appointment.doctor_id}
        if limits_override:
            data["limits_override"] = limits_override[:300]
        _audit(appointment, actor, "book", AuditLog.Action.CREATE, **data)
        _notify(appointment, "requested" if status == Status.REQUESTED else "confirmed")
    return appointment


@retry_on_deadlock
@transaction.atomic
def appointment_confirm(*, appointment: Appointment, actor: Any, now: datetime | None = None) -> Appointment:
    """The desk confirms an online booking; reminders are scheduled."""
    return _confirm(appointment, actor, now or timezone.now())


def _confirm(appointment: Appointment, actor: Any, now: datetime) -> Appointment:
    """Inside a transaction: confirm, schedule the reminders, audit and text the patient."""
    appointment = _locked(appointment)
    APPOINTMENT_WORKFLOW.apply(
        appointment, "confirm", actor, now=now, fields={"confirmed_at": now, "confirmed_by": actor}
    )
    reminders_schedule(appointment=appointment, now=now)
    _notify(appointment, "confirmed")
    return appointment


def _counter_of(appointment: Appointment) -> SlotCounter | None:
    """The appointment's own seat counter, locked (a cancel holds no other counter of the slot)."""
    return (
        SlotCounter.objects.select_for_update()
        .filter(
            service_id=appointment.service_id,
            slot_start=appointment.slot_start,
            doctor_key=appointment.doctor_id or NO_DOCTOR,
        )
        .first()
    )


def _release_seat(appointment: Appointment) -> None:
    if appointment.is_walk_in:
        return
    counter = _counter_of(appointment)
    if counter is not None and counter.booked > 0:
        counter.booked -= 1
        counter.save(update_fields=["booked"])


def _cancel(
    appointment: Appointment, *, action: str, actor: Any, reason: str, now: datetime, event: str
) -> Appointment:
    appointment = _locked(appointment)
    step = APPOINTMENT_WORKFLOW.check(appointment, action, actor, now=now)
    source = {
        "decline": CancelSource.DECLINED,
        "expire": CancelSource.SYSTEM,
    }.get(action, CancelSource.PATIENT if step.capacity == PATIENT else CancelSource.STAFF)
    _release_seat(appointment)
    reminders_cancel(appointment=appointment)
    APPOINTMENT_WORKFLOW.apply(
        appointment,
        action,
        actor,
        now=now,
        fields={
            "cancelled_at": now,
            "cancelled_by": actor if is_user(actor) else None,
            "cancel_source": source,
            "cancel_reason": reason[:300],
        },
        audit={"reason": reason, "source": source},
    )
    _refund_after_commit(appointment.pk)
    if event == "declined":
        # The reason is what the patient needs (the text takes two segments for it if need be).
        _notify(appointment, event, reason=reason if reason.endswith((".", "!", "?")) else f"{reason}.")
    elif event == "cancelled":
        by_facility = "" if source == CancelSource.PATIENT else "Co so da huy lich."
        _notify(appointment, event, reason=by_facility)
    else:
        _notify(appointment, event)
    return appointment


def _refund_after_commit(appointment_id: int) -> None:
    """A prepaid booking's fee goes back as soon as its cancellation commits (payments' minute job stays the
    safety net); the refund call to the gateway runs outside this transaction."""

    def refund() -> None:
        from health_f0.payments.services import booking_cancelled_refund

        booking_cancelled_refund(appointment_id=appointment_id)

    transaction.on_commit(refund, robust=True)


def _required_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise DomainError(_("Vui lòng nhập lý do (ít nhất 5 ký tự)."), code="reason_required", field="reason")
    return reason


@retry_on_deadlock
@transaction.atomic
def _cancel_step(
    appointment: Appointment, action: str, *, actor: Any, reason: str, now: datetime | None
) -> Appointment:
    """A decline or a cancel as one transaction (run again on a deadlock)."""
    event = {"decline": "declined", "cancel": "cancelled"}[action]
    return _cancel(
        appointment, action=action, actor=actor, reason=reason, now=now or timezone.now(), event=event
    )


def appointment_decline(
    *, appointment: Appointment, actor: Any, reason: str, now: datetime | None = None
) -> Appointment:
    """The desk declines an online booking (reason required, texted to the patient); the seat is freed."""
    return _cancel_step(appointment, "decline", actor=actor, reason=_required_reason(reason), now=now)


def appointment_cancel(
    *, appointment: Appointment, actor: Any, reason: str = "", now: datetime | None = None
) -> Appointment:
    """Cancel: the patient until the service's cut-off before the visit, the desk at any time (with a
    reason). The seat is freed and pending reminders are cancelled."""
    reason = (reason or "").strip()
    if (
        is_user(actor)
        and access.is_staff_member(actor)
        and not access.owns_patient(actor, appointment.patient)
    ):
        reason = _required_reason(reason)
    return _cancel_step(appointment, "cancel", actor=actor, reason=reason, now=now)


@retry_on_deadlock
@transaction.atomic
def appointment_reschedule(
    *,
    appointment: Appointment,
    actor: Any,
    slot_start: datetime,
    confirm: bool = False,
    now: datetime | None = None,
) -> Appointment:
    """Move a live booking to another slot of the same service, atomically: the old seat is released and
    the new one taken in one transaction under both slots' counter locks. The booking keeps its doctor
    (the new slot must have a free seat of theirs); a booking without a doctor takes any doctor's seat.
    The patient's day and week limits apply at the new time (the booking itself not counted). Reminders of the old time are
    cancelled and new ones scheduled for the new time. With `confirm`, the desk also confirms a request at
    its new time in the same step: both steps are audited and the patient gets ONE SMS (the confirmation,
    with the new time and the check-in code), not a "moved" text followed by a "confirmed" one."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    # The transition, the actor, and its guards (a walk-in has no slot to move; the patient's cut-off).
    capacity = APPOINTMENT_WORKFLOW.check(appointment, "reschedule", actor, now=now).capacity
    service = appointment.service
    slot = _find_slot(service=service, start=slot_start, now=now, for_staff=capacity != PATIENT)
    old_start = appointment.slot_start
    if slot.start == old_start:
        raise DomainError(
            _("Vui lòng chọn một khung giờ khác giờ hẹn hiện tại."), code="same_slot", field="slot"
        )
    _check_no_overlap(
        patient_id=appointment.patient_id, start=slot.start, end=slot.end, exclude=appointment.pk
    )
    if not appointment.is_reexam and capacity == PATIENT:
        _check_limits(
            patient_id=appointment.patient_id,
            service=service,
            start=slot.start,
            now=now,
            exclude=appointment.pk,
        )
    # Both slots' counters, locked together in (slot, doctor) order; the old slot as computed now, or
    # (a slot no longer in the schedule) just its existing counters.
    old_slots = service_slots(
        service=service, start=local_date_of(old_start), end=local_date_of(old_start), now=now, for_staff=True
    )
    old_slot = next((s for s in old_slots if s.start == old_start), Slot(old_start, appointment.slot_end, 0))
    counters = _lock_counters(service, [old_slot, slot])
    new, doctor = _take_seat(slot, counters, appointment.doctor)
    old = counters.get((old_start, appointment.doctor_id or NO_DOCTOR))
    if old is not None and old.booked > 0:
        old.booked -= 1
        old.save(update_fields=["booked"])
    new.booked += 1
    new.save(update_fields=["booked"])
    reminders_cancel(appointment=appointment)
    APPOINTMENT_WORKFLOW.apply(
        appointment,
        "reschedule",
        actor,
        now=now,
        fields={
            "slot_start": slot.start,
            "slot_end": slot.end,
            "doctor": doctor,
            "rescheduled_count": appointment.rescheduled_count + 1,
            # The patient who moves it knows the new time; a move by the desk needs their acknowledgement again.
            "patient_confirmed_at": now if capacity == PATIENT else None,
        },
        audit={"old": old_start.isoformat(), "new": slot.start.isoformat()},
    )
    if confirm and appointment.status == Status.REQUESTED:
        return _confirm(appointment, actor, now)
    if appointment.status == Status.CONFIRMED:
        reminders_schedule(appointment=appointment, now=now)
    _notify(appointment, "rescheduled")
    return appointment


# --- Check-in and queue ----------------------------------------------------------------------------


def _next_number(service: Service, day: date) -> int:
    counter = _lock_queue(service, day)
    counter.last_number += 1
    counter.save(update_fields=["last_number"])
    return counter.last_number


@retry_on_deadlock
@transaction.atomic
def appointment_check_in(*, code: str, actor: Any, now: datetime | None = None) -> Appointment:
    """Reception checks a booked patient in by the booking's code (QR or typed) on the day of the visit;
    the patient gets the next queue number of the service for the day."""
    now = now or timezone.now()
    found = Appointment.objects.filter(check_in_code=normalize_code(code)).first()
    if found is None or not access.can_act_at(actor, found.facility, access.RECEPTION_ROLES):
        raise NotFound(_("Không tìm thấy lịch hẹn với mã này."))
    appointment = _locked(found)
    # Checked (state, actor, "not today") before a queue number is spent.
    APPOINTMENT_WORKFLOW.check(appointment, "check_in", actor, now=now)
    today = local_date_of(now)
    number = _next_number(appointment.service, today)
    APPOINTMENT_WORKFLOW.apply(
        appointment,
        "check_in",
        actor,
        now=now,
        fields={"checked_in_at": now, "checked_in_by": actor, "queue_date": today, "queue_number": number},
        audit={"queue_number": number},
    )
    reminders_cancel(appointment=appointment)
    _notify(appointment, "checked_in", number=appointment.queue_number)
    _turn_notices(appointment.service, today, now, at_counter=appointment)
    return appointment


@retry_on_deadlock
@transaction.atomic
def walk_in_register(
    *, patient: Patient, service: Service, actor: Any, reason: str = "", now: datetime | None = None
) -> Appointment:
    """A patient without a booking, received at the counter: a checked-in ticket (channel desk) with the
    next queue number. Walk-ins take no slot seat; booked patients keep their precedence when called."""
    now = now or timezone.now()
    access.require_role_at(actor, service.facility, access.RECEPTION_ROLES)
    _check_service(service)
    _lock_patient(patient.pk)
    today = local_date_of(now)
    appointment = Appointment(
        patient=patient,
        service=service,
        facility=service.facility,
        slot_start=now,
        slot_end=now + timedelta(minutes=service.duration_minutes),
        channel=Channel.DESK,
        status=Status.CHECKED_IN,
        reason=(reason or "").strip()[:300],
        created_by=actor,
        is_walk_in=True,
        checked_in_at=now,
        checked_in_by=actor,
        queue_date=today,
        queue_number=_next_number(service, today),
    )
    _save_new(appointment)
    _audit(appointment, actor, "walk_in", AuditLog.Action.CREATE, queue_number=appointment.queue_number)
    _notify(appointment, "checked_in", number=appointment.queue_number)
    _turn_notices(service, today, now, at_counter=appointment)
    return appointment


@retry_on_deadlock
@transaction.atomic
def queue_call_next(*, service: Service, actor: Any, now: datetime | None = None) -> Appointment | None:
    """Call the next waiting ticket of the service today, in calling order (queue_rules: priority groups,
    then the booked priority of the service or its facility, skipped tickets behind the next K). Calls of
    one service queue on the day's counter row, so two callers never call the same ticket."""
    now = now or timezone.now()
    access.require_role_at(actor, service.facility, access.QUEUE_ROLES)
    today = local_date_of(now)
    _lock_queue(service, today)
    queue = queue_for(service=service, day=today)
    if not queue.waiting:
        return None
    ticket = queue.waiting[0]
    Appointment.objects.filter(pk=ticket.pk).update(
        called_at=now, announced_at=now, requeued_at=None, updated_at=now
    )
    ticket.called_at = ticket.announced_at = now
    ticket.requeued_at = None
    _audit(
        ticket,
        actor,
        "call",
        AuditLog.Action.UPDATE,
        queue_number=ticket.queue_number,
        priority_group=ticket.priority_group,
        skips=ticket.skip_count,
    )
    _turn_notices(service, today, now)
    return ticket


def _queue_ticket_locked(appointment: Appointment, actor: Any) -> Appointment:
    """Lock a ticket of a queue at a facility where the actor works the queue (else NotFound: no telling
    whether the ticket exists)."""
    if not access.can_act_at(actor, appointment.facility, access.QUEUE_ROLES):
        raise NotFound(_("Không tìm thấy số thứ tự này."))
    return _locked(appointment)


@retry_on_deadlock
@transaction.atomic
def queue_recall(*, appointment: Appointment, actor: Any, now: datetime | None = None) -> Appointment:
    """ "Gọi lại": announce a called number again (the hall display speaks it again); counted, up to the
    facility's recall limit (the workflow's guard)."""
    now = now or timezone.now()
    ticket = _queue_ticket_locked(appointment, actor)
    count = ticket.recall_count + 1
    APPOINTMENT_WORKFLOW.apply(
        ticket,
        "recall",
        actor,
        now=now,
        fields={"recall_count": count, "announced_at": now},
        audit={"queue_number": ticket.queue_number, "recall_count": count},
    )
    return ticket


@retry_on_deadlock
@transaction.atomic
def queue_skip(*, appointment: Appointment, actor: Any, now: datetime | None = None) -> Appointment:
    """ "Bỏ qua": a called patient who does not come goes back in the queue, behind the next `skip_back`
    tickets (queue_rules), and may be called again. The facility's `skip_limit`-th skip instead marks the
    patient absent (no-show): the ticket leaves the queue. The workflow's guards decide which step it is."""
    now = now or timezone.now()
    ticket = _queue_ticket_locked(appointment, actor)
    count = ticket.skip_count + 1
    audit = {"queue_number": ticket.queue_number, "skip_count": count}
    if APPOINTMENT_WORKFLOW.can(ticket, "skip", actor, now=now):
        APPOINTMENT_WORKFLOW.apply(
            ticket,
            "skip",
            actor,
            now=now,
            fields={"skip_count": count, "called_at": None, "requeued_at": now, "turn_notified_at": None},
            audit=audit,
        )
    else:
        APPOINTMENT_WORKFLOW.apply(ticket, "leave", actor, now=now, fields={"skip_count": count}, audit=audit)
    return ticket


@retry_on_deadlock
@transaction.atomic
def queue_mark_priority(
    *, appointment: Appointment, group: str, note: str, actor: Any, now: datetime | None = None
) -> Appointment:
    """Reception marks (or clears, group "") a statutory priority group on a waiting ticket, with a note;
    the group moves the ticket ahead of the rest (emergencies first). A group suggested from the date of
    birth is recorded as such, but only this step (staff's confirmation) applies it. Audited: who, when,
    which group (from and to), the note, the patient's age."""
    from health_f0.appointments.models import PriorityGroup
    from health_f0.appointments.queue_rules import age_on, queue_policy, suggested_group

    now = now or timezone.now()
    group = (group or "").strip()
    note = " ".join((note or "").split())
    if group and group not in PriorityGroup.values:
        raise DomainError(_("Đối tượng ưu tiên không hợp lệ."), code="priority_group_invalid", field="group")
    if len(note) > 200:
        raise DomainError(_("Ghi chú tối đa 200 ký tự."), code="priority_note_too_long", field="note")
    ticket = _queue_ticket_locked(appointment, actor)
    if group == ticket.priority_group and note == ticket.priority_note:
        return ticket
    if not group and ticket.priority_group and not note:
        raise DomainError(_("Vui lòng ghi lý do bỏ ưu tiên."), code="priority_clear_needs_note", field="note")
    today = local_date_of(now)
    dob = ticket.patient.date_of_birth
    APPOINTMENT_WORKFLOW.apply(
        ticket,
        "mark_priority",
        actor,
        now=now,
        fields={
            "priority_group": group,
            "priority_note": note,
            "priority_marked_at": now,
            "priority_marked_by": actor if is_user(actor) else None,
        },
        audit={
            "queue_number": ticket.queue_number,
            "group_from": ticket.priority_group,
            "group": group,
            "note": note,
            "age": age_on(dob, today),
            "suggested": suggested_group(dob, today, queue_policy(ticket.facility)) or "",
        },
    )
    return ticket


def _turn_notices(
    service: Service, day: date, now: datetime, *, at_counter: Appointment | None = None
) -> int:
    """ "Almost your turn": an SMS, once per ticket, to each waiting patient with at most
    `service.turn_notice_ahead` tickets before them in calling order, so nobody has to sit by the door.
    A ticket that is that close already when issued (`at_counter`: the patient is at the counter with it)
    is marked without a message. Runs under the queue's lock (calls) or right after a number is issued;
    the conditional update makes it once per ticket even so. Returns how many SMS were queued."""
    limit = service.turn_notice_ahead
    if not limit:
        return 0
    sent = 0
    for ahead, ticket in enumerate(queue_for(service=service, day=day).waiting[: limit + 1]):
        if ticket.turn_notified_at is not None:
            continue
        if not Appointment.objects.filter(pk=ticket.pk, turn_notified_at__isnull=True).update(
            turn_notified_at=now
        ):
            continue
        if (at_counter is not None and ticket.pk == at_counter.pk) or not ticket.patient.phone:
            continue
        _notify(ticket, "turn_next" if ahead == 0 else "turn_soon", number=ticket.queue_number, ahead=ahead)
        sent += 1
    return sent


@retry_on_deadlock
@transaction.atomic
def appointment_complete(*, appointment: Appointment, actor: Any, now: datetime | None = None) -> Appointment:
    """The visit is over. A re-exam of a recurring plan books the plan's next re-exam."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    APPOINTMENT_WORKFLOW.apply(appointment, "complete", actor, now=now, fields={"completed_at": now})
    if appointment.reexam_plan_id:
        plan = ReexamPlan.objects.select_for_update().get(pk=appointment.reexam_plan_id)
        if plan.is_active:
            _plan_advance(
                plan, after=local_date_of(appointment.slot_start), actor=actor, now=now, reexam_of=appointment
            )
    return appointment


@transaction.atomic
def appointment_mark_no_show(
    *, appointment: Appointment, actor: Any, now: datetime | None = None
) -> Appointment:
    """A confirmed patient did not come (by the system after the day ends, or by the desk)."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    APPOINTMENT_WORKFLOW.apply(appointment, "no_show", actor, now=now)
    reminders_cancel(appointment=appointment)
    _notify(appointment, "no_show")
    return appointment


def no_show_sweep(*, now: datetime | None = None, limit: int = 5000) -> tuple[int, int]:
    """After a local day ends: confirmed bookings of earlier days not checked in become no-shows; online
    requests never confirmed are released (cancelled by the system). Returns (no-shows, expired). Each
    appointment is its own transaction, so a re-run (or two workers) never does anything twice."""
    now = now or timezone.now()
    start_of_today, _ = local_day_bounds(local_date_of(now))
    past = Appointment.objects.filter(slot_start__lt=start_of_today, is_walk_in=False)
    no_shows = expired = 0
    for appointment in past.filter(status=Status.CONFIRMED).order_by("pk")[:limit]:
        try:
            appointment_mark_no_show(appointment=appointment, actor=None, now=now)
            no_shows += 1
        except DomainError:  # changed meanwhile (checked in late, cancelled): leave it
            continue
    for appointment in past.filter(status=Status.REQUESTED).order_by("pk")[:limit]:
        try:
            with transaction.atomic():
                _cancel(
                    appointment,
                    action="expire",
                    actor=None,
                    reason="Quá ngày hẹn mà chưa được xác nhận",
                    now=now,
                    event="expired",
                )
            expired += 1
        except DomainError:
            continue
    return no_shows, expired


def requests_lapse(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Online requests the desk has not confirmed by their lapse moment (the service's minimum notice before
    the visit, selectors.request_lapses_at) lapse: the seat is freed, the request is cancelled by the system
    and the patient is texted that it was not confirmed, with the booking's link to book again, while there
    is still time not to travel. Each request is its own transaction; a request confirmed (or cancelled)
    meanwhile is left alone, so a re-run or a second worker never does anything twice. Returns how many
    lapsed."""
    now = now or timezone.now()
    lapsed = 0
    for appointment_id in requests_due_to_lapse(now=now, limit=limit):
        try:
            with transaction.atomic():
                # Locked and read again: confirmed or moved to a later time since the list was read?
                appointment = (
                    Appointment.objects.select_for_update().select_related("service").get(pk=appointment_id)
                )
                lapses_at = request_lapses_at(appointment)
                if lapses_at is None or lapses_at > now:
                    continue
                _cancel(
                    appointment,
                    action="expire",
                    actor=None,
                    reason="Bộ phận đặt lịch chưa xác nhận trước giờ hẹn "
                    f"{appointment.service.min_notice_hours} giờ",
                    now=now,
                    event="expired",
                )
            lapsed += 1
        except DomainError:  # confirmed or cancelled between the read and the lock: leave it
            continue
    return lapsed


@retry_on_deadlock
@transaction.atomic
def appointment_release_unpaid(
    *, appointment: Appointment, reason: str, now: datetime | None = None
) -> Appointment:
    """A booking that had to be paid ahead and was not by the deadline (payments.services decides): the
    system cancels it (cancel_source "system"), frees the seat and texts the patient. A booking no longer
    requested or confirmed raises InvalidTransition and is left alone."""
    return _cancel(
        appointment, action="expire", actor=None, reason=reason, now=now or timezone.now(), event="unpaid"
    )


# --- Re-examinations -------------------------------------------------------------------------------


def _reexam_book(
    *,
    patient: Patient,
    service: Service,
    day: date,
    actor: Any,
    now: datetime,
    plan: ReexamPlan | None = None,
    reexam_of: Appointment | None = None,
    search_days: int = 7,
    reason: str = "",
) -> Appointment:
    """Reserve the first free slot on `day` (or the next days, up to `search_days`) as a confirmed
    re-exam, and schedule its reminders. Each try is a savepoint: a slot that fills up meanwhile, or
    clashes with the patient's other booking, is skipped."""
    first = max(day, local_date_of(now))
    for candidate in service_slots(
        service=service, start=first, end=first + timedelta(days=search_days), now=now, for_staff=True
    ):
        try:
            with transaction.atomic():
                appointment = _book_locked(
                    patient=patient,
                    service=service,
                    slot=candidate,
                    channel=Channel.DESK,
                    actor=actor,
                    status=Status.CONFIRMED,
                    reason=reason or "Tái khám",
                    now=now,
                    limited=False,  # a clinician's (or the HIS's, a plan's) re-exam is not the patient's choice
                    is_reexam=True,
                    reexam_plan=plan,
                    reexam_of=reexam_of,
                )
        except Conflict:
            continue
        _audit(appointment, actor, "reexam", AuditLog.Action.CREATE, plan=plan.pk if plan else None)
        _notify(appointment, "reexam")
        return appointment
    raise Conflict(
        _("Không còn chỗ trống từ ngày %(first)s đến %(last)s.")
        % {"first": f"{first:%d/%m/%Y}", "last": f"{first + timedelta(days=search_days):%d/%m/%Y}"},
        code="no_free_slot",
    )


@retry_on_deadlock
@transaction.atomic
def reexam_schedule(
    *,
    patient: Patient,
    service: Service,
    day: date,
    actor: Any,
    reexam_of: Appointment | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> Appointment:
    """A clinician (or the desk) sets a single re-exam date: a place is reserved (confirmed, is_reexam) on
    that day or the first day after with a free place, and reminders are scheduled."""
    access.require_role_at(actor, service.facility, access.REEXAM_ROLES)
    _check_service(service)
    return _reexam_book(
        patient=patient,
        service=service,
        day=day,
        actor=actor,
        now=now or timezone.now(),
        reexam_of=reexam_of,
        reason=reason,
    )


@transaction.atomic
def reexam_schedule_from_his(
    *, patient: Patient, service: Service, day: date, reason: str = "", now: datetime | None = None
) -> Appointment:
    """A re-exam slip imported from a hospital's HIS (his.imports): the HIS already decided the re-exam, so
    the system books it (actor None, no staff-role check) exactly as reexam_schedule does: a confirmed
    is_reexam place on `day` or the first day after with one, and the same reminders. Conflict
    (no_free_slot, ...) when there is none; the caller leaves the slip to the booking desk."""
    return _reexam_book(
        patient=patient, service=service, day=day, actor=None, now=now or timezone.now(), reason=reason
    )


@retry_on_deadlock
@transaction.atomic
def reexam_plan_create(
    *,
    patient: Patient,
    service: Service,
    first_date: date,
    interval_weeks: int,
    actor: Any,
    programme: str = "",
    clinician_name: str = "",
    end_date: date | None = None,
    now: datetime | None = None,
) -> ReexamPlan:
    """A recurring re-exam programme (e.g. every 4 weeks): the first re-exam is reserved now; each
    completed visit books the next one."""
    access.require_role_at(actor, service.facility, access.REEXAM_ROLES)
    _check_service(service)
    if not 1 <= interval_weeks <= 52:
        raise DomainError(
            _("Khoảng cách tái khám từ 1 đến 52 tuần."), code="invalid_interval", field="interval_weeks"
        )
    plan = ReexamPlan.objects.create(
        patient=patient,
        service=service,
        facility=service.facility,
        programme=programme[:120],
        clinician_name=clinician_name[:120],
        created_by=actor,
        interval_weeks=interval_weeks,
        next_date=first_date,
        end_date=end_date,
    )
    audit_log(
        actor=actor, action=AuditLog.Action.CREATE, verb="reexam_plan", target=plan, facility=service.facility
    )
    _reexam_book(
        patient=patient, service=service, day=first_date, actor=actor, now=now or timezone.now(), plan=plan
    )
    return plan


def _plan_close_if_over(plan: ReexamPlan, next_date: date) -> bool:
    """A plan whose next re-exam would fall after its end date is over: close it (True)."""
    if plan.end_date and next_date > plan.end_date:
        plan.is_active = False
        plan.save(update_fields=["is_active", "updated_at"])
        return True
    return False


def _plan_advance(
    plan: ReexamPlan, *, after: date, actor: Any, now: datetime, reexam_of: Appointment | None = None
) -> Appointment | None:
    next_date = after + timedelta(weeks=plan.interval_weeks)
    if _plan_close_if_over(plan, next_date):
        return None
    plan.next_date = next_date
    plan.save(update_fields=["next_date", "updated_at"])
    try:
        with transaction.atomic():
            return _reexam_book(
                patient=plan.patient,
                service=plan.service,
                day=next_date,
                actor=actor,
                now=now,
                plan=plan,
                reexam_of=reexam_of,
            )
    except Conflict:  # no place that week: the desk's re-exam worklist shows the plan without a booking
        return None


@transaction.atomic
def reexam_acknowledge(*, appointment: Appointment, actor: Any, now: datetime | None = None) -> Appointment:
    """The patient says they will come (through the link, or to the desk on the phone)."""
    now = now or timezone.now()
    appointment = _locked(appointment)
    # A step that keeps the state (a confirmed re-exam; the patient or the desk): an update in the audit.
    APPOINTMENT_WORKFLOW.apply(
        appointment,
        "acknowledge",
        actor,
        now=now,
        fields={"patient_confirmed_at": now},
        audit_action=AuditLog.Action.UPDATE,
    )
    return appointment


# --- Desk helpers: re-exam calls, patients met on the phone or at the counter ---------------------

CALL_OUTCOMES: dict[str, Any] = {
    "will_come": gettext_lazy("Đã gọi, sẽ đến"),
    "no_answer": gettext_lazy("Không nghe máy"),
    "other": gettext_lazy("Đã gọi, ghi chú"),
}


@transaction.atomic
def reexam_call_record(
    *, appointment: Appointment, actor: Any, outcome: str, note: str = "", now: datetime | None = None
) -> Appointment:
    """The desk records a call about a re-exam: "will_come" (only for a reserved re-exam: the patient's
    acknowledgement is set), "no_answer" or "other" (with a note). Each call is an audit row, which the
    re-exam worklist reads back."""
    if outcome not in CALL_OUTCOMES:
        raise DomainError(_("Kết quả cuộc gọi không hợp lệ."), code="invalid_outcome", field="outcome")
    note = (note or "").strip()[:300]
    if outcome == "other" and not note:
        raise DomainError(_("Vui lòng ghi nội dung cuộc gọi."), code="note_required", field="note")
    appointment = _locked(appointment)
    if not appointment.is_reexam:
        raise DomainError(_("Đây không phải lịch tái khám."), code="not_reexam")
    access.require_role_at(actor, appointment.facility, access.BOOKING_DESK_ROLES)
    if outcome == "will_come":
        APPOINTMENT_WORKFLOW.check(appointment, "acknowledge", actor, now=now)
        appointment.patient_confirmed_at = now or timezone.now()
        appointment.save(update_fields=["patient_confirmed_at", "updated_at"])
    _audit(appointment, actor, "reexam_call", AuditLog.Action.UPDATE, outcome=outcome, note=note)
    return appointment


def _managing_facility(facility: Any) -> Any:
    """The health centre or hospital a clinic room belongs to (patients are managed there)."""
    from health_f0.facilities.models import Facility, FacilityKind

    ids = [int(part) for part in facility.path.strip("/").split("/") if part]
    centres = {
        f.pk: f
        for f in Facility.objects.filter(
            id__in=ids, kind__in=(FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL)
        )
    }
    for facility_id in reversed(ids):
        if facility_id in centres:
            return centres[facility_id]
    return facility


@transaction.atomic
def booking_patient_create(
    *,
    actor: Any,
    service: Service,
    full_name: str,
    date_of_birth: date,
    sex: str,
    phone: str,
    cccd: str = "",
    bhyt: str = "",
) -> Patient:
    """A person booking by phone or at the counter with no record yet: name, date of birth, sex, phone,
    optionally CCCD/BHYT (patients.persons' rules). Managed by the service's health centre. The same person
    (same phone, date of birth and name) already on record is returned instead of a duplicate."""
    access.require_role_at(actor, service.facility, access.BOOKING_DESK_ROLES)
    try:
        person = person_validate(
            full_name=full_name, date_of_birth=date_of_birth, sex=sex, phone=phone, cccd=cccd, bhyt=bhyt
        )
    except ValidationErrors as exc:
        raise first_error(exc) from None  # the desk's form shows one error at a time
    return _patient_for(service, person, actor=actor)


def _patient_for(service: Service, person: dict[str, Any], *, actor: Any) -> Patient:
    """The patient on record with the same phone, date of birth and name, else a new patient managed by the
    service's health centre (address unknown: ward 0). `person`: values cleaned by person_validate."""
    return patient_match_or_create(**person, facility=_managing_facility(service.facility), actor=actor)


# A person the desk meets on the phone or at the counter with no record yet (booking_patient_create checks it).
NewPatient = Person


def _new_patient_for(*, actor: Any, service: Service, person: Person, consent_channel: str) -> Patient:
    """Inside the caller's transaction: the person's record (or the same person already on record) and
    the oral consent they gave, if the desk recorded one."""
    patient = booking_patient_create(actor=actor, service=service, **asdict(person))
    if consent_channel:
        from health_f0.privacy.models import ConsentMethod
        from health_f0.privacy.services import consent_record

        consent_record(
            channel=consent_channel,
            method=ConsentMethod.ORAL,
            patient=patient,
            facility=service.facility,
            recorded_by=actor,
        )
    return patient


@retry_on_deadlock
def appointment_book_new_patient(
    *,
    person: Person,
    service: Service,
    slot_start: datetime,
    channel: str,
    actor: Any,
    reason: str = "",
    consent_channel: str = "",
    doctor: Doctor | None = None,
    limits_override: str = "",
    now: datetime | None = None,
) -> Appointment:
    """The desk books by phone (or at the counter) for someone with no record: the patient record, their
    oral consent and the booking are one transaction, so a refused booking (slot full, overlap, service
    closed) leaves no new patient behind. Same checks and guarantees as booking_patient_create and
    appointment_book."""
    with transaction.atomic():
        patient = _new_patient_for(
            actor=actor, service=service, person=person, consent_channel=consent_channel
        )
        return appointment_book(
            patient=patient,
            service=service,
            slot_start=slot_start,
            channel=channel,
            actor=actor,
            reason=reason,
            doctor=doctor,
            limits_override=limits_override,
            now=now,
        )


@retry_on_deadlock
def walk_in_register_new_patient(
    *,
    person: Person,
    service: Service,
    actor: Any,
    reason: str = "",
    consent_channel: str = "",
    now: datetime | None = None,
) -> Appointment:
    """Reception receives someone with no booking and no record: the patient record, their oral consent and
    the walk-in ticket are one transaction (a refused ticket leaves no new patient behind)."""
    with transaction.atomic():
        patient = _new_patient_for(
            actor=actor, service=service, person=person, consent_channel=consent_channel
        )
        return walk_in_register(patient=patient, service=service, actor=actor, reason=reason, now=now)


__all__ = [
    "LINK_CODE_ALPHABET",
    "LINK_CODE_LENGTH",
    "NewPatient",
    "SYSTEM",
    "appointment_book",
    "appointment_book_new_patient",
    "appointment_cancel",
    "appointment_check_in",
    "appointment_complete",
    "appointment_confirm",
    "appointment_decline",
    "appointment_mark_no_show",
    "appointment_reschedule",
    "booking_patient_create",
    "no_show_sweep",
    "requests_lapse",
    "normalize_code",
    "queue_call_next",
    "reexam_acknowledge",
    "reexam_call_record",
    "reexam_plan_create",
    "reexam_schedule",
    "walk_in_register",
    "walk_in_register_new_patient",
]


# --- Booking without an account (public API / portal): phone verified by OTP -----------------------


@retry_on_deadlock
def appointment_book_guest(
    *,
    service: Service,
    slot_start: datetime,
    full_name: str,
    date_of_birth: date,
    sex: str,
    phone: str,
    otp: str,
    cccd: str = "",
    bhyt: str = "",
    reason: str = "",
    channel: str = Channel.APP,
    doctor: Doctor | None = None,
    now: datetime | None = None,
) -> Appointment:
    """Someone with no account (and perhaps no hospital record) books online with a phone verified by an
    OTP of purpose "booking". The person is matched to the patient on record with the same phone, date of
    birth and name, or recorded as a new patient. The OTP serves one booking; a refused booking (slot full,
    overlap) leaves it unused. Same capacity and overlap guarantees as `appointment_book`."""
    from health_f0.patients.otp import otp_consume, otp_verify

    now = now or timezone.now()
    if channel not in ONLINE_CHANNELS:
        raise DomainError(_("Kênh đặt lịch không hợp lệ."), code="invalid_channel", field="channel")
    # Every identity error at once (ValidationErrors), as the portal's form shows them.
    identity = person_validate(
        full_name=full_name, date_of_birth=date_of_birth, sex=sex, phone=phone, cccd=cccd, bhyt=bhyt
    )
    _check_service(service)
    slot = _find_slot(service=service, start=slot_start, now=now, for_staff=False)
    # The OTP comes after the cheap checks (no try is spent on a typo) and before any lookup of the person.
    challenge = otp_verify(phone=identity["phone"], purpose="booking", code=otp)
    status = Status.REQUESTED if service.requires_confirmation else Status.CONFIRMED
    with transaction.atomic():
        otp_consume(challenge=challenge)
        patient = _patient_for(service, identity, actor=None)
        appointment = _book_locked(
            patient=patient,
            service=service,
            slot=slot,
            channel=channel,
            actor=None,
            status=status,
            reason=reason,
            now=now,
            doctor=doctor,
        )
        _audit(
            appointment,
            None,
            "book",
            AuditLog.Action.CREATE,
            channel=channel,
            status=status,
            guest=True,
            doctor=appointment.doctor_id,
        )
        _notify(appointment, "requested" if status == Status.REQUESTED else "confirmed")
    return appointment


def _plan_rebook(plan_id: int, *, actor: Any, now: datetime, search_days: int) -> Appointment | None:
    """Book the current re-exam of a plan that has none (see selectors.reexam_plans_unbooked). None when
    there is nothing to do (closed, already booked, or past its end date, which closes it); Conflict
    when still no place."""
    plan = ReexamPlan.objects.select_for_update().filter(pk=plan_id, is_active=True).first()
    if plan is None or not reexam_plans_unbooked(plans=ReexamPlan.objects.filter(pk=plan.pk), now=now):
        return None  # closed, or booked by someone else since the list was read
    if _plan_close_if_over(plan, plan.next_date):
        return None
    return _reexam_book(
        patient=plan.patient,
        service=plan.service,
        day=plan.next_date,
        actor=actor,
        now=now,
        plan=plan,
        search_days=search_days,
    )


@retry_on_deadlock
@transaction.atomic
def reexam_plan_rebook(
    *, plan: ReexamPlan, actor: Any, now: datetime | None = None, search_days: int = 14
) -> Appointment | None:
    """The desk's "Tìm chỗ lại" on a plan without a place: the same search as the daily job, now."""
    access.require_role_at(actor, plan.facility, access.REEXAM_ROLES)
    return _plan_rebook(plan.pk, actor=actor, now=now or timezone.now(), search_days=search_days)


def reexam_plans_rebook(*, now: datetime | None = None, search_days: int = 14) -> tuple[int, int]:
    """The daily retry for recurring plans whose current re-exam found no free place when it was due
    (`_plan_advance` leaves them unbooked): book the first free place from the plan's date (or today) over
    the next `search_days`, as the system (actor None), with the usual SMS and reminders. A plan past its
    end date is closed instead. Returns (booked, still without a place); those stay on the desk's
    re-exam worklist."""
    now = now or timezone.now()
    booked = waiting = 0
    for candidate in reexam_plans_unbooked(plans=ReexamPlan.objects.all(), now=now):
        try:
            with transaction.atomic():
                appointment = _plan_rebook(candidate.pk, actor=None, now=now, search_days=search_days)
        except DomainError:  # no free place yet (Conflict), or the service is closed
            waiting += 1
        else:
            booked += appointment is not None
    return booked, waiting
