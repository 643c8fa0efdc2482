"""Restricted records (privacy follow-up): after a withdrawal or deletion, a patient's medical records are kept
for their legal period under a processing restriction (privacy.ProcessingRestriction) — stored, not used.

From then on the non-clinical roles no longer find the patient anywhere: the booking desk and reception (their
work with the patient is over: the request ended every live booking) and the HIS linker (linking would be new
processing; the approval ended the links). Clinical and oversight roles — station staff and head, treatment
doctors, managers, administrators (access.RESTRICTED_RECORD_READER_ROLES) — still read them: a complaint, an
inspection, a new visit. The patient keeps the right of access to their own records. The rule lives in
facilities/access.py (patients_for, appointments_for / staff_appointments_for, his_records_for), so every
surface — desk lists, details, searches, the booking picker, the API — agrees.

The records are the access matrix's (tests/test_access_matrix.py): patient A at Thành Đông with a booking at
the TTYT's clinic and HIS records at the TTYT; patient B elsewhere. A is restricted; B is not.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from health_f0.appointments import selectors as appointment_selectors
from health_f0.facilities import access
from health_f0.facilities.access import BOOKING_DESK_ROLES as DESK_ROLES
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.his.models import HisLabResult, HisLink, HisVisit
from health_f0.privacy.models import ProcessingRestriction
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept
from tests import access_records
from tests.test_access_matrix import (
    PERSONAS,
    SEES,
    THROUGH_BOOKINGS,
    THROUGH_LINKS,
    _api,
    _change_url,
    _desk,
    _desk_shows,
    _ids,
    _patients_shown,
)

pytestmark = pytest.mark.django_db

# Who no longer sees a restricted patient: the roles outside access.RESTRICTED_RECORD_READER_ROLES.
HIDDEN_FROM = {"datlich", "tiepdon", "lienket.his"}


def _fresh(username: str) -> Any:
    """A new user object (access caches memberships per object)."""
    return get_user_model().objects.get(username=username)


@pytest.fixture
def matrix(appointments_demo: Any, persona: Any) -> dict[str, Any]:
    """The access matrix's patients A and B (portal accounts), their bookings and their HIS records."""
    registration_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").last()
    patient_b = registration_accept(registration=registration_b, actor=persona("lethanhnghi.nv")).patient
    patient_a = Registration.objects.get(patient__account__username="bn0000001").patient
    patients = {
        "pat_a": access_records.portal_ready(patient_a),
        "pat_b": access_records.portal_ready(patient_b),
    }
    return {
        "patients": patients,
        **access_records.appointment_records(patients, persona("admin")),
        **access_records.his_records(patients, persona("lienket.his"), persona("admin")),
    }


@pytest.fixture
def restricted(matrix: dict[str, Any]) -> dict[str, Any]:
    """Patient A's records put under a processing restriction, as privacy.services.request_approve does when
    medical records must be kept (tests/security/test_privacy.py walks that path)."""
    ProcessingRestriction.objects.create(
        patient=matrix["patients"]["pat_a"],
        retain_until=timezone.localdate() + timedelta(days=3650),
        reason="Hồ sơ y tế lưu trữ 10 năm theo Luật Khám bệnh, chữa bệnh",
    )
    return matrix


def _sees(username: str, key: str) -> bool:
    """The matrix's row, without patient A's records for the roles that no longer read them."""
    return key in SEES[username] and not (username in HIDDEN_FROM and key.endswith("_a"))


@pytest.mark.parametrize("username", PERSONAS)
def test_the_patient_is_found_only_by_roles_that_read_restricted_records(
    username: str, restricted: dict[str, Any], persona: Any
) -> None:
    """The desk's patient list, the record's page, a search by phone, access.patients_for and the booking
    picker (appointments.selectors.patient_search) all agree."""
    shown = _patients_shown(_desk(persona, username), username, restricted["patients"])
    if username in HIDDEN_FROM:
        assert shown == set(), (username, shown)
        # Without the restriction they found A through their work (the matrix's rows).
        assert "pat_a" in THROUGH_BOOKINGS[username] | THROUGH_LINKS[username]
    else:
        assert shown == {key for key in ("pat_a", "pat_b") if key in SEES[username]}, (username, shown)


@pytest.mark.parametrize("username", PERSONAS)
def test_bookings_of_the_patient_leave_the_non_clinical_desks(
    username: str, restricted: dict[str, Any], persona: Any
) -> None:
    """Desk list and detail, access.appointments_for, the booking desk's worklist (page and API)."""
    bookings = {key: restricted[key] for key in ("appt_a", "appt_b")}
    model = "appointments_appointment"
    shown = _desk_shows(_desk(persona, username), model, bookings, _change_url(model))
    scope = set(access.appointments_for(_fresh(username)))
    worklist = _ids(_api(persona, username).get("/api/v1/staff/appointments?limit=200"))
    for key, appointment in bookings.items():
        expected = _sees(username, key)
        assert shown[key] == (expected, expected), (username, key, shown[key])
        assert (appointment in scope) == expected, (username, key)
        if str(appointment.public_id) in worklist:
            assert expected, (username, key)
    if username in HIDDEN_FROM - {"lienket.his"}:
        assert str(bookings["appt_b"].public_id) not in worklist  # B is at Kiến An: not theirs either


