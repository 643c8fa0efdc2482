"""Generate appointment data for the free-slot search benchmark: 50 services and 500,000 past and future
bookings, with slot counters that match them exactly.

    DATABASE_URL=mysql://health_f0_test:health_f0_test@127.0.0.1:3306/hf0_bench_appt \
        .venv/bin/python bench/appointments/generate.py --services 50 --bookings 500000

What it makes (on top of `seed_demo` + `load_appointments_demo`, which give the facility tree and the four
demo services): clinic rooms under the TTYT's Khoa Khám bệnh and enough extra services to reach --services,
each with the demo "full" week (Mon-Fri 07:00-11:30 and 13:30-16:30, Saturday morning; 15-minute slots,
capacity 2-6); --patients patients; then --bookings bookings spread over the last --past-days days and the
next --future-days days (about 90% in the past: completed, no-show, cancelled; the future ones requested,
confirmed or cancelled), all on real slots of their service (weekdays of the template, no holidays), never
above a slot's capacity. SlotCounter rows are written from the bookings themselves: `booked` = the
non-cancelled bookings of the slot, exactly what the booking service keeps under its row lock.

Bulk inserts with the ORM (`bulk_create`, batches of 5,000); `created_at` (auto_now_add) is set afterwards
with one UPDATE so bookings are made 0-20 days before their slot. The database must be one of your own: the
script refuses a name without "bench" and flushes the appointment tables first (not the rest).
"""

from __future__ import annotations

