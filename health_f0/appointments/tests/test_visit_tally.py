"""The patients' visit tally (models.PatientVisitTally, issue 11): each patient's completed visits and no-shows,
kept by every write of a booking's status or patient, equals the live count of their bookings after each
workflow path, each direct write (save, the queryset's bulk writes, delete), the migration's backfill, and two
desks completing two bookings of one patient at the same moment."""

from __future__ import annotations

import importlib
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import Value

from health_f0.appointments import services
from health_f0.appointments.models import Appointment, PatientVisitTally, Status
from health_f0.appointments.tests.conftest import MONDAY, NOW, local, make_patient, make_service
from health_f0.appointments.tests.test_concurrency import in_parallel
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db


def live(patient: Patient) -> tuple[int, int]:
    """The patient's completed visits and no-shows, counted from the bookings (the reference)."""
    counts = Counter(
        Appointment.objects.filter(
            patient=patient, status__in=(Status.COMPLETED, Status.NO_SHOW)
        ).values_list("status", flat=True)
    )
    return counts[Status.COMPLETED], counts[Status.NO_SHOW]


def tally(patient: Patient) -> tuple[int, int]:
    row = PatientVisitTally.objects.filter(patient=patient).values_list("completed", "no_shows").first()
    return row or (0, 0)


def all_tallies_match() -> None:
    """Every patient's tally equals the live count (rows of zero and missing rows alike)."""
    counted: dict[int, list[int]] = {}
    rows = Appointment.objects.filter(status__in=(Status.COMPLETED, Status.NO_SHOW)).values_list(
        "patient_id", "status"
    )
    for patient_id, status in rows:
        pair = counted.setdefault(patient_id, [0, 0])
        pair[status == Status.NO_SHOW] += 1
    kept = {
        pk: [done, missed]
        for pk, done, missed in PatientVisitTally.objects.values_list("patient_id", "completed", "no_shows")
        if (done, missed) != (0, 0)
    }
    assert kept == counted


def _book(clinic: Any, patient: Patient, desk: Any, hour: int, day: int = 0) -> Appointment:
    return services.appointment_book(
        patient=patient,
        service=clinic,
        slot_start=local(MONDAY + timedelta(days=day), hour),
        channel="phone",
        actor=desk,
        now=NOW,
    )


def test_the_tally_follows_every_workflow_path(
    clinic: Any, persona: Any, django_capture_on_commit_callbacks: Any
):
    desk, reception = persona("datlich"), persona("tiepdon")
    patient = make_patient(Facility.objects.get(code="TYT-10510"), "Nguyễn Văn Đếm")
    assert tally(patient) == live(patient) == (0, 0)

    # Booked by the desk (confirmed), checked in, completed: one visit.
    visit = _book(clinic, patient, desk, 8)
    assert tally(patient) == (0, 0)
    services.appointment_check_in(code=visit.check_in_code, actor=reception, now=local(MONDAY, 7, 40))
    services.appointment_complete(appointment=visit, actor=reception, now=local(MONDAY, 8, 10))
    assert tally(patient) == live(patient) == (1, 0)

    # The desk marks a confirmed booking of a day that is over absent; the sweep marks another.
    missed = _book(clinic, patient, desk, 9)
    swept = _book(clinic, patient, desk, 10)
    services.appointment_mark_no_show(
        appointment=missed, actor=desk, now=local(MONDAY + timedelta(days=1), 0, 10)
    )
    assert tally(patient) == live(patient) == (1, 1)
    with django_capture_on_commit_callbacks(execute=True):
        services.no_show_sweep(now=local(MONDAY + timedelta(days=1), 0, 30))
    swept.refresh_from_db()
    assert swept.status == Status.NO_SHOW
    assert tally(patient) == live(patient) == (1, 2)

    # A cancelled booking counts nothing (a decline is a cancellation too).
    cancelled = _book(clinic, patient, desk, 11)
    services.appointment_cancel(appointment=cancelled, actor=desk, reason="Người bệnh gọi huỷ", now=NOW)
    assert tally(patient) == live(patient) == (1, 2)

    # A walk-in (checked in as it is registered) completed the same day.
    walk_in = services.walk_in_register(
        patient=patient, service=clinic, actor=reception, now=local(MONDAY, 15)
    )
    services.appointment_complete(appointment=walk_in, actor=reception, now=local(MONDAY, 15, 30))
    assert tally(patient) == live(patient) == (2, 2)
    all_tallies_match()


