"""The reception queue's rules, as plain functions: the facility's queue settings (inherited down the tree,
overridable per service), the calling order (statutory priority groups, booked patients by appointment time,
walk-ins by arrival, interleaving, skipped tickets put back behind the next K) and the priority group a date
of birth suggests. selectors.queue_order applies them to the database's tickets; tests call them directly.

The calling order, first to last:
1. tickets marked with a priority group (PriorityGroup): emergencies first, then the other groups, each by
   queue number (arrival);
2. the rest by the service's booked priority: `booked_first` (booked patients by slot time, then check-in,
   before any walk-in), `arrival` (by number), `interleave` N (N booked patients, then one walk-in; the
   booked calls since the last walk-in call count towards N; priority calls count for neither);
3. a ticket skipped at the counter ("Bỏ qua") goes back in behind the next `skip_back` tickets: it stands at
   place max(0, skip_back - calls since the skip), so it comes up after K more calls whatever arrives
   meanwhile. Skipped tickets keep the order of their skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from health_f0.appointments.models import AppointmentPolicy, BookedPriority, PriorityGroup

CHILD_AGE = 6


@dataclass(frozen=True)
class QueuePolicy:
    """A facility's queue settings, resolved (the nearest facility up the tree with a policy row)."""

    booked_priority: str = BookedPriority.BOOKED_FIRST
    interleave_ratio: int = 2
    elderly_age: int = 75
    recall_limit: int = 3
    skip_back: int = 3
    skip_limit: int = 3


DEFAULT_POLICY = QueuePolicy()


def queue_policy(facility: Any) -> QueuePolicy:
    """The queue settings at `facility`: its own policy row, else the nearest one up the tree, else defaults."""
    ids = [int(part) for part in (facility.path or "").strip("/").split("/") if part] or [facility.pk]
    rows = {p.facility_id: p for p in AppointmentPolicy.objects.filter(facility_id__in=ids)}
    for facility_id in reversed(ids):
        row = rows.get(facility_id)
        if row is not None:
            return QueuePolicy(
                booked_priority=row.booked_priority,
                interleave_ratio=row.interleave_ratio,
                elderly_age=row.elderly_age,
                recall_limit=row.recall_limit,
                skip_back=row.skip_back,
                skip_limit=row.skip_limit,
            )
    return DEFAULT_POLICY


class FacilityPolicy:
    """The queue settings at one facility (its id and tree path), read by `queue_policy` the first time a guard
    asks and kept by this object: a page of a list's rows at one facility shares one
    (appointments.sql.worklist.hold_queue_policies), so the page reads each room's policy once at most, and not
    at all where no queue guard is asked (an actor without a queue role)."""

    __slots__ = ("_policy", "path", "pk")

    def __init__(self, pk: int, path: str) -> None:
        self.pk, self.path = pk, path
        self._policy: QueuePolicy | None = None

    @property
    def policy(self) -> QueuePolicy:
        if self._policy is None:
            self._policy = queue_policy(self)
        return self._policy


def ticket_policy(ticket: Any) -> QueuePolicy:
    """The queue settings of a ticket's facility, read once per ticket object (queue lists attach the
    queue's policy to each ticket, so the workflow's guards on a page of tickets make no query each; a
    worklist row holds its room's FacilityPolicy, shared by the page's rows at that room)."""
    cached = getattr(ticket, "_queue_policy", None)
    if cached is None:
        cached = queue_policy(ticket.facility)
        ticket._queue_policy = cached
    elif type(cached) is FacilityPolicy:
        return cached.policy
    return cached  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ServiceOrder:
    """How one service calls: its own order if set, else its facility's."""

    booked_priority: str
    interleave_ratio: int
    inherited: bool


def service_order(service: Any, policy: QueuePolicy) -> ServiceOrder:
    own = service.booked_priority or ""
    return ServiceOrder(
        booked_priority=own or policy.booked_priority,
        interleave_ratio=max(service.interleave_ratio or policy.interleave_ratio, 1),
        inherited=not own,
    )


def _by_number(ticket: Any) -> tuple[int, int]:
    return (ticket.queue_number or 0, ticket.pk or 0)


def _normal_order(waiting: list[Any], recent_called: Sequence[Any], order: ServiceOrder) -> list[Any]:
    by_number = sorted(waiting, key=_by_number)
    if order.booked_priority == BookedPriority.ARRIVAL:
        return by_number
    booked = sorted((a for a in by_number if not a.is_walk_in), key=lambda a: (a.slot_start, *_by_number(a)))
    walk_ins = [a for a in by_number if a.is_walk_in]
    if order.booked_priority == BookedPriority.BOOKED_FIRST:
        return booked + walk_ins
    ratio = order.interleave_ratio
    streak = 0
    for ticket in recent_called:  # most recent first
        if getattr(ticket, "priority_group", ""):
            continue
        if ticket.is_walk_in:
            break
        streak += 1
    out: list[Any] = []
    while booked or walk_ins:
        if walk_ins and (streak >= ratio or not booked):
            out.append(walk_ins.pop(0))
            streak = 0
        else:
            out.append(booked.pop(0))
            streak += 1
    return out


def calling_order(
    waiting: Sequence[Any],
    recent_called: Sequence[Any],
    *,
    order: ServiceOrder,
    skip_back: int,
    calls_since: dict[int, int] | None = None,
) -> list[Any]:
    """Waiting tickets in the order they will be called (see the module's docstring). `recent_called` is most
    recent first; `calls_since[pk]` is how many calls the service made since that skipped ticket's skip."""
    calls_since = calls_since or {}
    requeued = sorted((t for t in waiting if t.requeued_at), key=lambda t: (t.requeued_at, *_by_number(t)))
    rest = [t for t in waiting if not t.requeued_at]
    flagged = sorted(
        (t for t in rest if t.priority_group),
        key=lambda t: (t.priority_group != PriorityGroup.EMERGENCY, *_by_number(t)),
    )
    normal = _normal_order([t for t in rest if not t.priority_group], recent_called, order)
    result = flagged + normal
    floor = 0
    for ticket in requeued:
        place = max(skip_back - calls_since.get(ticket.pk, 0), 0, floor)
        place = min(place, len(result))
        result.insert(place, ticket)
        floor = place + 1
    return result


def age_on(date_of_birth: date | None, day: date) -> int | None:
    if date_of_birth is None:
        return None
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def suggested_group(date_of_birth: date | None, day: date, policy: QueuePolicy) -> str:
    """The priority group the date of birth suggests (under 6, or from the facility's elderly age), or "".
    Only a suggestion: reception confirms it (queue_mark_priority) before it changes the order."""
    age = age_on(date_of_birth, day)
    if age is None:
        return ""
    if age < CHILD_AGE:
        return PriorityGroup.CHILD
    if age >= policy.elderly_age:
        return PriorityGroup.ELDERLY
    return ""


def calls_after(called: Sequence[Any], moment: datetime) -> int:
    """How many of these called tickets were called after `moment`."""
    return sum(1 for t in called if t.called_at and t.called_at > moment)
