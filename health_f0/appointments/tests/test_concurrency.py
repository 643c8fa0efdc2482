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


def test_many_clients_race_for_one_doctors_last_seats(demo, persona):
    """Ten patients want doctor A's 2 seats while six others take any doctor: A ends with exactly 2, the
    slot with exactly its 2 (no doctor) + 2 (A) + 2 (B) seats, and every counter matches its bookings."""
    from health_f0.appointments.tests.conftest import add_doctor

    service = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=2)
    doctor_a = add_doctor(service, "Nguyễn Văn An")
    doctor_b = add_doctor(service, "Lê Thị Bình")
    station = Facility.objects.get(code="TYT-10510")
    desk = persona("datlich")
    slot = local(MONDAY, 8)
    patients = [make_patient(station, f"Người {i}") for i in range(16)]
    jobs = [
        lambda p=p, i=i: services.appointment_book(
            patient=p,
            service=service,
            slot_start=slot,
            channel="phone",
            actor=desk,
            doctor=doctor_a if i < 10 else None,
            now=NOW,
        )
        for i, p in enumerate(patients)
    ]
    results = [outcome(r) for r in in_parallel(jobs)]
    assert set(results) <= {"ok", "slot_full"}, results
    booked = Counter(
        Appointment.objects.filter(service=service, slot_start=slot).values_list("doctor_id", flat=True)
    )
    assert booked[doctor_a.pk] == 2
    assert sum(booked.values()) == results.count("ok") == 6  # 6 "any" bookings fill B and the plain seats
    counters = dict(
        SlotCounter.objects.filter(service=service, slot_start=slot).values_list("doctor_key", "booked")
    )
    assert counters == {0: booked[None], doctor_a.pk: 2, doctor_b.pk: booked[doctor_b.pk]}
    assert booked[doctor_b.pk] == 2 and booked[None] == 2


def test_one_patient_racing_past_the_day_limit(demo, persona):
    """Five bookings of one patient on one day, at once, in five services: exactly the day's limit pass."""
    from health_f0.appointments.models import AppointmentPolicy

    AppointmentPolicy.objects.update_or_create(
        facility=Facility.objects.get(code="TTYT-HD"), defaults={"max_per_day": 2}
    )
    rooms = [Facility.objects.get(code=code) for code in ("PK-NOI1", "PK-NHI")]
    clinics = [make_service(rooms[i % 2]) for i in range(5)]
    patient = make_patient(Facility.objects.get(code="TYT-10510"))
    desk = persona("datlich")
    jobs = [
        lambda s=s, i=i: services.appointment_book(
            patient=patient,
            service=s,
            slot_start=local(MONDAY, (7, 8, 9, 10, 14)[i]),
            channel="phone",
            actor=desk,
            now=NOW,
        )
        for i, s in enumerate(clinics)
    ]
    results = Counter(outcome(r) for r in in_parallel(jobs))
    assert results == {"ok": 2, "limit_day": 3}
    assert Appointment.objects.filter(patient=patient).count() == 2