def test_direct_writes_keep_the_tally(clinic: Any, demo: Any):
    """save() (insert and update, the patient changed too), the queryset's update(), bulk_update() and
    bulk_create(), and delete(): whatever writes a booking's status or patient keeps the tally."""
    station = Facility.objects.get(code="TYT-10510")
    one, other = make_patient(station, "Một"), make_patient(station, "Hai")
    start = local(MONDAY, 8)

    def fields(patient: Patient, status: str, minutes: int) -> dict[str, Any]:
        return {
            "patient": patient,
            "service": clinic,
            "facility": clinic.facility,
            "slot_start": start + timedelta(minutes=minutes),
            "slot_end": start + timedelta(minutes=minutes + 15),
            "channel": "phone",
            "status": status,
            "check_in_code": f"TALLY{minutes:03d}",
        }

    def booking(patient: Patient, status: str, minutes: int) -> Appointment:
        return Appointment(**fields(patient, status, minutes))

    done = booking(one, Status.COMPLETED, 0)
    done.save()
    absent = Appointment.objects.create(**fields(one, Status.NO_SHOW, 15))
    assert tally(one) == live(one) == (1, 1)

    # A fresh instance changed and saved in full, then with update_fields; an instance that was saved before.
    again = Appointment.objects.get(pk=done.pk)
    again.status = Status.NO_SHOW
    again.save()
    assert tally(one) == live(one) == (0, 2)
    again.status = Status.COMPLETED
    again.save(update_fields=["status", "updated_at"])
    assert tally(one) == live(one) == (1, 1)
    absent.patient = other
    absent.save(update_fields=["patient"])
    assert (tally(one), tally(other)) == ((live(one), live(other))) == ((1, 0), (0, 1))
    absent.reason = "no status written"
    absent.save(update_fields=["reason"])
    assert tally(other) == (0, 1)

    # The queryset's writes.
    assert Appointment.objects.filter(patient=one).update(status=Status.NO_SHOW) == 1
    assert tally(one) == live(one) == (0, 1)
    Appointment.objects.filter(pk=absent.pk).update(patient=one, status=Status.COMPLETED)
    assert (tally(one), tally(other)) == ((live(one), live(other))) == ((1, 1), (0, 0))
    made = Appointment.objects.bulk_create([booking(other, s, 30 + i) for i, s in enumerate(Status.values)])
    assert tally(other) == live(other) == (1, 1)
    for appointment in made:
        appointment.status = Status.COMPLETED
    Appointment.objects.bulk_update(made, ["status"])
    assert tally(other) == live(other) == (len(Status.values), 0)
    with pytest.raises(TypeError):  # an expression's old and new values are not known
        Appointment.objects.filter(pk=done.pk).update(status=Value(Status.CANCELLED))
    assert tally(one) == live(one)

    # Deleting a counted booking takes it out; one at a time and in bulk.
    made[0].delete()
    Appointment.objects.filter(pk__in=[a.pk for a in made[1:3]]).delete()
    assert tally(other) == live(other) == (len(Status.values) - 3, 0)
    all_tallies_match()


def _bulk_bookings(clinic: Any, bookings: list[tuple[Patient, str]], code: str) -> None:
    """(patient, status) bookings, 15 minutes apart from Monday 08:00, inserted by one bulk_create."""
    start = local(MONDAY, 8)
    Appointment.objects.bulk_create(
        Appointment(
            patient=patient,
            service=clinic,
            facility=clinic.facility,
            slot_start=start + timedelta(minutes=15 * i),
            slot_end=start + timedelta(minutes=15 * i + 15),
            channel="phone",
            status=status,
            check_in_code=f"{code}{i:04d}",
        )
        for i, (patient, status) in enumerate(bookings)
    )


def test_the_migrations_backfill_counts_the_existing_bookings(clinic: Any, demo: Any):
    """The migration's INSERT ... SELECT ... GROUP BY (and PatientVisitTally.rebuild) equal the live count."""
    station = Facility.objects.get(code="TYT-10510")
    patients = [make_patient(station, f"Cũ {i}") for i in range(3)]
    statuses = [Status.COMPLETED, Status.NO_SHOW, Status.CANCELLED, Status.COMPLETED, Status.REQUESTED]
    _bulk_bookings(clinic, [(patients[i % 3], statuses[i % len(statuses)]) for i in range(17)], "BACK")
    migration = importlib.import_module("health_f0.appointments.migrations.0010_patient_visit_tally")
    PatientVisitTally.objects.all().delete()
    with connection.cursor() as cursor:
        cursor.execute(migration.BACKFILL)
    all_tallies_match()
    assert [tally(p) for p in patients] == [live(p) for p in patients]
    PatientVisitTally.objects.filter(patient=patients[0]).update(completed=99)
    PatientVisitTally.rebuild()
    all_tallies_match()


@pytest.mark.django_db(transaction=True)
def test_two_desks_completing_two_bookings_of_one_patient_at_once_both_count(demo: Any, persona: Any):
    service = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=5)
    other = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=5, name="Khám Nội 2")
    patient = make_patient(Facility.objects.get(code="TYT-10510"), "Hai Lượt")
    desk, reception = persona("datlich"), persona("tiepdon")
    first = _book(service, patient, desk, 8)
    second = _book(other, patient, desk, 9)
    for appointment in (first, second):
        services.appointment_check_in(
            code=appointment.check_in_code, actor=reception, now=local(MONDAY, 7, 45)
        )
    results = in_parallel(
        [
            lambda a=a: services.appointment_complete(appointment=a, actor=reception, now=local(MONDAY, 10))
            for a in (first, second)
        ]
    )
    assert all(isinstance(r, Appointment) for r in results), results
    assert tally(patient) == live(patient) == (2, 0)


