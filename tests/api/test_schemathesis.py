"""Property-based contract test: no generated request to any operation of the OpenAPI schema gets a 5xx.

The schema is loaded from the app itself (WSGI, no server); staff operations run with a station nurse's
bearer token, so the generated requests reach the views and services instead of stopping at 401. The
patient-side monitoring operations run once more with the demo patient's token, for the same reason.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from health_f0.api.services import api_token_issue
from health_f0.monitoring.services import reset_caches
from health_f0.wsgi import application

# Loaded at collection (pytest-django has configured Django by then); serving the schema needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture(autouse=True)
def _keep_test_connection() -> Iterator[None]:
    """Like Django's test client: the request signals must not close the connection holding the test's
    transaction (the WSGI app is called directly, so they would)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors(case: Any, persona: Any) -> None:
    raw, _ = api_token_issue(user=persona("thanhdong.nv"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


PATIENT_OPERATIONS = [
    "questionnaire",
    "declaration_submit",
    "declaration_list",
    "episode_list",
    "episode_certificate",
    "guidance_list",
    "guidance_detail",
    "family_member_add",
    "payment_start",
    "payment_detail",
]


@pytest.mark.django_db
@schema.include(operation_id=PATIENT_OPERATIONS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_as_a_patient(case: Any, persona: Any) -> None:
    reset_caches()  # the questionnaire cache must not outlive the test's rolled-back rows
    raw, _ = api_token_issue(user=persona("bn0000001"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


# --- Appointments: the public booking operations, a patient's own, and the desk's ---------------------

APPOINTMENT_PUBLIC_OPERATIONS = [
    "booking_facility_list",
    "booking_service_list",
    "booking_slot_list",
    "booking_service_doctors",
    "appointment_book_guest",
]
APPOINTMENT_PATIENT_OPERATIONS = [
    "appointment_list",
    "appointment_book",
    "appointment_detail",
    "appointment_calendar",
    "appointment_cancel",
    "appointment_reschedule",
]
APPOINTMENT_STAFF_OPERATIONS = [
    "staff_appointment_list",
    "staff_appointment_confirm",
    "staff_appointment_decline",
    "staff_check_in",
    "staff_queue_call_next",
]


@pytest.fixture
def appointments_demo(demo: Any) -> None:
    from django.core.management import call_command

    call_command("load_appointments_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115


@pytest.mark.django_db
@schema.include(operation_id=APPOINTMENT_PUBLIC_OPERATIONS + APPOINTMENT_PATIENT_OPERATIONS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_booking_as_a_patient(case: Any, persona: Any, appointments_demo: Any) -> None:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


@pytest.mark.django_db
@schema.include(operation_id=APPOINTMENT_STAFF_OPERATIONS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_at_the_desk(case: Any, persona: Any, appointments_demo: Any) -> None:
    # Reception holds every role these operations need (desk roles and the queue).
    raw, _ = api_token_issue(user=persona("tiepdon"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


# --- HIS linking: a patient's link requests, visits and lab results (the FHIR server answers lookups) ---

HIS_PATIENT_OPERATIONS = ["his_link_list", "his_link_create", "his_visit_list", "his_lab_result_list"]


@pytest.mark.django_db
@schema.include(operation_id=HIS_PATIENT_OPERATIONS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_his_as_a_patient(case: Any, persona: Any) -> None:
    raw, _ = api_token_issue(user=persona("bn0000001"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


# --- Sign-up and forgot password (issue 12, section 1): public, no token; OTP purposes included ---------

ACCOUNT_PUBLIC_OPERATIONS = ["otp_request", "account_create", "auth_password_reset"]


@pytest.mark.django_db
@schema.include(operation_id=ACCOUNT_PUBLIC_OPERATIONS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_signing_up(case: Any, demo: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error])


# --- v2: the lists by keyset cursor (issue 11); every other operation is v1's, already covered above --------

schema_v2 = schemathesis.openapi.from_wsgi("/api/schema/?format=json&version=v2", application)
V2_PATIENT_LISTS = ["declaration_list", "episode_list", "appointment_list", "his_link_list", "his_visit_list"]
V2_PATIENT_LISTS += ["his_lab_result_list", "guidance_list"]
V2_STAFF_LISTS = ["alert_list", "registration_list", "staff_appointment_list"]


@pytest.mark.django_db
@schema_v2.include(operation_id=V2_PATIENT_LISTS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_v2_lists_as_a_patient(case: Any, persona: Any) -> None:
    reset_caches()
    raw, _ = api_token_issue(user=persona("bn0000001"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])


@pytest.mark.django_db
@schema_v2.include(operation_id=V2_STAFF_LISTS).parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
def test_no_server_errors_v2_lists_as_staff(case: Any, persona: Any) -> None:
    raw, _ = api_token_issue(user=persona("tiepdon"))
    case.call_and_validate(headers={"Authorization": f"Bearer {raw}"}, checks=[not_a_server_error])
