"""Slot arithmetic: pure functions, no database.

A service's slots on a day come from its weekly windows (or, if the date has overrides, from those: a
closed override closes the day, opening overrides replace the weekly windows), unless the day is a public
holiday without an opening override. Each window is cut into back-to-back slots of the service's duration;
a slot never runs past its window's end. Slots of two windows that start at the same moment (two doctors
in one room) merge into one slot with the summed capacity: a slot is identified by (service, start), and
keeps its seats per doctor (`Slot.seats`: each window's doctor, or NO_DOCTOR, with the seats it adds).
A date's overrides without a doctor replace the weekly windows of every doctor and carry no doctor
(NO_DOCTOR seats); a doctor's overrides replace only that doctor's windows that date (closed: the doctor's
day off; open: the doctor's own hours, even on a holiday).

Times are wall-clock times in Asia/Ho_Chi_Minh; slots come out as aware UTC datetimes (what the database
stores). Booking rules: no slot starts before `now + min_notice`, and none lies on a day after
`today + horizon_days` (local days).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Window:
    """A weekly working window: weekday 0 = Monday."""

    weekday: int
    start: time
    end: time
    doctor: int = 0  # the doctor's id, 0: no doctor (models.NO_DOCTOR)


@dataclass(frozen=True)
class Override:
    date: date
    closed: bool
    start: time | None = None
    end: time | None = None
    doctor: int = 0  # 0: the whole service; a doctor's id: only that doctor's rows


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime
    capacity: int
    # Seats per doctor: ((doctor id or 0, seats), ...) ordered by doctor key; they sum to `capacity`.
    seats: tuple[tuple[int, int], ...] = ()

    def seats_of(self, doctor: int) -> int:
        """The seats `doctor` (0: no doctor) holds in this slot (a slot made without seats: all on 0)."""
        if not self.seats:
            return self.capacity if doctor == 0 else 0
        return dict(self.seats).get(doctor, 0)

    @property
    def doctor_keys(self) -> tuple[int, ...]:
        return tuple(key for key, _n in self.seats) if self.seats else (0,)

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(LOCAL_TZ)


def local_date_of(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[00:00, next 00:00) of a local day, as aware UTC datetimes."""
    start = datetime.combine(day, time.min, tzinfo=LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def windows_for_day(
    day: date, *, templates: Iterable[Window], overrides: Iterable[Override], holidays: Iterable[date]
) -> list[tuple[time, time, int]]:
    """The working windows (start, end, doctor) of one day after overrides and holidays."""
    todays = [o for o in overrides if o.date == day]
    whole = [o for o in todays if o.doctor == 0]
    if whole:
        if any(o.closed for o in whole):
            return []
        return sorted(
            (o.start, o.end, 0)
            for o in whole
            if o.start is not None and o.end is not None and o.end > o.start
        )
    by_doctor: dict[int, list[Override]] = {}
    for o in todays:
        by_doctor.setdefault(o.doctor, []).append(o)
    holiday = day in set(holidays)
    windows = [
        (w.start, w.end, w.doctor)
        for w in templates
        if w.weekday == day.weekday() and w.end > w.start and w.doctor not in by_doctor and not holiday
    ]
    for doctor, own in by_doctor.items():
        if any(o.closed for o in own):
            continue
        windows += [
            (o.start, o.end, doctor)
            for o in own
            if o.start is not None and o.end is not None and o.end > o.start
        ]
    return sorted(windows)


def cut_window(day: date, start: time, end: time, duration: timedelta) -> list[tuple[datetime, datetime]]:
    """Back-to-back (start, end) pairs in UTC, each inside [start, end) of the local day."""
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")
    cursor = datetime.combine(day, start, tzinfo=LOCAL_TZ)
    stop = datetime.combine(day, end, tzinfo=LOCAL_TZ)
    pieces = []
    while cursor + duration <= stop:
        pieces.append((cursor.astimezone(UTC), (cursor + duration).astimezone(UTC)))
        cursor += duration
    return pieces


def compute_slots(
    *,
    templates: Iterable[Window],
    overrides: Iterable[Override],
    holidays: Iterable[date],
    duration_minutes: int,
    capacity: int,
    start_date: date,
    end_date: date,
    now: datetime,
    min_notice: timedelta = timedelta(0),
    horizon_days: int | None = None,
) -> list[Slot]:
    """Every bookable slot from start_date to end_date inclusive (local days), ordered by start."""
    templates = list(templates)
    overrides = list(overrides)
    holiday_set = set(holidays)
    duration = timedelta(minutes=duration_minutes)
    earliest = now + min_notice
    last_day = end_date
    if horizon_days is not None:
        last_day = min(end_date, local_date_of(now) + timedelta(days=horizon_days))
    ends: dict[datetime, datetime] = {}
    seats: dict[datetime, dict[int, int]] = {}
    day = start_date
    while day <= last_day:
        for start, end, doctor in windows_for_day(
            day, templates=templates, overrides=overrides, holidays=holiday_set
        ):
            for slot_start, slot_end in cut_window(day, start, end, duration):
                if slot_start < earliest:
                    continue
                ends.setdefault(slot_start, slot_end)
                per_doctor = seats.setdefault(slot_start, {})
                per_doctor[doctor] = per_doctor.get(doctor, 0) + capacity
        day += timedelta(days=1)
    return [
        Slot(key, ends[key], sum(seats[key].values()), tuple(sorted(seats[key].items())))
        for key in sorted(seats)
    ]
