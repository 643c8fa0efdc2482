"""Booked patients are called in the order of their appointment times, not of their arrival (issue 9,
item 19: #7 booked for 05:45 was called before #8 booked for 04:30); walk-ins keep their arrival order
and the service's priority rule (booked first, interleave, arrival) still applies."""

from __future__ import annotations

import pytest

from health_f0.appointments import selectors, services
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db


def booked(clinic, desk, name, hour, minute=0):
    return services.appointment_book(
        patient=make_patient(Facility.objects.get(code="TYT-10510"), name),
        service=clinic,
        slot_start=local(MONDAY, hour, minute),
        channel="phone",
        actor=desk,
        now=NOW,
    )


def check_in(appointment, reception, hour, minute):
    return services.appointment_check_in(
        code=appointment.check_in_code, actor=reception, now=local(MONDAY, hour, minute)
    )


def walk_in(clinic, reception, name, hour, minute):
    return services.walk_in_register(
        patient=make_patient(Facility.objects.get(code="TYT-10510"), name),
        service=clinic,
        actor=reception,
        now=local(MONDAY, hour, minute),
    )


def test_booked_patients_are_called_by_appointment_time_not_arrival(clinic, persona):
    desk, reception = persona("datlich"), persona("tiepdon")
    late_slot = booked(clinic, desk, "Hẹn 9 giờ 45", 9, 45)
    early_slot = booked(clinic, desk, "Hẹn 8 giờ 30", 8, 30)
    middle_slot = booked(clinic, desk, "Hẹn 9 giờ", 9)
    # They arrive in the opposite order: the 9:45 booking takes number 1.
    first = check_in(late_slot, reception, 7, 0)
    second = check_in(middle_slot, reception, 7, 5)
    third = check_in(early_slot, reception, 7, 10)
    assert (first.queue_number, second.queue_number, third.queue_number) == (1, 2, 3)
    waiting = selectors.queue_for(service=clinic, day=MONDAY).waiting
    assert [a.pk for a in waiting] == [early_slot.pk, middle_slot.pk, late_slot.pk]
    called = services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 7, 30))
    assert called.pk == early_slot.pk
    late_slot.refresh_from_db()
    place = selectors.queue_place(appointment=late_slot)
    assert place is not None and place.ahead == 1


def test_same_time_bookings_keep_their_arrival_order(clinic, persona):
    desk, reception = persona("datlich"), persona("tiepdon")
    a = booked(clinic, desk, "Cùng giờ A", 8)
    b = booked(clinic, desk, "Cùng giờ B", 8)
    check_in(b, reception, 7, 0)
    check_in(a, reception, 7, 1)
    assert [t.pk for t in selectors.queue_for(service=clinic, day=MONDAY).waiting] == [b.pk, a.pk]


def test_walk_ins_interleave_by_arrival_between_booked_in_time_order(clinic, persona):
    clinic.booked_priority, clinic.interleave_ratio = "interleave", 1
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    nine = booked(clinic, desk, "Hẹn 9 giờ", 9)
    eight = booked(clinic, desk, "Hẹn 8 giờ", 8)
    w1 = walk_in(clinic, reception, "Vãng lai 1", 7, 0)
    check_in(nine, reception, 7, 1)
    w2 = walk_in(clinic, reception, "Vãng lai 2", 7, 2)
    check_in(eight, reception, 7, 3)
    waiting = selectors.queue_for(service=clinic, day=MONDAY).waiting
    assert [t.pk for t in waiting] == [eight.pk, w1.pk, nine.pk, w2.pk]


def test_arrival_order_services_still_call_by_number(clinic, persona):
    clinic.booked_priority = "arrival"
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    nine = booked(clinic, desk, "Hẹn 9 giờ", 9)
    eight = booked(clinic, desk, "Hẹn 8 giờ", 8)
    check_in(nine, reception, 7, 0)
    check_in(eight, reception, 7, 1)
    assert [t.pk for t in selectors.queue_for(service=clinic, day=MONDAY).waiting] == [nine.pk, eight.pk]


def test_a_place_in_the_queue_reads_the_queue_as_queue_for_does(clinic, persona):
    """selectors.queue_place reads the queue by constant SQL (appointments.sql.queues, without the tickets'
    patients and rooms): the same waiting tickets in the same calling order, the same latest calls."""
    clinic.booked_priority, clinic.interleave_ratio = "interleave", 2
    clinic.save()
    desk, reception = persona("datlich"), persona("tiepdon")
    slots = [booked(clinic, desk, f"Hẹn {hour} giờ", hour) for hour in (9, 8, 10, 8)]
    for minute, ticket in enumerate(slots):
        check_in(ticket, reception, 7, minute)
        walk_in(clinic, reception, f"Vãng lai {minute}", 7, 10 + minute)
    for minute in (30, 31, 32):
        services.queue_call_next(service=clinic, actor=reception, now=local(MONDAY, 7, minute))
    expected = selectors.queue_for(service=clinic, day=MONDAY, recent=20)
    standing = selectors._standing(service=clinic, day=MONDAY, recent=20)
    assert [t.pk for t in standing.waiting] == [t.pk for t in expected.waiting]
    assert [t.pk for t in standing.called] == [t.pk for t in expected.called]
    assert (standing.policy, standing.order) == (expected.policy, expected.order)
    assert len(expected.waiting) == 5 and len(expected.called) == 3
    queues: dict = {}
    for ahead, ticket in enumerate(expected.waiting):
        place = selectors.queue_place(appointment=ticket, queues=queues)
        assert place is not None
        assert (place.called, place.ahead, place.now_calling) == (
            False,
            ahead,
            expected.called[0].queue_number,
        )
    assert len(queues) == 1
