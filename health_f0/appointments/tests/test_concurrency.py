"""Real parallel work on MariaDB: threads, each with its own connection and transaction."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection

from health_f0.appointments import services
from health_f0.appointments.models import Appointment, SlotCounter
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient, make_service
from health_f0.core.exceptions import Conflict
from health_f0.facilities.models import Facility

pytestmark = pytest.mark.django_db(transaction=True)


def in_parallel(jobs):
    """Run callables at once (a barrier releases them together); returns their results or exceptions."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def run(index, job):
        try:
            barrier.wait()
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def outcome(result):
    if isinstance(result, Conflict):
        return result.code
    return "ok" if isinstance(result, Appointment) else repr(result)


def test_twenty_clients_race_for_five_places(demo, persona):
    service = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=5)
    station = Facility.objects.get(code="TYT-10510")
    patients = [make_patient(station, f"Người {i}") for i in range(20)]
    desk = persona("datlich")
    slot = local(MONDAY, 8)
    jobs = [
        lambda p=p: services.appointment_book(
            patient=p, service=service, slot_start=slot, channel="phone", actor=desk, now=NOW
        )
        for p in patients
    ]
    results = Counter(outcome(r) for r in in_parallel(jobs))
    assert results == {"ok": 5, "slot_full": 15}
    assert Appointment.objects.filter(service=service, slot_start=slot).count() == 5
    assert SlotCounter.objects.get(service=service, slot_start=slot).booked == 5


def test_one_patient_two_overlapping_bookings_at_once(demo, persona):
    pk1 = make_service(Facility.objects.get(code="PK-NOI1"))
    pk2 = make_service(Facility.objects.get(code="PK-NHI"))
    patient = make_patient(Facility.objects.get(code="TYT-10510"))
    desk = persona("datlich")
    slot = local(MONDAY, 8)
    jobs = [
        lambda s=s: services.appointment_book(
            patient=patient, service=s, slot_start=slot, channel="phone", actor=desk, now=NOW
        )
        for s in (pk1, pk2, pk1, pk2)
    ]
    results = Counter(outcome(r) for r in in_parallel(jobs))
    assert results == {"ok": 1, "overlap": 3}
    assert Appointment.objects.filter(patient=patient).count() == 1


def test_reschedule_under_contention(demo, persona):
    """Two patients move into the last place of a slot while three others book it: the slot ends exactly
    full, and every mover either moved (old seat freed) or kept the old seat."""
    service = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=2)
    station = Facility.objects.get(code="TYT-10510")
    desk = persona("datlich")
    old, target = local(MONDAY, 8), local(MONDAY, 9)
    movers = [
        services.appointment_book(
            patient=make_patient(station, f"Đổi {i}"),
            service=service,
            slot_start=old,
            channel="phone",
            actor=desk,
            now=NOW,
        )
        for i in range(2)
    ]
    bookers = [make_patient(station, f"Mới {i}") for i in range(3)]
    jobs = [
        lambda a=a: services.appointment_reschedule(appointment=a, actor=desk, slot_start=target, now=NOW)
        for a in movers
    ] + [
        lambda p=p: services.appointment_book(
            patient=p, service=service, slot_start=target, channel="phone", actor=desk, now=NOW
        )
        for p in bookers
    ]
    results = [outcome(r) for r in in_parallel(jobs)]
    assert set(results) <= {"ok", "slot_full"}, results
    assert results.count("ok") == 2
    counts = Counter(
        Appointment.objects.filter(service=service, status="confirmed").values_list("slot_start", flat=True)
    )
    counters = dict(SlotCounter.objects.filter(service=service).values_list("slot_start", "booked"))
    assert counts[target] == 2 == counters[target]
    assert counts[old] == counters[old] == 2 - sum(1 for r in results[:2] if r == "ok")


def test_concurrent_check_ins_get_distinct_numbers(demo, persona):
    service = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=10)
    station = Facility.objects.get(code="TYT-10510")
    desk, reception = persona("datlich"), persona("tiepdon")
    bookings = [
        services.appointment_book(
            patient=make_patient(station, f"Khám {i}"),
            service=service,
            slot_start=local(MONDAY, 8),
            channel="phone",
            actor=desk,
            now=NOW,
        )
        for i in range(8)
    ]
    at = local(MONDAY, 7, 45)
    jobs = [
        lambda a=a: services.appointment_check_in(code=a.check_in_code, actor=reception, now=at)
        for a in bookings
    ] + [
        lambda i=i: services.walk_in_register(
            patient=make_patient(station, f"Vãng lai {i}"), service=service, actor=reception, now=at
        )
        for i in range(4)
    ]
    results = in_parallel(jobs)
    assert all(isinstance(r, Appointment) for r in results), results
    numbers = sorted(
        Appointment.objects.filter(service=service, queue_date=MONDAY).values_list("queue_number", flat=True)
    )
    assert numbers == list(range(1, 13))
