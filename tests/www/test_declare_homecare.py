"""Issue 9 on the portal's declaration pages: the form follows the questionnaire's data (temperature
optional, child-only danger signs for children only), impossible vitals are refused next to the field with
a request to measure again, and the isolation is counted from the positive test ("Ngày thứ")."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from health_f0.monitoring.models import Declaration, Episode
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import Patient
from health_f0.registration.services import (
    RegistrationInput,
    _create,
    registration_accept,
    registration_validate,
)

pytestmark = pytest.mark.django_db

CHILD_SIGN = "Trẻ em: bỏ ăn, bú kém, nôn"


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def portal(hung: Patient) -> Client:
    client = Client()
    client.force_login(hung.account)
    return client


def child_of(hung: Patient, persona: Any) -> Patient:
    data = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=hung.date_of_birth.replace(year=2021),
            sex="male",
            phone=hung.phone,
            province_code=31,
            ward_code=10510,
            test_type="rapid",
            positive_date=timezone.localdate() - timedelta(days=1),
            care="caregiver",
            consent=True,
            relation="relative",
            registrant_name="Nguyễn Văn Hùng",
        )
    )
    registration = _create(data, channel="web", facility=hung.facility, actor=None)
    child = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    assert child is not None
    return child


def post(client: Client, patient: Patient, **answers: Any) -> Any:
    return client.post("/khai-bao", {"patient": str(patient.public_id), "idempotency_key": "", **answers})


def test_temperature_is_not_marked_required_and_may_be_left_blank(portal: Client, hung: Patient) -> None:
    page = text(portal.get("/khai-bao"))
    assert "Nhiệt độ cơ thể" in page and "(bắt buộc)" not in page
    response = post(portal, hung, spo2="98")
    assert response.status_code == 302
    assert Declaration.objects.get(patient=hung).temperature is None


def test_the_adult_form_has_no_child_only_signs_the_childs_has(
    portal: Client, hung: Patient, persona: Any
) -> None:
    assert CHILD_SIGN not in text(portal.get("/khai-bao"))
    child = child_of(hung, persona)
    page = text(portal.get("/khai-bao", {"nguoi-benh": str(child.public_id)}))
    assert CHILD_SIGN in page and "Nguyễn Minh Khang" in page
    # Posting a child-only sign for the adult is refused (whatever the page showed).
    response = post(portal, hung, spo2="98", symptoms=["child_feeding"])
    assert response.status_code == 400 and not Declaration.objects.filter(patient=hung).exists()
    # For the child it is a danger sign with its alert.
    response = post(portal, child, symptoms=["child_feeding"])
    assert response.status_code == 302
    assert Declaration.objects.get(patient=child).alert_level == "urgent"


def test_blood_pressure_70_over_120_asks_to_measure_again(portal: Client, hung: Patient) -> None:
    response = post(portal, hung, temperature="36,8", bp_systolic="70", bp_diastolic="120")
    assert response.status_code == 400
    page = text(response)
    assert "Huyết áp 70/120 mmHg không thể đúng" in page and "Vui lòng đo lại" in page
    assert 'aria-invalid="true"' in response.content.decode() or "has-error" in response.content.decode()
    assert not Declaration.objects.filter(patient=hung).exists()


def test_the_today_card_counts_from_the_positive_test(portal: Client, hung: Patient) -> None:
    episode = Episode.objects.get(patient=hung)
    today = timezone.localdate()
    positive = today - timedelta(days=2)
    Episode.objects.filter(pk=episode.pk).update(
        positive_date=positive, start_date=today, expected_end_date=positive + timedelta(days=7)
    )
    page = text(portal.get("/ca-nhan"))
    assert "Ngày thứ 3" in page
    assert f"tính từ ngày có kết quả dương tính {positive:%d/%m/%Y}" in page
    assert f"dự kiến đến {positive + timedelta(days=7):%d/%m/%Y}" in page
