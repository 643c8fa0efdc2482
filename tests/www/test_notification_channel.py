"""The patient chooses SMS or Zalo for notices on the "ca-nhan" page; Zalo only where ZNS is configured."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from health_f0.core.models import AuditLog
from health_f0.notifications.models import ContactPreference
from health_f0.patients.models import Patient


def _zns_on(settings: Any) -> None:
    settings.ZNS_ENABLED = True
    settings.ZNS_TEMPLATES = {"appointment_reminder": "301001"}


def _login(client: Client) -> Patient:
    patient = Patient.objects.get(account__username="bn0000001")
    assert patient.account is not None
    client.force_login(patient.account)
    return patient


def _card(client: Client) -> str:
    page = client.get("/ca-nhan").content.decode()
    start = page.index('id="kenh-nhan-tin-card"')
    return page[start : page.index("</section>", start)]


@pytest.mark.django_db
def test_zalo_choice_hidden_when_zns_is_off(demo: Any, client: Client, settings: Any) -> None:
    settings.ZNS_ENABLED = False
    _login(client)
    page = client.get("/ca-nhan").content.decode()
    assert "Nhận tin nhắc lịch qua" not in page


@pytest.mark.django_db
def test_patient_chooses_zalo_then_sms(demo: Any, settings: Any) -> None:
    _zns_on(settings)
    client = Client(enforce_csrf_checks=True)
    patient = _login(client)
    card = _card(client)
    assert 'value="sms" checked' in card and 'value="zns" checked' not in card
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', card).group(1)  # type: ignore[union-attr]
    # A POST without the CSRF token is refused.
    assert client.post("/ca-nhan", {"channel": "zns"}).status_code == 403
    response = client.post("/ca-nhan", {"channel": "zns", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/ca-nhan#kenh-nhan-tin"
    assert ContactPreference.objects.get(phone=patient.phone).channel == "zns"
    assert AuditLog.objects.filter(verb="notification_channel").count() == 1
    card = _card(client)
    assert "Đã lưu kênh nhận tin." in card and 'value="zns" checked' in card
    # The details were not confirmed by this form (it is not the "continue" button).
    patient.refresh_from_db()
    assert patient.details_confirmed_at is None
    client.post("/ca-nhan", {"channel": "sms", "csrfmiddlewaretoken": token})
    assert ContactPreference.objects.get(phone=patient.phone).channel == "sms"


@pytest.mark.django_db
def test_bad_or_unavailable_choice_is_a_clear_message(demo: Any, client: Client, settings: Any) -> None:
    _zns_on(settings)
    patient = _login(client)
    client.post("/ca-nhan", {"channel": "fax"})
    page = client.get("/ca-nhan").content.decode()
    assert "Kênh nhận tin không hợp lệ." in page
    settings.ZNS_ENABLED = False
    ContactPreference.objects.create(phone=patient.phone, channel="zns")  # chosen while it was on
    client.post("/ca-nhan", {"channel": "zns"})
    page = client.get("/ca-nhan").content.decode()
    assert "Sở Y tế chưa bật kênh Zalo" in page
    # The card still shows (the current choice is Zalo) so the patient can go back to SMS.
    client.post("/ca-nhan", {"channel": "sms"})
    assert ContactPreference.objects.get(phone=patient.phone).channel == "sms"
