"""Payments fixtures: the VNPay stand-in, the TTYT's VNPay account pointed at it, a priced service with a
booking of the demo patient (bn0000001), and a visit with a bill."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from health_f0.appointments.models import Appointment, Service, Status
from health_f0.appointments.tests.conftest import make_service
from health_f0.facilities.models import Facility
from health_f0.his.models import HisVisit
from health_f0.patients.models import Patient
from health_f0.payments.crypto import encrypt
from health_f0.payments.models import GatewayAccount, Prepayment, ServicePaymentPolicy
from tests.standins.vnpay import VnpayStandIn

PRICE = 150_000


@pytest.fixture(name="vnpay")
def vnpay_fixture() -> Iterator[VnpayStandIn]:
    standin = VnpayStandIn(
        accounts={
            "HF0TTYT1": "TTYTSECRETKEY0123456789ABCDEFGH",
            "HF0BVKA1": "BVKASECRETKEY0123456789ABCDEFGH",
        },
        hang_seconds=0.8,
    ).start()
    try:
        yield standin
    finally:
        standin.stop()


def vnpay_account(facility: Facility, standin: VnpayStandIn, tmn: str) -> GatewayAccount:
    return GatewayAccount.objects.create(
        facility=facility,
        gateway="vnpay",
        merchant_code=tmn,
        secret_encrypted=encrypt(standin.accounts[tmn]),
        api_url=standin.pay_url,
        api_url_2=standin.api_url,
    )


@pytest.fixture(name="ttyt_vnpay")
def ttyt_vnpay_fixture(demo: Any, vnpay: VnpayStandIn, settings: Any) -> GatewayAccount:
    settings.PAYMENT_GATEWAY_TIMEOUT = 0.4
    return vnpay_account(Facility.objects.get(code="TTYT-HD"), vnpay, "HF0TTYT1")


@pytest.fixture(name="patient")
def patient_fixture(demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")


@pytest.fixture(name="priced_service")
def priced_service_fixture(demo: Any) -> Service:
    service = make_service(Facility.objects.get(code="PK-NOI1"), requires_confirmation=False)
    ServicePaymentPolicy.objects.create(
        service=service, price=PRICE, prepayment=Prepayment.REQUIRED, pay_deadline_minutes=30
    )
    return service


def make_booking(
    service: Service, patient: Patient, *, days: int = 3, status: str = Status.CONFIRMED
) -> Appointment:
    start = timezone.now().replace(second=0, microsecond=0) + timedelta(days=days)
    return Appointment.objects.create(
        patient=patient,
        service=service,
        facility=service.facility,
        slot_start=start,
        slot_end=start + timedelta(minutes=15),
        channel="web",
        status=status,
        check_in_code=f"T{Appointment.objects.count() + 1:07d}",
    )


@pytest.fixture(name="booking")
def booking_fixture(priced_service: Service, patient: Patient) -> Appointment:
    return make_booking(priced_service, patient)


@pytest.fixture(name="visit")
def visit_fixture(demo: Any, patient: Patient) -> HisVisit:
    return HisVisit.objects.create(
        patient=patient,
        facility=Facility.objects.get(code="TTYT-HD"),
        source="xml",
        external_id="LK-PAY-1",
        admitted_at=timezone.now() - timedelta(days=2),
        bill_total=480_000,
        bill_insurance=384_000,
        bill_patient=96_000,
    )