@pytest.mark.parametrize("username", PERSONAS)
def test_his_records_of_the_patient_leave_the_linker(
    username: str, restricted: dict[str, Any], persona: Any
) -> None:
    """Desk lists and details of links, visits and lab results, and access.his_records_for (which also holds
    the links managers read elsewhere: only the hiding is checked there)."""
    desk = _desk(persona, username)
    requests = {key: record for key, record in restricted.items() if key.startswith("link_")}
    links = {key: HisLink.objects.get(request=request) for key, request in requests.items()}
    user = _fresh(username)
    for model, rows, kind in (
        ("his_hislink", links, HisLink),
        ("his_hisvisit", {k: v for k, v in restricted.items() if k.startswith("visit_")}, HisVisit),
        ("his_hislabresult", {k: v for k, v in restricted.items() if k.startswith("lab_")}, HisLabResult),
    ):
        shown = _desk_shows(desk, model, rows, _change_url(model))
        scope = set(access.his_records_for(user, kind))
        for key, row in rows.items():
            expected = _sees(username, key)
            assert shown[key] == (expected, expected), (username, model, key, shown[key])
            if username in HIDDEN_FROM and key.endswith("_a"):
                assert row not in scope, (username, model, key)


def test_the_patient_still_reads_their_own_records(restricted: dict[str, Any]) -> None:
    """The restriction stops processing by staff; the data subject's right of access stays."""
    own = restricted["patients"]["pat_a"]
    account = own.account
    assert own in set(access.patients_for(account))
    assert restricted["appt_a"] in set(access.appointments_for(account))
    assert restricted["visit_a"] in set(access.his_records_for(account, HisVisit))
    portal = Client()
    portal.force_login(account)
    assert portal.get(f"/lich-hen/{restricted['appt_a'].public_id}").status_code == 200


def test_a_clinical_role_held_beside_the_desk_reads_the_record(
    restricted: dict[str, Any], persona: Any
) -> None:
    """A booking clerk who is also a doctor at the TTYT reads the restricted record through the clinical
    role; the desk role alone does not."""
    patient = restricted["patients"]["pat_a"]
    assert patient not in set(access.patients_for(_fresh("datlich")))
    Membership.objects.create(
        user=persona("datlich"), facility=Facility.objects.get(code="TTYT-HD"), role=Role.TREATMENT_DOCTOR
    )
    user = _fresh("datlich")
    assert patient in set(access.patients_for(user))
    assert restricted["appt_a"] in set(access.appointments_for(user))
    assert restricted["visit_a"] in set(access.his_records_for(user, HisVisit))
    assert patient in appointment_selectors.patient_search(
        user=user, roles=DESK_ROLES, term=patient.full_name
    )


def test_lifting_the_restriction_brings_the_patient_back(restricted: dict[str, Any]) -> None:
    patient = restricted["patients"]["pat_a"]
    assert patient not in set(access.patients_for(_fresh("tiepdon")))
    ProcessingRestriction.objects.filter(patient=patient).delete()
    assert patient in set(access.patients_for(_fresh("tiepdon")))


@pytest.mark.parametrize("username", PERSONAS)
def test_the_sql_writing_of_the_facility_scope_agrees_with_the_orm(
    username: str, restricted: dict[str, Any]
) -> None:
    """access.facility_scope_sql (the lists written as constant SQL, core/sqllist.py) keeps exactly the patients
    scope_by_facility keeps, for every persona and role set."""
    from django.db import connection

    from health_f0.patients.models import Patient

    user = _fresh(username)
    for roles in (None, access.STATION_ROLES, DESK_ROLES, access.RESTRICTED_RECORD_READER_ROLES):
        orm = access.scope_by_facility(Patient.objects.all(), user, field="facility", roles=roles)
        scope, scope_params = access.facility_scope_sql(user, "p.facility_id", roles)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT p.id FROM patients_patient p WHERE {scope}", scope_params)  # noqa: S608
            sql_ids = {row[0] for row in cursor.fetchall()}
        assert sql_ids == set(orm.values_list("id", flat=True)), (username, roles)


@pytest.mark.parametrize("username", PERSONAS)
def test_the_sql_writing_of_the_booking_scope_agrees_with_the_orm(
    username: str, restricted: dict[str, Any]
) -> None:
    """access.scope_hiding_restricted_sql (the desk's worklist as constant SQL, appointments/sql/worklist.py)
    keeps exactly the bookings staff_appointments_for keeps, restricted patient A's included or not, for every
    persona and role set."""
    from django.db import connection

    from health_f0.appointments.models import Appointment

    assert Appointment.objects.filter(patient=restricted["patients"]["pat_a"]).exists()
    user = _fresh(username)
    for roles in (
        None,
        DESK_ROLES,
        access.APPOINTMENT_READER_ROLES,
        access.RECEPTION_ROLES,
        access.RESTRICTED_RECORD_READER_ROLES,
    ):
        orm = access.staff_appointments_for(user, roles)
        where, params = access.scope_hiding_restricted_sql(
            user, roles, facility_column="a.facility_id", patient_column="a.patient_id"
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT a.id FROM appointments_appointment a WHERE {where}", params)  # noqa: S608
            sql_ids = {row[0] for row in cursor.fetchall()}
        assert sql_ids == set(orm.values_list("id", flat=True)), (username, roles)
