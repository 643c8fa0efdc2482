from __future__ import annotations

from typing import Any

import pytest

from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from health_f0.payments.models import GatewayAccount


@pytest.fixture
def ttyt(demo: Any) -> Facility:
    facility = Facility.objects.get(code="TTYT-HD")
    GatewayAccount.objects.get_or_create(
        facility=facility, gateway="vnpay", defaults={"merchant_code": "HF0TEST1"}
    )
    return facility


@pytest.fixture
def patient(demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")
