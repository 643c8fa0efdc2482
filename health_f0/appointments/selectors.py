"""Appointment reads: free slots, worklists of the desk, the queue, the public display, a patient's list.

Staff lists are scoped through facilities.access (scope_by_facility on the appointment's facility).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from health_f0.appointments import slots as slotlib
from health_f0.appointments.models import (
    LIVE_STATUSES,
    Appointment,
    AppointmentPolicy,
    Holiday,
    ReexamPlan,
    ScheduleOverride,
    ScheduleTemplate,
    Service,
    SlotCounter,
    Status,
)
from health_f0.appointments.transitions import DESK_ROLES, RECEPTION_ROLES, REEXAM_ROLES
from health_f0.facilities import access
from health_f0.facilities.models import Facility

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

    @property
    def free(self) -> int:
        return max(self.capacity - self.booked, 0)


def service_slots(
    *, service: Service, start: date, end: date, now: datetime | None = None, for_staff: bool = False
) -> list[slotlib.Slot]:
    """The service's computed slots over local days [start, end]; staff skip minimum notice and horizon."""
    now = now or timezone.now()
    templates = [
        slotlib.Window(t.weekday, t.start_time, t.end_time, t.practitioner)
        for t in ScheduleTemplate.objects.filter(service=service, is_active=True)
    ]
    overrides = [
        slotlib.Override(o.date, o.is_closed, o.start_time, o.end_time)
        for o in ScheduleOverride.objects.filter(service=service, date__range=(start, end))
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
    *, service: Service, start: date, end: date, now: datetime | None = None, for_staff: bool = False
) -> list[FreeSlot]:
    """Slots of [start, end] with the places still free: computed slots, then ONE indexed read of the slot
    counters of the range (the counters are exact: bookings change them under a row lock)."""
    computed = service_slots(service=service, start=start, end=end, now=now, for_staff=for_staff)
    if not computed:
        return []
    booked = dict(
        SlotCounter.objects.filter(
            service=service, slot_start__gte=computed[0].start, slot_start__lte=computed[-1].start
        ).values_list("slot_start", "booked")
    )
    return [FreeSlot(s.start, s.end, s.capacity, booked.get(s.start, 0)) for s in computed]


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


def facility_label(facility: Facility) -> str:
    """Short unaccented name for SMS: the nearest facility up the tree that has one (a clinic room's
    TTYT), else the facility's own name."""
    from health_f0.core.text import unaccent

    if facility.short_name:
        return facility.short_name
    ids = [int(part) for part in facility.path.strip("/").split("/") if part]
    names = dict(Facility.objects.filter(id__in=ids).exclude(short_name="").values_list("id", "short_name"))
    for facility_id in reversed(ids):
        if facility_id in names:
            return names[facility_id]
    return unaccent(facility.name)[:30]


# --- Staff worklists -----------------------------------------------------------------------------


def appointments_visible(user: Any, roles: frozenset[str] | None = None) -> QuerySet[Appointment]:
    """Appointments at facilities the staff member can see (through facilities.access)."""
    return access.scope_by_facility(
        Appointment.objects.select_related("patient", "service"), user, field="facility", roles=roles
    )


def desk_worklist(*, user: Any, facility: Facility | None = None) -> QuerySet[Appointment]:
    """Requested bookings waiting for the desk, oldest first, with the patient's past record counts."""
    qs = appointments_visible(user, DESK_ROLES).filter(status=Status.REQUESTED)
    if facility is not None:
        qs = qs.filter(facility__path__startswith=facility.path)
    return qs.annotate(
        past_visits=Count(
            "patient__appointments", filter=Q(patient__appointments__status=Status.COMPLETED), distinct=True
        ),
        past_no_shows=Count(
            "patient__appointments", filter=Q(patient__appointments__status=Status.NO_SHOW), distinct=True
        ),
    ).order_by("created_at", "id")


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
    base = appointments_visible(user, REEXAM_ROLES).filter(is_reexam=True)
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
    return access.scope_by_facility(ReexamPlan.objects.all(), user, field="facility", roles=REEXAM_ROLES)


# --- Queue ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queue:
    waiting: list[Appointment]  # in calling order
    called: list[Appointment]  # most recent first


def queue_order(
    *, service: Service, waiting: list[Appointment], recent_called: list[Appointment]
) -> list[Appointment]:
    """Waiting tickets in the order they will be called, per the service's booked_priority.

    booked_first: every booked patient (by number) before any walk-in; arrival: by number; interleave N:
    after N booked patients, one walk-in (counting the booked calls since the last walk-in call)."""
    from health_f0.appointments.models import BookedPriority

    by_number = sorted(waiting, key=lambda a: (a.queue_number or 0, a.pk))
    if service.booked_priority == BookedPriority.ARRIVAL:
        return by_number
    booked = [a for a in by_number if not a.is_walk_in]
    walk_ins = [a for a in by_number if a.is_walk_in]
    if service.booked_priority == BookedPriority.BOOKED_FIRST:
        return booked + walk_ins
    ratio = max(service.interleave_ratio, 1)
    streak = 0
    for ticket in recent_called:  # most recent first
        if ticket.is_walk_in:
            break
        streak += 1
    order: list[Appointment] = []
    while booked or walk_ins:
        if walk_ins and (streak >= ratio or not booked):
            order.append(walk_ins.pop(0))
            streak = 0
        else:
            order.append(booked.pop(0))
            streak += 1
    return order


def queue_for(*, service: Service, day: date | None = None, recent: int = 20) -> Queue:
    """Today's queue of a service: who waits (in calling order) and who was called."""
    day = day or timezone.localdate()
    tickets = Appointment.objects.filter(service=service, queue_date=day).select_related("patient")
    waiting = list(tickets.filter(status=Status.CHECKED_IN, called_at__isnull=True))
    called = list(tickets.filter(called_at__isnull=False).order_by("-called_at", "-id")[:recent])
    return Queue(waiting=queue_order(service=service, waiting=waiting, recent_called=called), called=called)


