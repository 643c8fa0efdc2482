"""Appointment reads: free slots, worklists of the desk, the queue, the public display, a patient's list.

Staff lists are scoped through facilities.access (scope_by_facility on the appointment's facility).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Count, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from health_f0.appointments import queue_rules
from health_f0.appointments import slots as slotlib
from health_f0.appointments.models import (
    LINK_CODE_ALPHABET,
    LINK_CODE_LENGTH,
    LIVE_STATUSES,
    NO_DOCTOR,
    Appointment,
    AppointmentPolicy,
    AppointmentReminder,
    Doctor,
    Holiday,
    PatientVisitTally,
    ReexamPlan,
    ReminderStatus,
    ScheduleOverride,
    ScheduleTemplate,
    Service,
    ServiceKind,
    SlotCounter,
    Status,
)
from health_f0.appointments.queue_rules import DEFAULT_POLICY, QueuePolicy, ServiceOrder
from health_f0.core.counters import cache_incr, counter_get, window_remaining
from health_f0.core.exceptions import NotFound, RateLimited
from health_f0.core.idpages import IdPages
from health_f0.core.text import sms_text
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.notifications.models import OutboxMessage
from health_f0.patients import selectors as patient_selectors

# How far ahead staff may place a booking or a re-exam, whatever the public horizon.
STAFF_HORIZON_DAYS = 400
DEFAULT_REMINDER_DAYS: tuple[int, ...] = (3, 1)
DEFAULT_REMINDER_TIME = time(8, 0)


@dataclass(frozen=True)
class FreeSlot:
    start: datetime
    end: datetime
    capacity: int
    booked: int
    # Free places per doctor in this slot: ((doctor id, free), ...) (doctor 0: seats of no doctor).
    doctor_free: tuple[tuple[int, int], ...] = ()

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)


def _active_templates(service: Service) -> QuerySet[ScheduleTemplate]:
    """The service's weekly rows that make slots: active rows without a doctor or of an active doctor."""
    return ScheduleTemplate.objects.filter(service=service, is_active=True).filter(
        Q(doctor__isnull=True) | Q(doctor__is_active=True)
    )


def service_doctors(*, service: Service) -> list[Doctor]:
    """The doctors a service names: active doctors with an active weekly row of the service, by name."""
    ids = _active_templates(service).exclude(doctor=None).values("doctor_id")
    return list(Doctor.objects.filter(pk__in=ids, is_active=True).order_by("full_name", "id"))


def doctors_by_services(*, service_ids: list[int]) -> dict[int, list[Doctor]]:
    """service_doctors for many services in two queries (the API's service list)."""
    rows = list(
        ScheduleTemplate.objects.filter(service_id__in=service_ids, is_active=True, doctor__is_active=True)
        .values_list("service_id", "doctor_id")
        .distinct()
    )
    doctors = {d.pk: d for d in Doctor.objects.filter(pk__in={doctor for _s, doctor in rows})}
    out: dict[int, list[Doctor]] = {pk: [] for pk in service_ids}
    for service_id, doctor_id in rows:
        out[service_id].append(doctors[doctor_id])
    for listed in out.values():
        listed.sort(key=lambda d: (d.full_name, d.pk))
    return out


def service_slots(
    *, service: Service, start: date, end: date, now: datetime | None = None, for_staff: bool = False
) -> list[slotlib.Slot]:
    """The service's computed slots over local days [start, end]; staff skip minimum notice and horizon.
    Each slot keeps its seats per doctor (a weekly row of a doctor adds the service's capacity for them)."""
    now = now or timezone.now()
    templates = [
        slotlib.Window(t.weekday, t.start_time, t.end_time, t.doctor_id or NO_DOCTOR)
        for t in _active_templates(service)
    ]
    overrides = [
        slotlib.Override(o.date, o.is_closed, o.start_time, o.end_time, o.doctor_id or NO_DOCTOR)
        for o in ScheduleOverride.objects.filter(service=service, date__range=(start, end)).filter(
            Q(doctor__isnull=True) | Q(doctor__is_active=True)
        )
    ]
    holidays = list(Holiday.objects.filter(date__range=(start, end)).values_list("date", flat=True))
    return slotlib.compute_slots(
        templates=templates,
        overrides=overrides,
        holidays=holidays,
        duration_minutes=service.duration_minutes,
        capacity=service.capacity_per_slot,
        start_date=start,
        end_date=end,
        now=now,
        min_notice=timedelta(0) if for_staff else timedelta(hours=service.min_notice_hours),
        horizon_days=STAFF_HORIZON_DAYS if for_staff else service.booking_horizon_days,
    )


def slots_free(
    *,
    service: Service,
    start: date,
    end: date,
    now: datetime | None = None,
    for_staff: bool = False,
    doctor: Doctor | None = None,
) -> list[FreeSlot]:
    """Slots of [start, end] with the places still free: computed slots, then ONE indexed read of the slot
    counters of the range (the counters are exact: bookings change them under a row lock). With `doctor`:
    only the slots that doctor works in, with that doctor's free places (never more than the slot's)."""
    computed = service_slots(service=service, start=start, end=end, now=now, for_staff=for_staff)
    if not computed:
        return []
    booked: dict[datetime, dict[int, int]] = {}
    for slot_start, key, count in SlotCounter.objects.filter(
        service=service, slot_start__gte=computed[0].start, slot_start__lte=computed[-1].start
    ).values_list("slot_start", "doctor_key", "booked"):
        booked.setdefault(slot_start, {})[key] = count
    out = []
    for s in computed:
        taken = booked.get(s.start, {})
        total_free = max(s.capacity - sum(taken.values()), 0)
        per_doctor = tuple(
            (key, min(max(s.seats_of(key) - taken.get(key, 0), 0), total_free)) for key in s.doctor_keys
        )
        if doctor is None:
            out.append(FreeSlot(s.start, s.end, s.capacity, s.capacity - total_free, per_doctor))
            continue
        seats = s.seats_of(doctor.pk)
        if seats:
            free = dict(per_doctor)[doctor.pk]
            out.append(FreeSlot(s.start, s.end, seats, seats - free, ((doctor.pk, free),)))
    return out


