"""The appointment workflow's guards as tests and refusals (core.workflow.Guard.when): what a page of bookings asks
(`Guard.refuses`, no message built) is what a step's check answers (`Guard.refusal`, the message), for every
guard of the table, over bookings in every combination the guards read; `not_today` is the local dates'
comparison it replaced, at the day's edges too."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import product
from types import SimpleNamespace
from typing import Any

import pytest

from health_f0.appointments import transitions
from health_f0.appointments.queue_rules import QueuePolicy
from health_f0.appointments.slots import LOCAL_TZ, local_date_of
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW, NOT_TODAY
from health_f0.core.actors import PATIENT, STAFF
from health_f0.core.workflow import Step

NOW = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)  # 10:30 in Vietnam


def _guards() -> list[Any]:
    found: dict[str, Any] = {}
    for transition in APPOINTMENT_WORKFLOW.transitions:
        for guard in transition.guards:
            found[guard.name] = guard
    return list(found.values())


def _bookings() -> list[Any]:
    policy = QueuePolicy(recall_limit=2, skip_limit=2)
    bookings = []
    for hours, walk_in, reexam, called, recalls, skips, unpaid in product(
        (-30, -2, 0, 1, 5, 30), (False, True), (False, True), (False, True), (0, 2), (0, 1), (False, True)
    ):
        bookings.append(
            SimpleNamespace(
                pk=1,
                service_id=7,
                service=SimpleNamespace(cancel_cutoff_hours=2),
                slot_start=NOW + timedelta(hours=hours),
                is_walk_in=walk_in,
                is_reexam=reexam,
                called_at=NOW if called else None,
                queue_number=12,
                recall_count=recalls,
                skip_count=skips,
                _queue_policy=policy,
                _payments_unpaid=unpaid,
            )
        )
    return bookings


def test_every_guard_refuses_exactly_when_its_check_gives_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("health_f0.payments.selectors.required_prepayment", lambda service_id: 50_000)
    guards = _guards()
    assert {guard.name for guard in guards} >= {"cutoff_passed", "not_today", "not_paid", "recall_limit"}
    assert all(guard.test is not None for guard in guards)
    refused = 0
    for booking, guard, capacity in product(_bookings(), guards, (STAFF, PATIENT)):
        step = Step(action="any", actor=None, capacity=capacity, now=NOW)
        message = guard.refusal(booking, step)
        assert guard.refuses(booking, step) is bool(message), (guard.name, booking, capacity)
        if message:
            refused += 1
            assert isinstance(message, str) and message.strip()
    assert refused  # the grid reaches every guard's refusal too


def test_the_refusals_keep_their_sentences() -> None:
    booking = SimpleNamespace(
        slot_start=datetime(2026, 11, 25, 1, 0, tzinfo=UTC),
        queue_number=4,
        called_at=None,
        recall_count=3,
        _queue_policy=QueuePolicy(recall_limit=3),
    )
    step = Step(action="check_in", actor=None, capacity=STAFF, now=NOW)
    assert NOT_TODAY.refusal(booking, step) == "Lịch hẹn này vào ngày 25/11/2026, không phải hôm nay."
    assert transitions.RECALLS_USED.refusal(booking, step) == (
        "Đã gọi lại số 4 3 lần (tối đa 3): hãy bỏ qua số này."
    )
    assert transitions.NOT_CALLED.refusal(booking, step) == "Số 4 chưa được gọi."


def test_not_today_is_the_local_dates_comparison() -> None:
    day_start = datetime(2026, 11, 23, 0, 0, tzinfo=LOCAL_TZ)
    moments = [
        day_start + offset
        for base in (timedelta(0), timedelta(days=1), timedelta(days=-1))
        for offset in (
            base,
            base - timedelta(microseconds=1),
            base + timedelta(microseconds=1),
            base + timedelta(hours=12),
        )
    ]
    moments += [moment.astimezone(UTC) for moment in moments]
    for slot_start, now in product(moments, moments):
        step = Step(action="check_in", actor=None, capacity=STAFF, now=now)
        booking = SimpleNamespace(slot_start=slot_start)
        expected = local_date_of(slot_start) != local_date_of(now)
        assert NOT_TODAY.refuses(booking, step) is expected, (slot_start, now)
        assert bool(NOT_TODAY.refusal(booking, step)) is expected
