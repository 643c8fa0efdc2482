"""API test helpers: a JSON client, bearer tokens for personas, a valid registration body."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue


@pytest.fixture
def client_api() -> APIClient:
    return APIClient()


@pytest.fixture
def as_user(persona: Any) -> Any:
    """as_user("thanhdong.nv") -> an APIClient sending that persona's bearer token."""

    def make(username: str) -> APIClient:
        raw, _ = api_token_issue(user=persona(username))
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        return client

    return make


def registration_body(**overrides: Any) -> dict[str, Any]:
    today = timezone.localdate()
    body: dict[str, Any] = {
        "full_name": "nguyễn thị mai",
        "date_of_birth": "1992-05-01",
        "sex": "female",
        "phone": "0977000111",
        "province_code": 31,
        "ward_code": 10532,
        "test_type": "rapid",
        "positive_date": (today - timedelta(days=1)).isoformat(),
        "care": "self_care",
        "consent": True,
        "spo2": 98,
        "breathing_rate": 16,
        "vaccine_doses": 2,
        "symptoms": ["cough"],
        "otp": "000000",
    }
    body.update(overrides)
    return body


# The real FHIR server (sekmet) and the HIS fixtures, for the HIS linking endpoints (tests/api/test_his*.py).
from health_f0.his.tests.conftest import fhir, fhir_base_url, linker, other_hospital, ttyt  # noqa: E402, F401