def reminder_policy(facility: Facility) -> tuple[tuple[int, ...], time]:
    """Days-before and time of day of reminders: the nearest facility up the tree with a policy row."""
    ids = [int(part) for part in facility.path.strip("/").split("/") if part] or [facility.pk]
    rows = {p.facility_id: p for p in AppointmentPolicy.objects.filter(facility_id__in=ids)}
    for facility_id in reversed(ids):
        policy = rows.get(facility_id)
        if policy is not None:
            days = tuple(int(d) for d in (policy.reminder_days_before or DEFAULT_REMINDER_DAYS))
            return days, policy.reminder_time
    return DEFAULT_REMINDER_DAYS, DEFAULT_REMINDER_TIME


@dataclass(frozen=True)
class BookingLimits:
    """Live bookings one patient may hold (0: no limit): per service, per local day, per week (Mon-Sun)."""

    per_service: int
    per_day: int
    per_week: int


def booking_limits(facility: Facility) -> BookingLimits:
    """The limits per patient of the nearest facility up the tree with a policy row, else the defaults."""
    from health_f0.appointments.models import (
        DEFAULT_MAX_LIVE_PER_SERVICE,
        DEFAULT_MAX_PER_DAY,
        DEFAULT_MAX_PER_WEEK,
    )

    ids = [int(part) for part in facility.path.strip("/").split("/") if part] or [facility.pk]
    rows = {p.facility_id: p for p in AppointmentPolicy.objects.filter(facility_id__in=ids)}
    for facility_id in reversed(ids):
        policy = rows.get(facility_id)
        if policy is not None:
            return BookingLimits(policy.max_live_per_service, policy.max_per_day, policy.max_per_week)
    return BookingLimits(DEFAULT_MAX_LIVE_PER_SERVICE, DEFAULT_MAX_PER_DAY, DEFAULT_MAX_PER_WEEK)


# The abbreviations everyone in Vietnamese health care reads (applied to unaccented names, whole words only).
FACILITY_ABBREVIATIONS: tuple[tuple[str, str], ...] = (
    ("Trung tam Y te", "TTYT"),
    ("Benh vien", "BV"),
    ("Tram Y te", "TYT"),
    ("Phong kham", "PK"),
    ("khu vuc", "KV"),
    ("thanh pho", "TP"),
)


def facility_label(facility: Facility) -> str:
    """How an SMS names the facility, whole: its SMS short name, else the nearest one up the tree (a clinic
    room's TTYT), else its own name, unaccented, with the defined abbreviations only (FACILITY_ABBREVIATIONS:
    'Bệnh viện Đa khoa khu vực Cẩm Giàng' -> 'BV Da khoa KV Cam Giang'). Never cut."""

    if facility.short_name.strip():
        return sms_text(facility.short_name)
    ids = [int(part) for part in facility.path.strip("/").split("/") if part]
    names = dict(Facility.objects.filter(id__in=ids).exclude(short_name="").values_list("id", "short_name"))
    for facility_id in reversed(ids):
        if names.get(facility_id, "").strip():
            return sms_text(names[facility_id])
    label = sms_text(facility.name)
    for words, short in FACILITY_ABBREVIATIONS:
        label = re.sub(rf"\b{re.escape(words)}\b", short, label, flags=re.IGNORECASE)
    return label


# --- Staff worklists -----------------------------------------------------------------------------


def appointments_visible(user: Any, roles: frozenset[str] | None = None) -> QuerySet[Appointment]:
    """Appointments at facilities the staff member can see (through facilities.access; without restricted
    patients' bookings for the booking desk and reception)."""
    return access.staff_appointments_for(user, roles).select_related("patient", "service")


def desk_worklist(*, user: Any, facility: Facility | None = None) -> QuerySet[Appointment]:
    """Requested bookings waiting for the desk, oldest first, with the patient's past record counts."""
    from django.db.models import Prefetch

    # The page's services (with their clinic) are fetched apart, by primary key: joined, they let MariaDB start
    # from the small services table and sort every waiting request of the TTYT in a temporary table (399 ms
    # at TTYT-B4 of the 100k data, docs/benchmarks.md "Desk worklists").
    qs = (
        appointments_visible(user, access.BOOKING_DESK_ROLES)
        .filter(status=Status.REQUESTED)
        .select_related(None)
        .select_related("patient", "doctor")
        .prefetch_related(Prefetch("service", queryset=Service.objects.select_related("facility")))
    )
    if facility is not None:
        qs = qs.filter(facility__path__startswith=facility.path)
    # The patient's maintained visit tally (models.PatientVisitTally), joined by its primary key.
    return qs.annotate(**patient_tally_counts()).order_by("created_at", "id")


def desk_worklist_pages(*, user: Any) -> IdPages[Appointment]:
    """desk_worklist for the desk's Paginator: the count and each page's ids from a statement that names the
    order's indexes on MariaDB/MySQL (appointments.sql.worklist.requested_ids: the ORM cannot, and without them
    a page of 20 made MariaDB walk the plain created_at index from the oldest booking of all), then the page's
    bookings by id from desk_worklist itself (the same instances, annotations and prefetches), in that order."""
    from health_f0.appointments.sql import worklist

    return IdPages(
        worklist.requested_ids(user=user, roles=access.BOOKING_DESK_ROLES), desk_worklist(user=user)
    )


def patient_history(*, patient: Any, limit: int = 20) -> list[Appointment]:
    """A patient's latest appointments (for the desk's worklist row)."""
    return list(
        Appointment.objects.filter(patient=patient).select_related("service").order_by("-slot_start")[:limit]
    )


@dataclass(frozen=True)
class ReexamWorklist:
    to_call: list[Appointment]  # reserved re-exams the patient has not acknowledged yet
    missed: list[Appointment]  # re-exams the patient missed and has not rebooked