@pytest.mark.django_db(transaction=True)
def test_two_saves_of_one_patients_bookings_at_once_both_count_without_the_patient_lock(demo: Any):
    """Without the services' patient lock (two plain saves, each holding its transaction open a while), the
    tally's upsert still counts both: the second waits for the first's row and adds to it. (A read-modify-write
    of the row loses one here: checked by hand with PatientVisitTally.add so written, 2 instead of 3.)"""
    clinic = make_service(Facility.objects.get(code="PK-NOI1"), capacity_per_slot=5)
    patient = make_patient(Facility.objects.get(code="TYT-10510"), "Không Khoá")
    start = local(MONDAY, 8)
    bookings = [
        Appointment.objects.create(
            patient=patient,
            service=clinic,
            facility=clinic.facility,
            slot_start=start + timedelta(minutes=15 * i),
            slot_end=start + timedelta(minutes=15 * i + 15),
            channel="phone",
            status=Status.COMPLETED if i == 2 else Status.CHECKED_IN,
            check_in_code=f"RACE{i:04d}",
        )
        for i in range(3)
    ][:2]
    assert tally(patient) == (1, 0)  # the row exists: both transactions would read it

    def complete(pk: int) -> Appointment:
        with transaction.atomic():
            appointment = Appointment.objects.select_for_update().get(pk=pk)
            appointment.status = Status.COMPLETED
            appointment.save(update_fields=["status", "updated_at"])
            time.sleep(0.3)  # both transactions open at once
        return appointment

    results = in_parallel([lambda pk=a.pk: complete(pk) for a in bookings])
    assert all(isinstance(r, Appointment) for r in results), results
    assert tally(patient) == live(patient) == (3, 0)


def test_a_privacy_deletion_keeps_the_tally(
    clinic: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """A deletion request (privacy.services.request_approve): the patient's live bookings are cancelled and the
    past ones anonymised (reasons emptied) or kept as medical records; none of that changes a count."""
    from django.utils import timezone

    from health_f0.privacy import services as privacy
    from tests.security.test_privacy import _patient, _request

    patient = _patient(name="Xoá Dữ Liệu", phone="+84977300991")
    soon = timezone.now() + timedelta(days=3)
    for minutes, status in (
        (0, Status.COMPLETED),
        (15, Status.NO_SHOW),
        (30, Status.NO_SHOW),
        (45, Status.CONFIRMED),
    ):
        start = soon - timedelta(days=10 if status != Status.CONFIRMED else 0) + timedelta(minutes=minutes)
        Appointment.objects.create(
            patient=patient,
            service=clinic,
            facility=clinic.facility,
            slot_start=start,
            slot_end=start + timedelta(minutes=15),
            channel="phone",
            status=status,
            reason="Đau đầu",
            check_in_code=f"PRIV{minutes:04d}",
        )
    assert tally(patient) == live(patient) == (1, 2)
    request = _request(patient)
    with django_capture_on_commit_callbacks(execute=True):
        privacy.request_approve(request=request, actor=persona("thanhdong.truong"), note="Đã xác minh")
    assert not Appointment.objects.filter(patient=patient, status=Status.CONFIRMED).exists()
    assert tally(patient) == live(patient) == (1, 2)
    all_tallies_match()


def test_visit_tally_command_reports_drift_and_fixes_it(clinic: Any, demo: Any):
    """`manage.py visit_tally` finds patients whose tally differs from their bookings (a wrong row, a missing row,
    a row for a patient with none), fails without --fix, and with it sets each to the live count."""
    from io import StringIO

    from django.core.management import CommandError, call_command

    station = Facility.objects.get(code="TYT-10510")
    patients = [make_patient(station, f"Đối chiếu {i}") for i in range(3)]
    statuses = (Status.COMPLETED, Status.NO_SHOW, Status.COMPLETED)
    _bulk_bookings(clinic, [(patients[i % 2], statuses[i % 3]) for i in range(6)], "DRIF")
    out = StringIO()
    call_command("visit_tally", stdout=out)
    assert "every patient matches" in out.getvalue()

    # Written around the application: one row wrong, one gone, one for a patient without such bookings.
    PatientVisitTally.objects.filter(patient=patients[0]).update(completed=7)
    PatientVisitTally.objects.filter(patient=patients[1]).delete()
    PatientVisitTally.objects.create(patient=patients[2], completed=1, no_shows=0)
    with pytest.raises(CommandError, match="3 patient"):
        call_command("visit_tally", stdout=StringIO())
    matches = [tally(p) == live(p) for p in patients]
    assert matches == [False, False, False]

    out = StringIO()
    call_command("visit_tally", "--fix", stdout=out)
    assert "recounted for 3 patient(s)" in out.getvalue()
    assert [tally(p) for p in patients] == [live(p) for p in patients]
    all_tallies_match()
    out = StringIO()
    call_command("visit_tally", stdout=out)
    assert "every patient matches" in out.getvalue()
