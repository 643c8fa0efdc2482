"""staff_appointments (the desk's and the API's staff list, issue 11): each booking carries its patient's past
visits and no-shows, counted per row by a correlated count (not a join grouped over the whole scope); the
patient, service and facility come by primary key, so the queries do not grow with the page."""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from health_f0.appointments.models import Appointment, Channel, Service, Status
from health_f0.appointments.selectors import staff_appointments
from health_f0.appointments.tests.conftest import MONDAY, local, make_patient
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db
_codes = count(1)


def _booking(service: Service, patient: Patient, status: str, days: int) -> Appointment:
    start = local(MONDAY + timedelta(days=days), 8)
    return Appointment.objects.create(
        patient=patient,
        service=service,
        facility=service.facility,
        slot_start=start,
        slot_end=start + timedelta(minutes=15),
        channel=Channel.APP,
        status=status,
        check_in_code=f"T{next(_codes):07d}",
    )


def test_past_visits_and_no_shows_are_the_patients_own(clinic: Service, persona: Any) -> None:
    centre = Facility.objects.get(code="PK-NOI1")
    regular, newcomer = make_patient(centre, "Lê Văn Quen"), make_patient(centre, "Phạm Thị Mới")
    for days, status in ((-30, Status.COMPLETED), (-20, Status.COMPLETED), (-10, Status.NO_SHOW)):
        _booking(clinic, regular, status, days)
    _booking(clinic, regular, Status.CANCELLED, -5)
    asked = _booking(clinic, regular, Status.REQUESTED, 2)
    first_time = _booking(clinic, newcomer, Status.REQUESTED, 3)

    rows = {
        a.pk: a
        for a in staff_appointments(
            user=persona("datlich"), roles=access.BOOKING_DESK_ROLES, status=Status.REQUESTED
        )
    }
    assert (rows[asked.pk].past_visits, rows[asked.pk].past_no_shows) == (2, 1)
    assert (rows[first_time.pk].past_visits, rows[first_time.pk].past_no_shows) == (0, 0)
    completed = staff_appointments(
        user=persona("datlich"), roles=access.BOOKING_DESK_ROLES, status=Status.COMPLETED
    )
    assert {a.past_visits for a in completed} == {2}  # a completed booking counts itself, as before


def test_the_worklist_statement_reads_the_visit_tally(clinic: Service, persona: Any) -> None:
    """appointments.sql.worklist answers the patient's completed visits and no-shows from the maintained tally
    (models.PatientVisitTally, joined on its key), as the ORM's two live counts answer them."""
    from health_f0.appointments.sql import worklist

    centre = Facility.objects.get(code="PK-NOI1")
    regular, newcomer = make_patient(centre, "Lê Văn Quen"), make_patient(centre, "Phạm Thị Mới")
    absent = make_patient(centre, "Trần Văn Vắng")
    for days, status in ((-30, Status.COMPLETED), (-20, Status.COMPLETED), (-10, Status.NO_SHOW)):
        _booking(clinic, regular, status, days)
    for days in (-40, -30, -20):
        _booking(clinic, absent, Status.NO_SHOW, days)
    _booking(clinic, regular, Status.CANCELLED, -5)
    _booking(clinic, regular, Status.REQUESTED, 2)
    _booking(clinic, newcomer, Status.REQUESTED, 3)
    _booking(clinic, absent, Status.REQUESTED, 4)
    desk = persona("datlich")
    for status in (Status.REQUESTED, Status.COMPLETED, Status.NO_SHOW, None):
        orm = {
            a.pk: (a.past_visits, a.past_no_shows)
            for a in staff_appointments(user=desk, roles=access.BOOKING_DESK_ROLES, status=status)
        }
        listing = worklist.worklist(user=desk, roles=access.BOOKING_DESK_ROLES, status=status)
        with CaptureQueriesContext(connection) as ctx:
            rows = listing.fetch(ordering=listing.ordering, limit=1000)
        assert {row["id"]: (row["past_visits"], row["past_no_shows"]) for row in rows} == orm, status
        (statement,) = [q["sql"] for q in ctx.captured_queries]
        assert "COUNT(" not in statement  # no count of the patient's bookings a row: the tally, joined


def test_a_page_costs_the_same_queries_for_2_or_20_bookings(clinic: Service, persona: Any) -> None:
    centre = Facility.objects.get(code="PK-NOI1")

    def page_queries() -> int:
        desk = persona("datlich")  # a fresh user object: its memberships are read again each time
        with CaptureQueriesContext(connection) as ctx:
            rows = list(
                staff_appointments(user=desk, roles=access.BOOKING_DESK_ROLES, status=Status.REQUESTED)[:100]
            )
            shown = [(row.patient.full_name, row.service.name, row.facility.name) for row in rows]
        assert len(shown) == len(rows)
        return len(ctx.captured_queries)

    for n in range(2):
        _booking(clinic, make_patient(centre, f"Người bệnh {n}"), Status.REQUESTED, 2)
    few = page_queries()
    for n in range(2, 20):
        _booking(clinic, make_patient(centre, f"Người bệnh {n}"), Status.REQUESTED, 2)
    assert page_queries() == few