def reexam_worklist(
    *, user: Any, now: datetime | None = None, ahead_days: int = 7, missed_days: int = 30
) -> ReexamWorklist:
    now = now or timezone.now()
    today = slotlib.local_date_of(now)
    _, until = slotlib.local_day_bounds(today + timedelta(days=ahead_days))
    since, _ = slotlib.local_day_bounds(today - timedelta(days=missed_days))
    base = appointments_visible(user, access.REEXAM_ROLES).filter(is_reexam=True)
    to_call = list(
        base.filter(
            status=Status.CONFIRMED,
            patient_confirmed_at__isnull=True,
            slot_start__gte=now,
            slot_start__lt=until,
        ).order_by("slot_start", "id")
    )
    later = Appointment.objects.filter(
        patient_id=OuterRef("patient_id"),
        service_id=OuterRef("service_id"),
        status__in=(*LIVE_STATUSES, Status.COMPLETED),
        slot_start__gt=OuterRef("slot_start"),
    )
    missed = list(
        base.filter(status=Status.NO_SHOW, slot_start__gte=since)
        .exclude(Exists(later))
        .order_by("-slot_start", "-id")
    )
    return ReexamWorklist(to_call=to_call, missed=missed)


def reexam_plans_unbooked(
    *, plans: QuerySet[ReexamPlan], now: datetime | None = None, ahead_days: int = 30
) -> list[ReexamPlan]:
    """Active recurring plans whose current re-exam (due by `ahead_days` from today) has no booking at all:
    no appointment of the plan on or after its next date — the week was full when it was due. A booking
    that was cancelled or missed does not count here (the missed list follows those up). Two queries."""
    today = slotlib.local_date_of(now or timezone.now())
    candidates = list(
        plans.filter(is_active=True, next_date__lte=today + timedelta(days=ahead_days))
        .select_related("patient", "service", "facility")
        .order_by("next_date", "id")
    )
    latest = dict(
        Appointment.objects.filter(reexam_plan__in=[p.pk for p in candidates])
        .values("reexam_plan_id")
        .annotate(last=Max("slot_start"))
        .values_list("reexam_plan_id", "last")
    )
    return [
        plan
        for plan in candidates
        if latest.get(plan.pk) is None or slotlib.local_date_of(latest[plan.pk]) < plan.next_date
    ]


def reexam_plans_visible(user: Any) -> QuerySet[ReexamPlan]:
    """Recurring plans at facilities where the staff member works with re-exams (through facilities.access)."""
    return access.scope_by_facility(
        ReexamPlan.objects.all(), user, field="facility", roles=access.REEXAM_ROLES
    )


# --- Queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    waiting: list[Appointment]  # in calling order
    called: list[Appointment]  # most recent first
    policy: QueuePolicy = DEFAULT_POLICY
    order: ServiceOrder | None = None  # the service's calling order (its own or the facility's)


def queue_order(
    *,
    service: Service,
    waiting: list[Appointment],
    recent_called: list[Appointment],
    policy: QueuePolicy | None = None,
) -> list[Appointment]:
    """Waiting tickets in the order they will be called (queue_rules.calling_order): priority groups first
    (emergencies first), then booked patients by appointment time and walk-ins by arrival per the booked
    priority of the service (or of its facility), skipped tickets back behind the next `skip_back` calls."""
    policy = policy or queue_rules.queue_policy(service.facility)
    calls_since = {
        t.pk: queue_rules.calls_after(recent_called, t.requeued_at) for t in waiting if t.requeued_at
    }
    return queue_rules.calling_order(
        waiting,
        recent_called,
        order=queue_rules.service_order(service, policy),
        skip_back=policy.skip_back,
        calls_since=calls_since,
    )


def queue_for(*, service: Service, day: date | None = None, recent: int = 20) -> Queue:
    """Today's queue of a service: who waits (in calling order) and who was called (still being served or
    done; most recent call first)."""
    day = day or timezone.localdate()
    policy = queue_rules.queue_policy(service.facility)
    tickets = Appointment.objects.filter(service=service, queue_date=day).select_related(
        "patient", "facility"
    )
    waiting = list(tickets.filter(status=Status.CHECKED_IN, called_at__isnull=True))
    called = list(
        tickets.filter(called_at__isnull=False).order_by("-called_at", "-id")[: _calls_read(recent)]
    )
    return _queue(service, policy, waiting, called, recent=recent)


def _calls_read(recent: int) -> int:
    """Enough of the latest calls to count the calls since any skip (skip_back is at most 10)."""
    return max(recent, 20)


def _standing(*, service: Service, day: date, recent: int) -> Queue:
    """`queue_for` as a place in the queue needs it: the same tickets in the same calling order, read by
    constant SQL without their patients and rooms (appointments.sql.queues)."""
    from health_f0.appointments.sql import queues

    policy = queue_rules.queue_policy(service.facility)
    waiting, called = queues.tickets(service.pk, day, recent=_calls_read(recent))
    return _queue(service, policy, waiting, called, recent=recent)


def _queue(service: Service, policy: Any, waiting: list[Any], called: list[Any], *, recent: int) -> Queue:
    """The queue from its waiting tickets and latest calls: the waiting ones in calling order."""
    for ticket in (*waiting, *called):
        ticket._queue_policy = policy  # type: ignore[attr-defined]  # queue_rules.ticket_policy
    ordered = queue_order(service=service, waiting=waiting, recent_called=called, policy=policy)
    return Queue(
        waiting=ordered,
        called=called[:recent],
        policy=policy,
        order=queue_rules.service_order(service, policy),
    )


@dataclass(frozen=True)
class QueuePlace:
    called: bool  # this ticket has been called: go in now
    ahead: int  # waiting tickets before it, in calling order
    now_calling: int | None  # the number called last


def queue_place(*, appointment: Appointment, queues: dict[Any, Queue] | None = None) -> QueuePlace | None:
    """Where a checked-in ticket stands in today's queue of its service (None if it has no number). `queues`:
    the queues already read for a page of bookings, by (service id, day), shared by its tickets in one queue."""
    if appointment.status != Status.CHECKED_IN or not appointment.queue_date or not appointment.queue_number:
        return None
    key = (appointment.service_id, appointment.queue_date)
    queue = queues.get(key) if queues is not None else None
    if queue is None:
        queue = _standing(service=appointment.service, day=appointment.queue_date, recent=20)
        if queues is not None:
            queues[key] = queue
    now_calling = queue.called[0].queue_number if queue.called else None
    if appointment.called_at is not None:
        return QueuePlace(called=True, ahead=0, now_calling=now_calling)
    ahead = next((i for i, t in enumerate(queue.waiting) if t.pk == appointment.pk), len(queue.waiting))
    return QueuePlace(called=False, ahead=ahead, now_calling=now_calling)


