"""GET/PUT /api/v1/me/notification-channel: the account's channel for notices (SMS or Zalo ZNS)."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.notifications.models import ContactPreference
from health_f0.patients.models import Patient

URL = "/api/v1/me/notification-channel"


def _client(user: Any) -> APIClient:
    raw, _ = api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.django_db
def test_patient_reads_and_sets_channel(demo: Any, settings: Any) -> None:
    settings.ZNS_ENABLED = True
    settings.ZNS_TEMPLATES = {"appointment_reminder": "301001"}
    patient = Patient.objects.get(account__username="bn0000001")
    client = _client(patient.account)
    assert client.get(URL).json() == {"channel": "sms", "zns_available": True}
    response = client.put(URL, {"channel": "zns"}, format="json")
    assert response.status_code == 200 and response.json() == {"channel": "zns", "zns_available": True}
    assert ContactPreference.objects.get(phone=patient.phone).channel == "zns"


@pytest.mark.django_db
def test_bad_input_and_unavailable_are_400(demo: Any, settings: Any) -> None:
    settings.ZNS_ENABLED = False
    client = _client(Patient.objects.get(account__username="bn0000001").account)
    bad = client.put(URL, {"channel": "fax"}, format="json")
    assert bad.status_code == 400
    refused = client.put(URL, {"channel": "zns"}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "zns_unavailable"
    assert client.put(URL, {"channel": "sms"}, format="json").status_code == 200


@pytest.mark.django_db
def test_staff_without_patient_record_gets_404_and_anonymous_401(demo: Any, persona: Any) -> None:
    assert _client(persona("thanhdong.nv")).get(URL).status_code == 404
    assert APIClient().get(URL).status_code == 401
