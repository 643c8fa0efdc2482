"""Slot arithmetic as rules: hypothesis over templates, overrides, holidays, notice and horizon."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from health_f0.appointments.slots import LOCAL_TZ, Override, Window, compute_slots, local_date_of

START = date(2026, 11, 23)  # a Monday


@st.composite
def windows(draw):
    weekday = draw(st.integers(0, 6))
    start = draw(st.integers(6 * 60, 18 * 60))
    length = draw(st.integers(0, 6 * 60))
    end = min(start + length, 23 * 60 + 59)
    return Window(weekday, time(start // 60, start % 60), time(end // 60, end % 60))


days = st.integers(0, 20).map(lambda n: START + timedelta(days=n))


@st.composite
def overrides(draw):
    day = draw(days)
    if draw(st.booleans()):
        return Override(day, True)
    start = draw(st.integers(7 * 60, 12 * 60))
    end = start + draw(st.integers(15, 240))
    return Override(day, False, time(start // 60, start % 60), time(end // 60, end % 60))


scenario = st.fixed_dictionaries(
    {
        "templates": st.lists(windows(), max_size=6),
        "overrides": st.lists(overrides(), max_size=4),
        "holidays": st.sets(days, max_size=5),
        "duration_minutes": st.sampled_from([5, 10, 15, 20, 30, 45, 60]),
        "capacity": st.integers(1, 5),
        "now_offset_hours": st.integers(-48, 24 * 10),
        "min_notice_hours": st.integers(0, 72),
        "horizon_days": st.integers(0, 25),
    }
)


def run(s):
    now = datetime.combine(START, time(0), tzinfo=LOCAL_TZ).astimezone(UTC) + timedelta(
        hours=s["now_offset_hours"]
    )
    return now, compute_slots(
        templates=s["templates"],
        overrides=s["overrides"],
        holidays=s["holidays"],
        duration_minutes=s["duration_minutes"],
        capacity=s["capacity"],
        start_date=START,
        end_date=START + timedelta(days=20),
        now=now,
        min_notice=timedelta(hours=s["min_notice_hours"]),
        horizon_days=s["horizon_days"],
    )


@settings(max_examples=300, deadline=None)
@given(scenario)
def test_slot_properties(s):
    now, slots = run(s)
    opened = {o.date for o in s["overrides"] if not o.closed}
    closed = {o.date for o in s["overrides"] if o.closed}
    overridden = {o.date for o in s["overrides"]}
    duration = timedelta(minutes=s["duration_minutes"])
    for slot in slots:
        local_start = slot.start.astimezone(LOCAL_TZ)
        day = local_start.date()
        # No slot on a holiday unless the service explicitly opens that day; none on a closed day.
        assert day not in s["holidays"] or day in opened
        assert day not in closed
        # Minimum notice and horizon.
        assert slot.start >= now + timedelta(hours=s["min_notice_hours"])
        assert day <= local_date_of(now) + timedelta(days=s["horizon_days"])
        # Aware UTC, exact duration, capacity at least the service's.
        assert slot.start.utcoffset() == timedelta(0)
        assert slot.end - slot.start == duration
        assert slot.capacity >= s["capacity"] and slot.capacity % s["capacity"] == 0
        # Every slot lies inside one of that day's windows.
        if day in overridden:
            windows_today = [(o.start, o.end) for o in s["overrides"] if o.date == day and not o.closed]
        else:
            windows_today = [(w.start, w.end) for w in s["templates"] if w.weekday == day.weekday()]
        local_end = slot.end.astimezone(LOCAL_TZ)
        assert any(
            start <= local_start.time() and local_end.date() == day and local_end.time() <= end
            for start, end in windows_today
        )
    starts = [slot.start for slot in slots]
    assert starts == sorted(set(starts))


@settings(max_examples=200, deadline=None)
@given(windows(), st.sampled_from([5, 15, 20, 30]))
def test_slots_within_one_template_never_overlap_and_fill_it(window, minutes):
    day = START + timedelta(days=window.weekday)
    slots = compute_slots(
        templates=[window],
        overrides=[],
        holidays=[],
        duration_minutes=minutes,
        capacity=2,
        start_date=day,
        end_date=day,
        now=datetime(2000, 1, 1, tzinfo=UTC),
    )
    for earlier, later in zip(slots, slots[1:], strict=False):
        assert earlier.end <= later.start
    window_minutes = (window.end.hour * 60 + window.end.minute) - (
        window.start.hour * 60 + window.start.minute
    )
    assert len(slots) == max(window_minutes, 0) // minutes


def test_morning_session_of_15_minutes():
    slots = compute_slots(
        templates=[Window(0, time(7), time(11, 30))],
        overrides=[],
        holidays=[],
        duration_minutes=15,
        capacity=3,
        start_date=START,
        end_date=START,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert len(slots) == 18
    assert slots[0].start == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # 07:00 in Hà Nội
    assert slots[-1].end.astimezone(LOCAL_TZ).time() == time(11, 30)


def test_holiday_closes_and_override_opens():
    template = [Window(START.weekday(), time(7), time(8))]
    base = {
        "templates": template,
        "duration_minutes": 30,
        "capacity": 1,
        "start_date": START,
        "end_date": START,
    }
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert compute_slots(overrides=[], holidays=[START], now=now, **base) == []
    opened = compute_slots(
        overrides=[Override(START, False, time(9), time(10))], holidays=[START], now=now, **base
    )
    assert [s.start.astimezone(LOCAL_TZ).time() for s in opened] == [time(9), time(9, 30)]
    assert compute_slots(overrides=[Override(START, True)], holidays=[], now=now, **base) == []


def test_two_practitioners_same_start_sum_capacity():
    slots = compute_slots(
        templates=[Window(0, time(7), time(8), 1), Window(0, time(7), time(8), 2)],
        overrides=[],
        holidays=[],
        duration_minutes=30,
        capacity=2,
        start_date=START,
        end_date=START,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert [s.capacity for s in slots] == [4, 4]
    assert [s.seats for s in slots] == [((1, 2), (2, 2)), ((1, 2), (2, 2))]
    assert slots[0].seats_of(1) == 2 and slots[0].seats_of(0) == 0


def test_doctor_rows_and_plain_rows_keep_their_seats_apart():
    slots = compute_slots(
        templates=[Window(0, time(7), time(8)), Window(0, time(7, 30), time(8), 5)],
        overrides=[],
        holidays=[],
        duration_minutes=30,
        capacity=3,
        start_date=START,
        end_date=START,
        now=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert [(s.capacity, s.seats) for s in slots] == [(3, ((0, 3),)), (6, ((0, 3), (5, 3)))]
    assert slots[0].doctor_keys == (0,) and slots[1].doctor_keys == (0, 5)


def test_a_doctors_override_replaces_only_that_doctors_rows():
    week = [Window(0, time(7), time(8)), Window(0, time(7), time(8), 5), Window(0, time(7), time(8), 6)]
    base = {
        "templates": week,
        "duration_minutes": 60,
        "capacity": 1,
        "start_date": START,
        "end_date": START,
        "now": datetime(2026, 1, 1, tzinfo=UTC),
    }
    # Doctor 5 off that day: the service's and doctor 6's seats stay.
    off = compute_slots(overrides=[Override(START, True, doctor=5)], holidays=[], **base)
    assert [s.seats for s in off] == [((0, 1), (6, 1))]
    # Doctor 6 in the afternoon instead; doctor 5 keeps the morning.
    moved = compute_slots(
        overrides=[Override(START, False, time(14), time(15), doctor=6)], holidays=[], **base
    )
    assert [(s.local_start.hour, s.seats) for s in moved] == [(7, ((0, 1), (5, 1))), (14, ((6, 1),))]
    # A holiday: only a doctor's own opening opens it, for that doctor.
    holiday = compute_slots(
        overrides=[Override(START, False, time(9), time(10), doctor=5)], holidays=[START], **base
    )
    assert [(s.local_start.hour, s.seats) for s in holiday] == [(9, ((5, 1),))]
    # An override of the whole service still replaces every doctor's rows.
    whole = compute_slots(
        overrides=[Override(START, False, time(9), time(10)), Override(START, True, doctor=5)],
        holidays=[],
        **base,
    )
    assert [(s.local_start.hour, s.seats) for s in whole] == [(9, ((0, 1),))]