@dataclass(frozen=True)
class DisplayRow:
    service_name: str
    room: str
    now_calling: int | None
    recent: list[int]
    next_numbers: list[int] = field(default_factory=list)  # the next few to be called, in calling order
    call_point: str = ""  # where the number called is invited ("quầy 2"; else the room)
    announced_at: datetime | None = None  # the last call or recall of the number being called


def queue_display(
    *, facility: Facility, day: date | None = None, recent: int = 3, upcoming: int = 4
) -> list[DisplayRow]:
    """What the waiting-hall screen shows: per service under the facility that patients come to in person
    (never online consultations), the number being called (the last announced, a recall included), the few
    called before it and the next few in calling order. Numbers only: no names on a public screen."""
    day = day or timezone.localdate()
    services = (
        Service.objects.filter(facility__path__startswith=facility.path, is_active=True)
        .exclude(kind=ServiceKind.ONLINE)
        .select_related("facility")
    )
    rows = []
    for service in services:
        called = list(
            Appointment.objects.filter(service=service, queue_date=day, called_at__isnull=False)
            .exclude(status=Status.NO_SHOW)  # skipped to the limit: no longer invited
            .order_by("-called_at", "-id")
            .only("queue_number", "called_at", "announced_at")[: recent + 1]
        )
        latest = max(called, key=lambda t: (t.announced_at or t.called_at, t.called_at), default=None)
        queue = queue_for(service=service, day=day)
        rows.append(
            DisplayRow(
                service_name=service.name,
                room=service.facility.name,
                now_calling=latest.queue_number if latest else None,
                recent=[t.queue_number for t in called if t is not latest and t.queue_number is not None][
                    :recent
                ],
                next_numbers=[t.queue_number for t in queue.waiting[:upcoming] if t.queue_number is not None],
                call_point=service.call_point.strip() or service.facility.name,
                announced_at=(latest.announced_at or latest.called_at) if latest else None,
            )
        )
    return rows


def reception_ticket(*, user: Any, pk: int) -> Appointment | None:
    """A queue ticket (a checked-in booking or a walk-in) reception at its facility may see: the check-in
    page shows it after the number is given."""
    return (
        appointments_visible(user, access.RECEPTION_ROLES)
        .select_related("service__facility", "doctor")
        .filter(pk=pk, queue_number__isnull=False)
        .first()
    )


def first_service_waiting(*, services: list[Service], day: date) -> int | None:
    """The first of these services (in facility and name order) with someone checked in and waiting on
    `day`: the queue page opens on it."""
    return (
        Appointment.objects.filter(
            service_id__in=[s.pk for s in services], queue_date=day, status=Status.CHECKED_IN
        )
        .order_by("service__facility__path", "service__name")
        .values_list("service_id", flat=True)
        .first()
    )


def reception_find(*, user: Any, code: str) -> Appointment | None:
    """An appointment by its check-in code, if reception at its facility may see it."""
    from health_f0.appointments.services import normalize_code

    return (
        appointments_visible(user, access.RECEPTION_ROLES).filter(check_in_code=normalize_code(code)).first()
    )


# --- SMS short links and walk-in tickets -------------------------------------------------------------

_LINK_MISSES = "appt:link-miss"


def _link_misses_key(ip: str) -> str:
    window = int(timezone.now().timestamp()) // settings.SHORT_LINK_WINDOW_SECONDS
    return f"{_LINK_MISSES}:{ip}:{window}"