import argparse
import bisect
import random
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from _django import setup  # noqa: E402

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def code_of(n: int) -> str:
    """A unique 8-character check-in code for booking number n (base 32, never drawn at random)."""
    out = []
    for _ in range(8):
        n, r = divmod(n, 32)
        out.append(CODE_ALPHABET[r])
    return "".join(reversed(out))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--bookings", type=int, default=500_000)
    parser.add_argument("--patients", type=int, default=60_000)
    parser.add_argument("--past-days", type=int, default=365)
    parser.add_argument("--future-days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=20261123)
    args = parser.parse_args()
    setup()

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection, transaction

    name = settings.DATABASES["default"]["NAME"]
    if "bench" not in name:
        sys.exit(f"refusing to write to database {name!r}: its name must contain 'bench'")
    rng = random.Random(args.seed)
    started = time.monotonic()

    call_command("migrate", verbosity=0)
    call_command("seed_demo", verbosity=0)
    call_command("load_appointments_demo", verbosity=0)

    from health_f0.appointments.models import (
        Appointment,
        AppointmentReminder,
        Holiday,
        QueueCounter,
        ReexamPlan,
        ScheduleTemplate,
        Service,
        SlotCounter,
        Status,
    )
    from health_f0.appointments.selectors import service_slots
    from health_f0.facilities.models import Facility, FacilityKind
    from health_f0.facilities.services import facility_save
    from health_f0.patients.models import Patient

    with connection.cursor() as cursor:
        for model in (AppointmentReminder, Appointment, SlotCounter, QueueCounter, ReexamPlan):
            cursor.execute(f"DELETE FROM `{model._meta.db_table}`")
        cursor.execute("DELETE FROM patients_patient WHERE phone LIKE '+8470%%'")

    # --- Services ------------------------------------------------------------------------------
    department = Facility.objects.get(code="KKB-HD")
    rooms = []
    for i in range(1, 11):
        room, _ = Facility.objects.get_or_create(
            code=f"PK-B{i:02d}",
            defaults={
                "kind": FacilityKind.CLINIC_ROOM,
                "parent": department,
                "name": f"Phòng khám số {i}",
                "province_code": department.province_code,
            },
        )
        if not room.path:  # the tree's materialized path is kept by the facility service
            facility_save(facility=room)
        rooms.append(room)
    template_service = Service.objects.get(code="kham-noi")
    weekly = list(ScheduleTemplate.objects.filter(service=template_service))
    specialities = [
        "Nội",
        "Nhi",
        "Tai Mũi Họng",
        "Răng Hàm Mặt",
        "Mắt",
        "Da liễu",
        "Sản",
        "Tim mạch",
        "Nội tiết",
        "Thần kinh",
        "Cơ xương khớp",
        "Tiêu hoá",
        "Hô hấp",
        "Thận",
        "Y học cổ truyền",
    ]
    existing = Service.objects.count()
    for i in range(existing, args.services):
        room = rooms[i % len(rooms)]
        service, created = Service.objects.get_or_create(
            facility=room,
            code=f"bench-{i:03d}",
            defaults={
                "name": f"Khám {specialities[i % len(specialities)]} {i}",
                "short_name": f"Kham {i}",
                "duration_minutes": 15,
                "capacity_per_slot": 2 + i % 5,
                "min_notice_hours": 2,
                "booking_horizon_days": 30,
            },
        )
        if created:
            ScheduleTemplate.objects.bulk_create(
                ScheduleTemplate(
                    service=service, weekday=w.weekday, start_time=w.start_time, end_time=w.end_time
                )
                for w in weekly
            )
    services = list(Service.objects.order_by("pk")[: args.services])
    print(f"services: {len(services)}; holidays: {Holiday.objects.count()}")

    # --- Patients ------------------------------------------------------------------------------
    station = Facility.objects.get(code="TYT-10510")
    patients = [
        Patient(
            full_name=f"Người bệnh {n}",
            date_of_birth=date(1950 + n % 60, 1 + n % 12, 1 + n % 28),
            sex="female" if n % 2 else "male",
            phone=f"+8470{n:07d}",
            province_code=31,
            ward_code=10510,
            facility=station,
        )
        for n in range(args.patients)
    ]
    Patient.objects.bulk_create(patients, batch_size=5000)
    patient_ids = list(Patient.objects.filter(phone__startswith="+8470").values_list("pk", flat=True))
    print(f"patients: {len(patient_ids)} ({time.monotonic() - started:.0f} s)")

    # --- Bookings ------------------------------------------------------------------------------
    from django.utils import timezone

    now = timezone.now()
    today = timezone.localdate()
    first, last = today - timedelta(days=args.past_days), today + timedelta(days=args.future_days)
    counters: dict[tuple[int, datetime], int] = defaultdict(int)
    number = 0
    batch: list[Appointment] = []

    def flush() -> None:
        if batch:
            with transaction.atomic():
                Appointment.objects.bulk_create(batch, batch_size=5000)
            batch.clear()

    # Bookings per service in proportion to its seats (a specialist's two afternoons hold few).
    all_slots = {
        service.pk: service_slots(
            service=service, start=first, end=last, now=first_moment(first), for_staff=True
        )
        for service in services
    }
    seats_of = {pk: sum(s.capacity for s in slots) for pk, slots in all_slots.items()}
    total_seats = sum(seats_of.values())
    if args.bookings > total_seats * 0.8:
        sys.exit(f"{args.bookings} bookings do not fit in {total_seats} seats")
    shares = {pk: args.bookings * seats // total_seats for pk, seats in seats_of.items()}
    shares[services[-1].pk] += args.bookings - sum(shares.values())

    for service in services:
        slots = all_slots[service.pk]
        wanted = shares[service.pk]
        seats = seats_of[service.pk]
        # Fill random slots up to their capacity: pick (slot, seat) pairs without replacement.
        pairs = rng.sample(range(seats), wanted)
        offsets = []
        total = 0
        for s in slots:
            offsets.append(total)
            total += s.capacity
        for pair in pairs:
            slot = slots[bisect.bisect_right(offsets, pair) - 1]
            future = slot.start > now
            roll = rng.random()
            if future:
                status = (
                    Status.CANCELLED if roll < 0.08 else Status.REQUESTED if roll < 0.30 else Status.CONFIRMED
                )
            else:
                status = (
                    Status.CANCELLED if roll < 0.10 else Status.NO_SHOW if roll < 0.22 else Status.COMPLETED
                )
            channel = rng.choices(["app", "web", "phone", "desk"], weights=[8, 12, 40, 40])[0]
            booking = Appointment(
                public_id=uuid.uuid4(),
                patient_id=rng.choice(patient_ids),
                service_id=service.pk,
                facility_id=service.facility_id,
                slot_start=slot.start,
                slot_end=slot.end,
                channel=channel,
                status=status,
                check_in_code=code_of(number + 32**7),
                is_reexam=rng.random() < 0.15,
            )
            if status in (Status.CONFIRMED, Status.COMPLETED, Status.NO_SHOW):
                booking.confirmed_at = slot.start - timedelta(days=1)
            if status == Status.COMPLETED:
                booking.checked_in_at = slot.start - timedelta(minutes=10)
                booking.completed_at = slot.start + timedelta(minutes=20)
                booking.queue_date = slot.local_start.date()
            if status == Status.CANCELLED:
                booking.cancelled_at = slot.start - timedelta(days=1)
                booking.cancel_source = "patient"
            else:
                counters[(service.pk, slot.start)] += 1
            number += 1
            batch.append(booking)
            if len(batch) >= 20000:
                flush()
        print(f"  {service.code}: {wanted} bookings ({time.monotonic() - started:.0f} s)", flush=True)
    flush()

    SlotCounter.objects.bulk_create(
        (SlotCounter(service_id=sid, slot_start=start, booked=n) for (sid, start), n in counters.items()),
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE appointments_appointment SET created_at = slot_start - INTERVAL (id % 20) DAY "
            "- INTERVAL (id % 600) MINUTE, updated_at = slot_start"
        )
        cursor.execute("ANALYZE TABLE appointments_appointment, appointments_slotcounter")
        cursor.fetchall()
    print(
        f"bookings: {Appointment.objects.count()}, slot counters: {SlotCounter.objects.count()} "
        f"(sum booked {sum(counters.values())}), {time.monotonic() - started:.0f} s"
    )


def first_moment(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC) - timedelta(days=1)


if __name__ == "__main__":
    main()