@dataclass(frozen=True)
class QueuePlace:
    called: bool  # this ticket has been called: go in now
    ahead: int  # waiting tickets before it, in calling order
    now_calling: int | None  # the number called last


def queue_place(*, appointment: Appointment) -> QueuePlace | None:
    """Where a checked-in ticket stands in today's queue of its service (None if it has no number)."""
    if appointment.status != Status.CHECKED_IN or not appointment.queue_date or not appointment.queue_number:
        return None
    queue = queue_for(service=appointment.service, day=appointment.queue_date, recent=20)
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


def queue_display(*, facility: Facility, day: date | None = None, recent: int = 3) -> list[DisplayRow]:
    """What the waiting-hall screen shows: per service under the facility, the number being called and
    the few before it. Numbers only: no names on a public screen."""
    day = day or timezone.localdate()
    services = Service.objects.filter(
        facility__path__startswith=facility.path, is_active=True
    ).select_related("facility")
    rows = []
    for service in services:
        numbers = list(
            Appointment.objects.filter(service=service, queue_date=day, called_at__isnull=False)
            .order_by("-called_at", "-id")
            .values_list("queue_number", flat=True)[: recent + 1]
        )
        rows.append(
            DisplayRow(
                service_name=service.name,
                room=service.facility.name,
                now_calling=numbers[0] if numbers else None,
                recent=[n for n in numbers[1:] if n is not None],
            )
        )
    return rows


def reception_find(*, user: Any, code: str) -> Appointment | None:
    """An appointment by its check-in code, if reception at its facility may see it."""
    from health_f0.appointments.services import normalize_code

    return appointments_visible(user, RECEPTION_ROLES).filter(check_in_code=normalize_code(code)).first()


# --- Patients ------------------------------------------------------------------------------------


def appointments_of(*, user: Any) -> QuerySet[Appointment]:
    """A patient account's own and family members' appointments, newest first."""
    patients = access.patients_for(user)
    if access.is_staff_member(user):
        patients = patients.filter(account=user)
    return (
        Appointment.objects.filter(patient__in=patients)
        .select_related("service", "patient")
        .order_by("-slot_start")
    )


def services_of(*, facility: Facility) -> QuerySet[Service]:
    """Active services at the facility and under it."""
    return Service.objects.filter(facility__path__startswith=facility.path, is_active=True).select_related(
        "facility"
    )


# --- Desk pages (reception search, patient picker, re-exam call records) --------------------------

CODE_LENGTH = 8


def _looks_like_phone(term: str) -> str | None:
    from health_f0.core.exceptions import DomainError
    from health_f0.core.phone import normalize_mobile

    if sum(ch.isdigit() for ch in term) < 9:
        return None
    try:
        return normalize_mobile(term)
    except DomainError:
        return None


def _patient_match(term: str, prefix: str = "") -> Q:
    """Q for a patient by phone, CCCD (12 digits), BHYT number, or part of the name."""
    term = term.strip()
    digits = "".join(ch for ch in term if ch.isdigit())
    phone = _looks_like_phone(term)
    condition = Q()
    if phone:
        condition |= Q(**{f"{prefix}phone": phone})
    if len(digits) == 12 and digits == term.replace(" ", ""):
        condition |= Q(**{f"{prefix}cccd": digits})
    if len(term.replace(" ", "")) in (10, 15) and (not phone or len(digits) == 10):
        condition |= Q(**{f"{prefix}bhyt": term.replace(" ", "").upper()})
    if not condition:
        condition = Q(**{f"{prefix}full_name__icontains": term})
    return condition


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
        appointments_visible(user, RECEPTION_ROLES)
        .filter(slot_start__gte=start, slot_start__lt=end, is_walk_in=False)
        .filter(status__in=(Status.REQUESTED, Status.CONFIRMED, Status.CHECKED_IN))
        .filter(_patient_match(term, "patient__"))
        .select_related("service__facility")
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
    """{patient id: (completed visits, no-shows)} in one query."""
    counts: dict[int, tuple[int, int]] = dict.fromkeys(patient_ids, (0, 0))
    if not patient_ids:
        return counts
    rows = (
        Appointment.objects.filter(patient_id__in=patient_ids, status__in=(Status.COMPLETED, Status.NO_SHOW))
        .values("patient_id", "status")
        .annotate(n=Count("id"))
    )
    for row in rows:
        done, missed = counts[row["patient_id"]]
        if row["status"] == Status.COMPLETED:
            done = row["n"]
        else:
            missed = row["n"]
        counts[row["patient_id"]] = (done, missed)
    return counts


# --- The API's staff list ----------------------------------------------------------------------------


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
    qs = access.appointments_for(user, roles).select_related("patient", "service", "facility")
    if status:
        qs = qs.filter(status=status)
    if facility is not None:
        path = Facility.objects.filter(public_id=facility).values_list("path", flat=True).first()
        qs = qs.filter(facility__path__startswith=path) if path else qs.none()
    if day is not None:
        start, end = slotlib.local_day_bounds(day)
        qs = qs.filter(slot_start__gte=start, slot_start__lt=end)
    qs = qs.annotate(
        past_visits=Count(
            "patient__appointments", filter=Q(patient__appointments__status=Status.COMPLETED), distinct=True
        ),
        past_no_shows=Count(
            "patient__appointments", filter=Q(patient__appointments__status=Status.NO_SHOW), distinct=True
        ),
    )
    if status == Status.REQUESTED:
        return qs.order_by("created_at", "id")
    return qs.order_by("slot_start", "id")


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
