"""Issue 13: a booking whose service requires prepayment is not confirmed by the desk, nor received by reception,
while its fee is unpaid (the appointment workflow's "not_paid" guard, read from payments.selectors): through the
staff API and the desk's worklist, which shows "Đã thanh toán / Chưa thanh toán" for services with a price. The
guard costs no query for a service without that rule, and one at most otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments.models import Appointment, Service
from health_f0.appointments.tests.conftest import make_service
from health_f0.appointments.transitions import APPOINTMENT_WORKFLOW
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from health_f0.payments import selectors
from health_f0.payments.models import Payment, Prepayment, ServicePaymentPolicy
from health_f0.payments.tests.conftest import PRICE, make_booking

pytestmark = pytest.mark.django_db

STAFF_LIST = "/api/v1/staff/appointments"
CHECK_IN = "/api/v1/staff/check-in"


@pytest.fixture
def patient(demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")


def _service(prepayment: str, price: int = PRICE) -> Service:
    service = make_service(Facility.objects.get(code="PK-NOI1"), requires_confirmation=True)
    ServicePaymentPolicy.objects.create(service=service, price=price, prepayment=prepayment)
    return service


def _paid(appointment: Appointment) -> Payment:
    return Payment.objects.create(
        facility=appointment.facility,
        patient=appointment.patient,
        purpose="booking_fee",
        appointment=appointment,
        amount=PRICE,
        gateway="vnpay",
        reference=f"26120{appointment.pk:010d}",
        status="paid",
        paid_at=timezone.now(),
        expires_at=timezone.now(),
    )


def test_the_desk_cannot_confirm_an_unpaid_prepaid_booking_through_the_api(
    as_user: Any, patient: Patient
) -> None:
    booking = make_booking(_service(Prepayment.REQUIRED), patient, status="requested")
    desk = as_user("datlich")
    row = next(r for r in desk.get(STAFF_LIST).json()["results"] if r["id"] == str(booking.public_id))
    assert "confirm" not in row["actions"] and "decline" in row["actions"]
    refused = desk.post(f"{STAFF_LIST}/{booking.public_id}/confirm")
    assert refused.status_code == 400 and refused.json()["code"] == "not_paid"
    assert "chưa được thanh toán" in refused.json()["detail"]
    booking.refresh_from_db()
    assert booking.status == "requested"
    _paid(booking)
    assert desk.post(f"{STAFF_LIST}/{booking.public_id}/confirm").status_code == 200
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_an_optional_fee_or_no_price_does_not_gate(as_user: Any, patient: Patient) -> None:
    desk = as_user("datlich")
    for service in (_service(Prepayment.OPTIONAL), _service(Prepayment.REQUIRED, price=0)):
        booking = make_booking(service, patient, status="requested")
        assert desk.post(f"{STAFF_LIST}/{booking.public_id}/confirm").status_code == 200


def test_reception_cannot_check_in_an_unpaid_prepaid_booking(as_user: Any, patient: Patient) -> None:
    booking = make_booking(_service(Prepayment.REQUIRED), patient, days=0, status="confirmed")
    reception = as_user("tiepdon")
    refused = reception.post(CHECK_IN, {"code": booking.check_in_code}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "not_paid"
    _paid(booking)
    assert reception.post(CHECK_IN, {"code": booking.check_in_code}, format="json").status_code == 200
    booking.refresh_from_db()
    assert booking.status == "checked_in"


def test_the_desk_worklist_shows_the_fee_state_and_refuses_to_confirm(persona: Any, patient: Patient) -> None:
    unpaid = make_booking(_service(Prepayment.REQUIRED), patient, status="requested")
    paid = make_booking(_service(Prepayment.REQUIRED), patient, days=4, status="requested")
    _paid(paid)
    free = make_booking(
        make_service(Facility.objects.get(code="PK-NOI1")), patient, days=5, status="requested"
    )
    desk = Client()
    desk.force_login(persona("datlich"))
    page = desk.get(reverse("admin:appointments_worklist")).content.decode()
    assert page.count("Chưa thanh toán") == 1 and page.count("Đã thanh toán") == 1
    worklist = reverse("admin:appointments_worklist")
    response = desk.post(
        reverse("admin:appointments_confirm", args=[unpaid.pk]), {"next": worklist}, follow=True
    )
    assert "chưa được thanh toán" in response.content.decode()
    unpaid.refresh_from_db()
    assert unpaid.status == "requested"
    # The booking's page shows it too, without the "Xác nhận" button.
    detail = desk.get(reverse("admin:appointments_appointment_change", args=[unpaid.pk])).content.decode()
    assert "Chưa thanh toán" in detail
    assert free.status == "requested"


def test_the_guard_costs_no_query_without_the_rule_and_one_with_it(patient: Patient, persona: Any) -> None:
    free = make_booking(make_service(Facility.objects.get(code="PK-NOI1")), patient, status="requested")
    gated = make_booking(_service(Prepayment.REQUIRED), patient, days=4, status="requested")
    desk = persona("datlich")
    selectors.booking_unpaid(free)  # warm the policy cache
    selectors.booking_unpaid(gated)
    free = Appointment.objects.select_related("service", "facility", "patient").get(pk=free.pk)
    gated = Appointment.objects.select_related("service", "facility", "patient").get(pk=gated.pk)
    with CaptureQueriesContext(connection) as ctx:
        assert selectors.booking_unpaid(free) is False
    assert len(ctx.captured_queries) == 0
    with CaptureQueriesContext(connection) as ctx:
        assert selectors.booking_unpaid(gated) is True
        assert selectors.booking_unpaid(gated) is True  # confirm's and check-in's guards share the answer
    assert len(ctx.captured_queries) == 1
    # available() of the unpaid booking: the same one query more than the free booking's (the desk user's
    # memberships are read once per request, warmed here).
    APPOINTMENT_WORKFLOW.available(free, desk)
    with CaptureQueriesContext(connection) as free_ctx:
        free_actions = APPOINTMENT_WORKFLOW.available(free, desk)
    fresh = Appointment.objects.select_related("service", "facility", "patient").get(pk=gated.pk)
    with CaptureQueriesContext(connection) as gated_ctx:
        gated_actions = APPOINTMENT_WORKFLOW.available(fresh, desk)
    assert len(gated_ctx.captured_queries) == len(free_ctx.captured_queries) + 1
    assert "confirm" in free_actions and "confirm" not in gated_actions
    # A policy changed in the desk is read again at once (the cache is dropped on save).
    policy = ServicePaymentPolicy.objects.get(service=gated.service)
    policy.prepayment = Prepayment.OPTIONAL
    policy.save()
    assert selectors.booking_unpaid(Appointment.objects.get(pk=gated.pk)) is False
