"""Constant SQL of the patient's bookings (GET /api/v1|v2/appointments).

What: the bookings of the account's own patient record and its family's (access.appointments_for for a
patient account: the own_patients_for rule, written out by access.own_or_family_sql and access.not_staff_sql
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

from health_f0.appointments.models import LIVE_STATUSES, Appointment, Doctor, Service
from health_f0.appointments.sql.worklist import cols
from health_f0.core.sqllist import SqlColumns, SqlList, bare_instances, related_instances
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
    "patient_confirmed_at",
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
        # The staff test was just answered (is_staff_member above): access.not_staff_sql writes its answer.
        not_staff, not_staff_params = access.not_staff_sql(user)
        where = (
            f"a.patient_id IN (SELECT pp.id FROM {_PATIENTS} pp WHERE {family} "  # noqa: S608
            f"AND {not_staff})"
        )
        params = [*params, *not_staff_params]
    return ROWS.rows(FROM, where, params, model=Appointment, ordering=("-slot_start", "-id"))


_LIVE = ", ".join(["%s"] * len(LIVE_STATUSES))
_AHEAD = f"a.status IN ({_LIVE}) AND a.slot_end >= %s"


def portal_bookings(user: Any, *, since: Any, ahead: bool) -> SqlList:
    """The portal's /lich-hen lists as constant SQL: `own_bookings` without walk-in tickets, split as
    www.selectors splits them: `ahead`, the live bookings ending at or after `since` (upcoming_bookings);
    otherwise every other booking (past_bookings). tests/www/test_portal_booking_sql.py compares both with
    the ORM querysets."""
    own = own_bookings(user)
    ahead_sql = _AHEAD if ahead else f"NOT ({_AHEAD})"
    return ROWS.rows(
        FROM,
        f"({own.where}) AND a.is_walk_in = 0 AND {ahead_sql}",
        [*own.params, *LIVE_STATUSES, since],
        model=Appointment,
    )


def booking_instances(rows: list[dict[str, Any]]) -> list[Appointment]:
    """Bare bookings of `ROWS` rows with their service, room, doctor and patient (one instance of each per
    page): what a page reads of a booking and what the workflow's guards read."""
    if not rows:
        return []
    services: dict[int, Service] = related_instances(Service, rows, "service_id", "s_")
    facilities: dict[int, Facility] = related_instances(Facility, rows, "facility_id", "f_")
    for service in services.values():  # a queue's policy is its service's facility's: usually the booking's
        if service.facility_id in facilities:
            service._state.fields_cache["facility"] = facilities[service.facility_id]
    return bare_bookings(
        rows,
        BOOKING_COLUMNS,
        services=services,
        facilities=facilities,
        patients=related_instances(Patient, rows, "patient_id", "p_"),
        doctors=related_instances(Doctor, rows, "doctor_id", "d_"),
    )


def bare_bookings(
    rows: list[dict[str, Any]],
    columns: tuple[str, ...],
    *,
    services: dict[int, Service],
    facilities: dict[int, Facility],
    patients: dict[int, Patient],
    doctors: dict[int, Doctor] | None = None,
) -> list[Appointment]:
    """A bare booking per row holding `columns`, with the page's shared service, room and patient (and doctor,
    when given) attached: what the workflow's guards, the queue place and the row builders read."""
    bookings = bare_instances(Appointment, rows, columns)
    for booking, row in zip(bookings, rows, strict=True):
        cache = booking._state.fields_cache
        cache["service"] = services.get(row["service_id"])
        cache["facility"] = facilities.get(row["facility_id"])
        cache["patient"] = patients.get(row["patient_id"])
        if doctors is not None:
            cache["doctor"] = doctors.get(row["doctor_id"]) if row["doctor_id"] is not None else None
    return bookings
