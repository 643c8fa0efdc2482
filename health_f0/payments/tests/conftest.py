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


# --- MoMo and VietQR (payOS): the stand-ins of tests/standins, the TTYT's accounts pointed at them -----------

from tests.standins.momo import MomoStandIn, momo_standin  # noqa: E402, F401 - registered as fixtures here
from tests.standins.payos import PayosStandIn, payos_standin  # noqa: E402, F401


def momo_account(facility: Facility, standin: MomoStandIn) -> GatewayAccount:
    return GatewayAccount.objects.create(
        facility=facility,
        gateway="momo",
        merchant_code=standin.partner_code,
        secret_encrypted=encrypt(standin.secret_key),
        access_key_encrypted=encrypt(standin.access_key),
        api_url=standin.create_url,
    )


def payos_account(facility: Facility, standin: PayosStandIn) -> GatewayAccount:
    return GatewayAccount.objects.create(
        facility=facility,
        gateway="vietqr",
        merchant_code=standin.client_id,
        secret_encrypted=encrypt(standin.checksum_key),
        access_key_encrypted=encrypt(standin.api_key),
        api_url=standin.base_url,
        bank_bin=standin.bank_bin,
        account_number=standin.account_number,
        account_name=standin.account_name,
    )


@pytest.fixture(name="ttyt_momo")
def ttyt_momo_fixture(demo: Any, momo_standin: MomoStandIn, settings: Any) -> GatewayAccount:  # noqa: F811
    settings.PAYMENT_GATEWAY_TIMEOUT = 0.4
    return momo_account(Facility.objects.get(code="TTYT-HD"), momo_standin)


@pytest.fixture(name="ttyt_vietqr")
def ttyt_vietqr_fixture(demo: Any, payos_standin: PayosStandIn, settings: Any) -> GatewayAccount:  # noqa: F811
    settings.PAYMENT_GATEWAY_TIMEOUT = 0.4
    return payos_account(Facility.objects.get(code="TTYT-HD"), payos_standin)
