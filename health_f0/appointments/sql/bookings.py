"""Constant SQL of the patient's bookings (GET /api/v1|v2/appointments).

What: the bookings of the account's own patient record and its family's (access.appointments_for for a
patient account: the own_patients_for rule, written out by access.own_or_family_sql and access.NOT_STAFF_SQL
as the declaration path writes it), newest visit first, with the columns AppointmentSerializer, the
workflow's guards and the queue place read, and the page's service, room, doctor and patient joined (LEFT
JOINs on primary keys, as select_related joined them).

Why not the ORM: building and compiling `appointments_for(user).select_related(...)` and building five model
instances per row cost most of a patient's page (3.0 ms of CPU for the 100k data set's patients with bookings,
bench/list_inproc.py with patient_tokens_all.txt). As constant SQL, with the page's actions from one
`available_each` and each queue read once a page, a first page costs 1.3–2.0 ms (3.2–4.4 before, same minute)
and a heavy patient's 100-row page 8.9 ms (30.6): docs/benchmarks.md, issue 11's third round.
"""

from __future__ import annotations

from typing import Any

from health_f0.appointments.models import Appointment, Doctor, Service
from health_f0.appointments.sql.worklist import cols
from health_f0.core.sqllist import SqlColumns, SqlList
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient

# What AppointmentSerializer answers of the booking, and what its change deadline, meeting link, queue place
# and the workflow's guards read (the rest of a booking is loaded on access).
BOOKING_FIELDS = (
    "id",
    "public_id",
    "patient",
    "service",
    "facility",
    "doctor",
    "slot_start",
    "slot_end",
    "channel",
    "status",
    "reason",
    "confirmed_at",
    "cancelled_at",
    "cancel_source",
    "cancel_reason",
    "check_in_code",
    "is_walk_in",
    "checked_in_at",
    "queue_date",
    "queue_number",
    "called_at",
    "recall_count",
    "skip_count",
    "meeting_room",
    "is_reexam",
    "created_at",
)
PATIENT_FIELDS = ("public_id", "full_name", "account", "verified_phone")
# The reference (id, name, kind), the patient's cut-off and what the queue's calling order reads.
SERVICE_FIELDS = (
    "public_id",
    "name",
    "kind",
    "cancel_cutoff_hours",
    "facility",
    "booked_priority",
    "interleave_ratio",
)
FACILITY_FIELDS = ("public_id", "code", "name", "path")
DOCTOR_FIELDS = ("public_id", "title", "full_name")

BOOKING_COLUMNS = tuple(cols("a", "", Appointment, BOOKING_FIELDS))  # the rows' names of the booking's own
ROWS = SqlColumns(
    {
        **cols("a", "", Appointment, BOOKING_FIELDS),
        **cols("p", "p_", Patient, PATIENT_FIELDS),
        **cols("s", "s_", Service, SERVICE_FIELDS),
        **cols("f", "f_", Facility, FACILITY_FIELDS),
        **cols("d", "d_", Doctor, DOCTOR_FIELDS),
    }
)
_PATIENTS = Patient._meta.db_table
FROM = (
    f"{Appointment._meta.db_table} a "
    f"LEFT JOIN {_PATIENTS} p ON p.id = a.patient_id "
    f"LEFT JOIN {Service._meta.db_table} s ON s.id = a.service_id "
    f"LEFT JOIN {Facility._meta.db_table} f ON f.id = a.facility_id "
    f"LEFT JOIN {Doctor._meta.db_table} d ON d.id = a.doctor_id"
)


def own_bookings(user: Any) -> SqlList:
    """access.appointments_for(user) for a patient account, newest visit first ("-slot_start", "-id"), as
    constant SQL. None for anonymous users, superusers and staff (the patient API admits no staff account:
    api.permissions.IsPatientAccount; staff read bookings through the desk's list)."""
    params: list[Any] = []
    if not getattr(user, "is_authenticated", False) or access.is_staff_member(user):
        where = "1 = 0"
    else:
        family, params = access.own_or_family_sql(user)
        where = (
            f"a.patient_id IN (SELECT pp.id FROM {_PATIENTS} pp WHERE {family} "  # noqa: S608
            f"AND {access.NOT_STAFF_SQL})"
        )
        params = [*params, user.pk]
    return ROWS.rows(FROM, where, params, model=Appointment, ordering=("-slot_start", "-id"))