def appointment_for_link(*, code: str, ip: str) -> Appointment | None:
    """The booking or walk-in ticket of an SMS short link's code (any case; dashes and spaces ignored), or
    None. Unknown codes are counted per client address: past SHORT_LINK_MISSES_PER_WINDOW in the current
    window, every lookup from that address is refused (RateLimited, with retry_after) until the window ends.
    Known codes are not counted, so patients behind one address (a waiting hall's Wi-Fi) are never blocked
    by each other. The code opens nothing by itself: the caller only redirects to the page it names."""
    from django.utils.translation import gettext as _

    key = _link_misses_key(ip)
    window = settings.SHORT_LINK_WINDOW_SECONDS
    if counter_get(key) >= settings.SHORT_LINK_MISSES_PER_WINDOW:
        retry = window_remaining(window)
        raise RateLimited(
            _("Bạn đã thử quá nhiều đường dẫn không đúng. Vui lòng thử lại sau %(minutes)s phút.")
            % {"minutes": (retry + 59) // 60},
            code="short_link_limited",
            retry_after=retry,
        )
    normalized = re.sub(r"[\s-]", "", code or "").upper()
    found = None
    if len(normalized) == LINK_CODE_LENGTH and set(normalized) <= set(LINK_CODE_ALPHABET):
        found = Appointment.objects.filter(link_code=normalized).only("public_id", "is_walk_in").first()
    if found is None:
        cache_incr(key, timeout=window + 60)
    return found


def walk_in_ticket(*, public_id: UUID) -> Appointment | None:
    """A walk-in ticket by its public id (None for bookings: their page is behind the OTP gate)."""
    return (
        Appointment.objects.select_related("service", "facility")
        .filter(public_id=public_id, is_walk_in=True)
        .first()
    )


def booking_by_link(*, public_id: UUID) -> Appointment | None:
    """A booking (not a walk-in ticket) by its public id, for its page on the portal: who may see it is
    decided there (the owning account, or the phone holder proved by OTP)."""
    return (
        Appointment.objects.select_related("service", "facility", "patient", "doctor")
        .filter(public_id=public_id, is_walk_in=False)
        .first()
    )


def bookable_facility(*, public_id: UUID) -> Facility | None:
    """An active facility by its public id (the public booking API lists its services)."""
    return Facility.objects.filter(public_id=public_id, is_active=True).first()


def bookable_service(*, public_id: UUID) -> Service | None:
    """An active service of an active facility, by its public id (what the public booking API accepts)."""
    return (
        Service.objects.select_related("facility")
        .filter(public_id=public_id, is_active=True, facility__is_active=True)
        .first()
    )


def queue_ticket(*, pk: int) -> Appointment:
    """A called ticket with its patient, as the queue API returns it."""
    return Appointment.objects.select_related("patient").get(pk=pk)


# --- Patients ------------------------------------------------------------------------------------


def appointments_of(*, user: Any) -> QuerySet[Appointment]:
    """A patient account's own and family members' appointments, newest first."""
    patients = access.patients_for(user)
    if access.is_staff_member(user):
        patients = patients.filter(account=user)
    return (
        Appointment.objects.filter(patient__in=patients)
        .select_related("service", "patient", "doctor")
        .order_by("-slot_start")
    )


def portal_bookings(*, user: Any) -> list[Appointment]:
    """The bookings (not walk-in tickets) of a patient account and its family, soonest first: the portal's
    list (access.appointments_for: own and family)."""
    return list(
        access.appointments_for(user)
        .filter(is_walk_in=False)
        .select_related("service", "facility", "patient", "doctor")
        .order_by("slot_start", "id")
    )


def services_of(*, facility: Facility) -> QuerySet[Service]:
    """Active services at the facility and under it."""
    return Service.objects.filter(facility__path__startswith=facility.path, is_active=True).select_related(
        "facility"
    )


# --- Desk pages (reception search, patient picker, re-exam call records) --------------------------

CODE_LENGTH = 8


def _patient_match(term: str, prefix: str = "") -> Q:
    """Q for a patient by phone, CCCD, BHYT number, or part of the name (the desk's one patient search)."""
    return patient_selectors.search_condition(term, prefix)


def reception_search(
    *, user: Any, term: str, now: datetime | None = None, limit: int = 50
) -> list[Appointment]:
    """Today's bookings (not walk-in tickets) reception may see, by patient name, phone, CCCD or BHYT."""
    term = (term or "").strip()
    if len(term) < 2:
        return []
    now = now or timezone.now()
    start, end = slotlib.local_day_bounds(slotlib.local_date_of(now))
    return list(
        appointments_visible(user, access.RECEPTION_ROLES)
        .filter(slot_start__gte=start, slot_start__lt=end, is_walk_in=False)
        .filter(status__in=(Status.REQUESTED, Status.CONFIRMED, Status.CHECKED_IN))
        .filter(_patient_match(term, "patient__"))
        # The booking's own facility too: the workflow's check-in check reads it for each row.
        .select_related("service__facility", "facility")
        .order_by("slot_start", "id")[:limit]
    )


def patients_findable(*, user: Any, roles: frozenset[str]) -> QuerySet[Any]:
    """Patients a desk member may pick for a booking: those their facilities manage, and those who already
    have an appointment at a facility where they hold one of `roles`."""
    from health_f0.patients.models import Patient

    visible = access.patients_for(user).values("id") if access.is_staff_member(user) else None
    booked = appointments_visible(user, roles).values("patient_id")
    condition = Q(id__in=booked)
    if visible is not None:
        condition |= Q(id__in=visible)
    return Patient.objects.filter(condition)


def patient_search(*, user: Any, roles: frozenset[str], term: str, limit: int = 20) -> list[Any]:
    """The patient picker of the desk's forms: by phone, CCCD, BHYT or part of the name."""
    term = (term or "").strip()
    if len(term) < 2:
        return []
    return list(
        patients_findable(user=user, roles=roles)
        .filter(_patient_match(term))
        .order_by("full_name", "id")[:limit]
    )


def services_for(*, user: Any, roles: frozenset[str]) -> QuerySet[Service]:
    """Active services at facilities where the user holds one of `roles` (and below)."""
    return access.scope_by_facility(
        Service.objects.filter(is_active=True).select_related("facility"), user, field="facility", roles=roles
    ).order_by("facility__path", "name")


def services_in_scope(*, user: Any, roles: frozenset[str]) -> QuerySet[Service]:
    """Every service (active or not) at facilities where the user holds one of `roles` (and below)."""
    return access.scope_by_facility(
        Service.objects.select_related("facility"), user, field="facility", roles=roles
    )


@dataclass(frozen=True)
class CallRecord:
    outcome: str
    note: str
    at: datetime
    by: str


def reexam_calls(*, appointment_ids: list[int]) -> dict[int, CallRecord]:
    """The latest call the desk recorded for each of these appointments (audit rows "reexam_call")."""
    from health_f0.core.models import AuditLog

    if not appointment_ids:
        return {}
    rows = AuditLog.objects.filter(
        target_type=Appointment._meta.label_lower,
        target_id__in=[str(pk) for pk in appointment_ids],
        verb="reexam_call",
    ).order_by("created_at", "id")
    latest: dict[int, CallRecord] = {}
    for row in rows:
        latest[int(row.target_id)] = CallRecord(
            outcome=str(row.data.get("outcome", "")),
            note=str(row.data.get("note", "")),
            at=row.created_at,
            by=row.actor_label,
        )
    return latest


def patient_visit_counts(*, patient_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{patient id: (completed visits, no-shows)} in one query, from the maintained tally
    (models.PatientVisitTally; a patient without a row has none of either)."""
    counts: dict[int, tuple[int, int]] = dict.fromkeys(patient_ids, (0, 0))
    if not patient_ids:
        return counts
    tallies = PatientVisitTally.objects.filter(patient_id__in=patient_ids)
    for patient_id, done, missed in tallies.values_list("patient_id", "completed", "no_shows"):
        counts[patient_id] = (done, missed)
    return counts


def patient_tally_counts() -> dict[str, Coalesce]:
    """The booking's patient's completed visits and no-shows from the maintained tally, as annotations
    (past_visits, past_no_shows): a LEFT JOIN on the tally's primary key."""
    return {
        "past_visits": Coalesce(F("patient__visit_tally__completed"), Value(0), output_field=IntegerField()),
        "past_no_shows": Coalesce(F("patient__visit_tally__no_shows"), Value(0), output_field=IntegerField()),
    }


# --- The API's staff list ----------------------------------------------------------------------------


def patient_booking_count(status: str) -> Coalesce:
    """How many bookings the row's patient has in `status`: a correlated count on the (patient, status) index,
    run for the rows a page returns. The lists read the maintained tally (models.PatientVisitTally) instead;
    this live count stays the reference the tests hold the tally to (staff_appointments, the API list's ORM
    twin)."""
    return Coalesce(
        Subquery(
            Appointment.objects.filter(patient_id=OuterRef("patient_id"), status=status)
            .order_by()
            .values("patient_id")
            .annotate(n=Count("id"))
            .values("n")
        ),
        Value(0),
        output_field=IntegerField(),
    )


def facility_subtree_ids(facility: UUID) -> list[int]:
    """The ids of a facility (by public id) and everything below it: the desk list's facility filter, as ids
    (one query, as the path was), not a join on the facility table."""
    root = Facility.objects.filter(public_id=facility).values("path")[:1]
    return list(Facility.objects.filter(path__startswith=Subquery(root)).values_list("id", flat=True))


def staff_appointments(
    *,
    user: Any,
    roles: frozenset[str],
    status: str | None = None,
    facility: UUID | None = None,
    day: date | None = None,
) -> QuerySet[Appointment]:
    """Bookings a desk member may see (facilities.access), with the patient's completed visits and no-shows.
    Requested bookings come oldest request first (the confirmation queue); other lists by visit time."""
    # The page's patients, services and facilities are fetched apart (three queries by primary key): joined,
    # they let MariaDB start from the small services or facilities table and build every booking of the scope
    # into a temporary table to sort it (49,000 to 168,000 rows read for a page of 100 at the largest TTYT of the
    # 100k data; 1,100 to 1,300 now).
    qs = access.appointments_for(user, roles).prefetch_related("patient", "service", "facility", "doctor")
    if status:
        qs = qs.filter(status=status)
    if facility is not None:
        qs = qs.filter(facility_id__in=facility_subtree_ids(facility))
    if day is not None:
        start, end = slotlib.local_day_bounds(day)
        qs = qs.filter(slot_start__gte=start, slot_start__lt=end)
    qs = qs.annotate(
        past_visits=patient_booking_count(Status.COMPLETED),
        past_no_shows=patient_booking_count(Status.NO_SHOW),
    )
    if status == Status.REQUESTED:
        return qs.order_by("created_at", "id")
    return qs.order_by("slot_start", "id")


def staff_appointment_list(
    *,
    user: Any,
    roles: frozenset[str],
    status: str | None = None,
    facility: UUID | None = None,
    day: date | None = None,
) -> Any:
    """`staff_appointments` as constant SQL (appointments.sql.worklist: a core.sqllist.SqlList of dicts with
    the page's patient, service, room and doctor columns and the two counts), for the API's worklist."""
    from health_f0.appointments.sql import worklist

    return worklist.worklist(
        user=user,
        roles=roles,
        status=status,
        facility_ids=facility_subtree_ids(facility) if facility is not None else None,
        day=day,
    )


def own_appointment_list(*, user: Any) -> Any:
    """access.appointments_for(user) for a patient account, newest visit first, as constant SQL
    (appointments.sql.bookings: a core.sqllist.SqlList of dicts with the page's service, room, doctor and
    patient columns), for the API's list of one's bookings."""
    from health_f0.appointments.sql import bookings

    return bookings.own_bookings(user)


# --- Public portal: where to book, which days are open, where to go --------------------------------


def bookable_facilities() -> list[Facility]:
    """Health centres and hospitals that offer at least one active service (in a clinic room or department
    under them), by name; a service with no such facility above it is offered by its own facility."""
    from health_f0.facilities.models import FacilityKind

    paths = list(
        Service.objects.filter(is_active=True, facility__is_active=True).values_list(
            "facility__path", "facility_id"
        )
    )
    if not paths:
        return []
    ancestor_ids = {int(part) for path, _ in paths for part in path.strip("/").split("/") if part}
    centres = {
        f.pk: f
        for f in Facility.objects.filter(
            id__in=ancestor_ids,
            is_active=True,
            kind__in=(FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL),
        )
    }
    chosen: dict[int, Facility] = {}
    own: set[int] = set()
    for path, facility_id in paths:
        ids = [int(part) for part in path.strip("/").split("/") if part]
        top = next((centres[i] for i in reversed(ids) if i in centres), None)
        if top is not None:
            chosen[top.pk] = top
        else:
            own.add(facility_id)
    if own:
        chosen.update({f.pk: f for f in Facility.objects.filter(id__in=own)})
    return sorted(chosen.values(), key=lambda f: f.name)


@dataclass(frozen=True)
class BookingPlace:
    """Where the patient goes: the room (or department) of the service, its health centre, the nearest
    address and hotline up the facility tree."""

    room: str
    centre: str
    address: str
    hotline: str


def booking_place(*, facility: Facility) -> BookingPlace:
    from health_f0.facilities.models import FacilityKind

    ids = [int(part) for part in facility.path.strip("/").split("/") if part] or [facility.pk]
    chain = {f.pk: f for f in Facility.objects.filter(id__in=ids)}
    ordered = [chain[i] for i in reversed(ids) if i in chain]  # the facility first, then up the tree
    centre = next(
        (f for f in ordered if f.kind in (FacilityKind.HEALTH_CENTRE, FacilityKind.HOSPITAL)), facility
    )
    return BookingPlace(
        room=facility.name,
        centre=centre.name if centre.pk != facility.pk else "",
        address=next((f.address for f in ordered if f.address), ""),
        hotline=next((f.hotline for f in ordered if f.hotline), ""),
    )


# --- Online consultations: each booking's own video room ---------------------------------------------


def is_online(service: Service) -> bool:
    """A consultation by video: no clinic room, no reception, no queue."""
    return service.kind == ServiceKind.ONLINE


def meeting_url(appointment: Appointment) -> str:
    """The address of the booking's own video room ("" for a visit in a clinic room)."""
    if not appointment.meeting_room:
        return ""
    return f"{settings.VIDEO_MEETING_BASE_URL}/{appointment.meeting_room}"


def meeting_opens_at(appointment: Appointment) -> datetime:
    return appointment.slot_start - timedelta(minutes=settings.VIDEO_ROOM_OPEN_MINUTES)


def meeting_link(*, appointment: Appointment, now: datetime | None = None) -> str | None:
    """The room's address while it is open to this booking: confirmed (or received), from
    VIDEO_ROOM_OPEN_MINUTES before the slot until the slot ends. None at any other time, so a page left
    open or a link forwarded early shows nothing to join."""
    now = now or timezone.now()
    if not appointment.meeting_room or appointment.status not in (Status.CONFIRMED, Status.CHECKED_IN):
        return None
    if not meeting_opens_at(appointment) <= now <= appointment.slot_end:
        return None
    return meeting_url(appointment)


@dataclass(frozen=True)
class DeskMeeting:
    """An online consultation's room as the desk shows it to one staff member."""

    clinician: bool  # a clinician of the booking's facility: the only staff who get the link
    link: str | None  # while the room is open (see meeting_link), for a clinician only
    opens: datetime  # local time
    over: bool


def meeting_for_desk(
    *, user: Any, appointment: Appointment, now: datetime | None = None
) -> DeskMeeting | None:
    """The doctor's view of the booking's video room (None for a visit in a clinic room). Only a clinician of
    the booking's facility (or above it) gets the link, in the same window as the patient; the booking desk,
    reception and administrators never do."""
    if not appointment.meeting_room:
        return None
    now = now or timezone.now()
    clinician = bool(access.CLINICIAN_ROLES & access.roles_of(user)) and access.can_act_at(
        user, appointment.facility, access.CLINICIAN_ROLES
    )
    return DeskMeeting(
        clinician=clinician,
        link=meeting_link(appointment=appointment, now=now) if clinician else None,
        opens=timezone.localtime(meeting_opens_at(appointment)),
        over=now > appointment.slot_end,
    )


@dataclass(frozen=True)
class BookingDay:
    """One local day of the public booking window: how many slots still have a place, or why none can
    be booked. `state`: open, full (every slot taken), holiday, closed (a closing override), off (no
    working hours that weekday) or late (working hours are too close to now: minimum notice)."""

    day: date
    state: str
    free_slots: int
    note: str = ""


def booking_days(*, service: Service, now: datetime | None = None) -> list[BookingDay]:
    """Every day from today to the service's horizon, for the portal's day picker (a fixed number of
    queries whatever the horizon)."""
    now = now or timezone.now()
    today = slotlib.local_date_of(now)
    last = today + timedelta(days=service.booking_horizon_days)
    per_day: dict[date, list[FreeSlot]] = {}
    for slot in slots_free(service=service, start=today, end=last, now=now):
        per_day.setdefault(slotlib.local_date_of(slot.start), []).append(slot)
    holidays = dict(Holiday.objects.filter(date__range=(today, last)).values_list("date", "name"))
    overrides = list(ScheduleOverride.objects.filter(service=service, date__range=(today, last)))
    closed = {o.date: o.reason for o in overrides if o.is_closed}
    opened = {o.date for o in overrides if not o.is_closed}
    weekdays = set(
        ScheduleTemplate.objects.filter(service=service, is_active=True).values_list("weekday", flat=True)
    )
    days: list[BookingDay] = []
    day = today
    while day <= last:
        slots = per_day.get(day, [])
        if slots:
            free = sum(1 for s in slots if s.free > 0)
            days.append(BookingDay(day, "open" if free else "full", free))
        elif day in closed:
            days.append(BookingDay(day, "closed", 0, closed[day]))
        elif day in holidays and day not in opened:
            days.append(BookingDay(day, "holiday", 0, holidays[day]))
        elif day in opened or day.weekday() in weekdays:
            days.append(BookingDay(day, "late", 0))
        else:
            days.append(BookingDay(day, "off", 0))
        day += timedelta(days=1)
    return days


# --- Unconfirmed requests, reminders and messages of a booking ------------------------------------------


def request_lapses_at(appointment: Appointment) -> datetime | None:
    """When an online request the desk has not confirmed lapses (services.requests_lapse): the service's
    minimum notice before the visit, the notice a patient must give to book online. None for a booking
    that is not a waiting request."""
    if appointment.status != Status.REQUESTED or appointment.is_walk_in:
        return None
    return appointment.slot_start - timedelta(hours=appointment.service.min_notice_hours)


def requests_due_to_lapse(*, now: datetime, limit: int = 1000) -> list[int]:
    """Ids of waiting requests whose lapse moment (request_lapses_at) has come, oldest visit first."""
    longest = Service.objects.aggregate(longest=Max("min_notice_hours"))["longest"] or 0
    candidates = (
        Appointment.objects.filter(
            status=Status.REQUESTED, is_walk_in=False, slot_start__lte=now + timedelta(hours=longest)
        )
        .select_related("service")
        .only("pk", "slot_start", "status", "is_walk_in", "service__min_notice_hours")
        .order_by("slot_start", "pk")
    )
    due = []
    for appointment in candidates.iterator():
        lapses = request_lapses_at(appointment)
        if lapses is not None and lapses <= now:
            due.append(appointment.pk)
            if len(due) >= limit:
                break
    return due


def reminder_label(kind: str) -> str:
    """'d3' -> 'Nhắc trước 3 ngày'; 'd0' -> 'Nhắc trong ngày hẹn'; 'room' -> the online room opening."""
    from django.utils.translation import gettext as _
    from django.utils.translation import ngettext

    from health_f0.appointments.reminders import ROOM_OPEN

    if kind == ROOM_OPEN:
        return _("Nhắc khi mở phòng tư vấn trực tuyến")
    if kind.startswith("d") and kind[1:].isdigit():
        days = int(kind[1:])
        if days == 0:
            return _("Nhắc trong ngày hẹn")
        return ngettext("Nhắc trước %(days)d ngày", "Nhắc trước %(days)d ngày", days) % {"days": days}
    return kind


# The SMS states the desk shows as failed (the outbox's own words say which: will retry, could not send...).
_FAILED_STATES = frozenset({"failed", "dead", "expired"})


class _SmsState:
    """How the desk colours a row by its SMS state."""

    state: str

    @property
    def is_failed(self) -> bool:
        return self.state in _FAILED_STATES

    @property
    def is_delivered(self) -> bool:
        return self.state == "delivered"


@dataclass(frozen=True)
class ReminderRow(_SmsState):
    label: str  # "Nhắc trước 3 ngày"
    due_at: datetime  # when it is (or was) to be sent
    for_slot: datetime  # the appointment time it reminds of (an earlier time if the booking was moved)
    current: bool  # it reminds of the booking's current time
    state: str  # its reminder state, or its SMS's state once sent: scheduled/sent/delivered/failed...
    state_label: str
    sent_at: datetime | None
    delivered_at: datetime | None
    error: str


@dataclass(frozen=True)
class MessageRow(_SmsState):
    created_at: datetime
    body: str
    state: str
    state_label: str
    sent_at: datetime | None
    delivered_at: datetime | None
    error: str


@dataclass(frozen=True)
class AppointmentMessages:
    """What the booking's desk page lists: its reminders (scheduled, sent, delivered, failed, cancelled)
    and every other SMS about it (booked, confirmed, moved, checked in...), and when a waiting request
    lapses."""

    reminders: list[ReminderRow]
    messages: list[MessageRow]
    lapses_at: datetime | None


def appointment_messages(*, user: Any, appointment: Appointment) -> AppointmentMessages:
    """The booking's reminders and SMS, for a staff member who may see the booking (same scope as the
    booking itself: facilities.access; NotFound otherwise). Three queries."""
    from django.utils.translation import gettext

    if not appointments_visible(user, access.APPOINTMENT_READER_ROLES).filter(pk=appointment.pk).exists():
        raise NotFound(gettext("Không tìm thấy lịch hẹn."))
    rows = list(
        AppointmentReminder.objects.filter(appointment_id=appointment.pk)
        .select_related("message")
        .order_by("due_at", "pk")
    )
    reminder_rows = []
    for reminder in rows:
        message = reminder.message
        if reminder.status == ReminderStatus.SENT and message is not None:
            state, state_label = message.status, message.get_status_display()
        else:
            state, state_label = reminder.status, reminder.get_status_display()
        reminder_rows.append(
            ReminderRow(
                label=reminder_label(reminder.kind),
                due_at=reminder.due_at,
                for_slot=reminder.slot_start,
                current=reminder.slot_start == appointment.slot_start,
                state=state,
                state_label=str(state_label),
                sent_at=message.sent_at if message is not None else reminder.sent_at,
                delivered_at=message.delivered_at if message is not None else None,
                error=message.last_error if message is not None and state in _FAILED_STATES else "",
            )
        )
    reminder_message_ids = {r.message_id for r in rows if r.message_id}
    messages = [
        MessageRow(
            created_at=m.created_at,
            body="" if m.is_secret else m.body,
            state=m.status,
            state_label=str(m.get_status_display()),
            sent_at=m.sent_at,
            delivered_at=m.delivered_at,
            error=m.last_error if m.status in _FAILED_STATES else "",
        )
        for m in OutboxMessage.objects.filter(subject_ref=f"appointment:{appointment.pk}")
        .exclude(pk__in=reminder_message_ids)
        .order_by("created_at", "pk")
    ]
    return AppointmentMessages(
        reminders=reminder_rows, messages=messages, lapses_at=request_lapses_at(appointment)
    )


def reexam_plans_for_desk(user: Any) -> QuerySet[ReexamPlan]:
    """The desk's list of recurring re-exam plans (REEXAM_PLAN_READER_ROLES), with their booked re-exam."""
    return reexam_plans_with_booking(
        access.scope_by_facility(
            ReexamPlan.objects.select_related("patient", "service", "facility"),
            user,
            roles=access.REEXAM_PLAN_READER_ROLES,
        )
    )


def reexam_plans_with_booking(plans: QuerySet[ReexamPlan]) -> QuerySet[ReexamPlan]:
    """Plans with `booked_at`: the start of the plan's next live booking (waiting, confirmed or checked in),
    None when its current re-exam has no place yet. The plan's next_date is only the date the plan aims at;
    the booking may be on a later day when that week was full."""

    booked = (
        Appointment.objects.filter(reexam_plan=OuterRef("pk"), status__in=LIVE_STATUSES)
        .order_by("slot_start")
        .values("slot_start")[:1]
    )
    return plans.annotate(booked_at=Subquery(booked))


# --- Public holiday data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class HolidayDataStatus:
    missing: list[int]  # this year or next year with no holiday at all: nobody loaded its data file
    approximate: list[int]  # years whose coming holidays are still estimates ("dự kiến")


def holiday_data_status(*, today: date | None = None) -> HolidayDataStatus:
    """Whether the holiday data covers this year and the next (load_holidays reads one file per year):
    the desk warns on the schedule pages, since a year without data keeps every holiday open for booking.
    One query."""
    today = today or timezone.localdate()
    years = (today.year, today.year + 1)
    rows = Holiday.objects.filter(date__year__in=years).values_list("date", "name")
    present: set[int] = set()
    estimated: set[int] = set()
    for day, name in rows:
        present.add(day.year)
        if day >= today and "dự kiến" in name:
            estimated.add(day.year)
    return HolidayDataStatus(missing=[y for y in years if y not in present], approximate=sorted(estimated))


# --- The desk's calendar (a service's or a doctor's bookings over a day or a week) -------------------


def doctors_in_scope(*, user: Any, roles: frozenset[str]) -> QuerySet[Doctor]:
    """Active doctors at facilities where the user holds one of `roles` (and below), by name."""
    return access.scope_by_facility(
        Doctor.objects.filter(is_active=True).select_related("facility"), user, field="facility", roles=roles
    ).order_by("full_name", "id")


def calendar_bookings(
    *, user: Any, start: date, end: date, service: Service | None = None, doctor: Doctor | None = None
) -> list[Appointment]:
    """The bookings (not walk-in tickets, not cancelled) of local days [start, end] of one service and/or one
    doctor, in the staff member's scope (access: restricted patients left out for the desk's roles), by
    time: one query, whatever the number of bookings."""
    since, _end = slotlib.local_day_bounds(start)
    _start, until = slotlib.local_day_bounds(end)
    qs = (
        appointments_visible(user, access.APPOINTMENT_READER_ROLES)
        .filter(slot_start__gte=since, slot_start__lt=until, is_walk_in=False)
        .exclude(status=Status.CANCELLED)
        .select_related("patient", "service", "doctor")
    )
    if service is not None:
        qs = qs.filter(service=service)
    if doctor is not None:
        qs = qs.filter(doctor=doctor)
    return list(qs.order_by("slot_start", "id"))
