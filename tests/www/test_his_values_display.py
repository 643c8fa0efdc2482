"""HIS values read the same everywhere (issue 9, item 20): one decimal separator per language (Vietnamese
decimal comma) for results and their reference ranges, in the portal and in the desk, even when the HIS sent
the range as text with dots ("3.9 - 6.4"); and a department the HIS sent only by its code ("K01", the codes
of QĐ 4210/QĐ-BYT) is shown by its name."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation

from health_f0.facilities.models import Facility
from health_f0.his import selectors
from health_f0.his.models import HisLabResult, HisLink, HisVisit
from health_f0.patients.models import Patient
from tests.www.test_his_portal import text

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def records(hung: Patient) -> HisVisit:
    """A visit as XML1 sends it (department code only) and results as XML4 sends them (value and range
    as text with dots, the range also parsed into numbers)."""
    facility = Facility.objects.get(code="TTYT-HD")
    HisLink.objects.create(
        patient=hung,
        facility=facility,
        active=True,
        his_patient_id="HIS-X",
        his_code="BN-X",
        linked_at=timezone.now(),
    )
    when = timezone.now() - timedelta(days=3)
    visit = HisVisit.objects.create(
        patient=hung,
        facility=facility,
        source="xml",
        external_id="MALK-DOT",
        department_code="K01",
        admitted_at=when,
        discharged_at=when + timedelta(hours=1),
        diagnosis_text="Tăng huyết áp",
        icd10="I10",
    )
    HisLabResult.objects.create(
        patient=hung,
        facility=facility,
        source="xml",
        external_id="MALK-DOT:1",
        visit=visit,
        name="Glucose",
        value="7.8",
        value_number=Decimal("7.8000"),
        unit="mmol/L",
        reference_low=Decimal("3.9000"),
        reference_high=Decimal("6.4000"),
        reference_text="3.9 - 6.4",
        flag="H",
        observed_at=when,
    )
    HisLabResult.objects.create(
        patient=hung,
        facility=facility,
        source="xml",
        external_id="MALK-DOT:2",
        visit=visit,
        name="HBsAg",
        value="Âm tính",
        reference_text="Âm tính",
        observed_at=when,
    )
    return visit


def test_portal_shows_decimal_commas_only_and_the_department_name(hung: Patient, records: HisVisit) -> None:
    client = Client()
    client.force_login(hung.account)
    for url in ("/ho-so-kham", "/ket-qua-xet-nghiem"):
        page = text(client.get(url))
        assert "7,8 mmol/L" in page, url
        assert "3,9 – 6,4 mmol/L" in page, url
        assert "3.9" not in page and "7.8" not in page and "6.4" not in page, url
        assert "Âm tính" in page
    visits = text(client.get("/ho-so-kham"))
    assert "Khoa Khám bệnh" in visits and "K01" not in visits


def test_desk_shows_the_same_values_and_the_department_name(desk_client: Any, records: HisVisit) -> None:
    results = text(desk_client.get("/desk/his/hislabresult/"))
    assert "7,8 mmol/L" in results and "3,9 – 6,4 mmol/L" in results
    assert "3.9 - 6.4" not in results and "7.8 mmol" not in results and "3.9000" not in results
    visits = text(desk_client.get("/desk/his/hisvisit/"))
    assert "Khoa Khám bệnh" in visits


def test_english_uses_the_decimal_point_consistently(records: HisVisit) -> None:
    result = HisLabResult.objects.get(external_id="MALK-DOT:1")
    with translation.override("en"):
        assert selectors.lab_value_text(result) == "7.8"
        assert selectors.lab_reference_text(result) == "3.9 – 6.4 mmol/L"
    with translation.override("vi"):
        assert selectors.lab_value_text(result) == "7,8"
        assert selectors.lab_reference_text(result) == "3,9 – 6,4 mmol/L"


@pytest.mark.parametrize(
    ("code", "name", "shown"),
    [
        ("K01", "", "Khoa Khám bệnh"),
        ("K03", "", "Khoa Nội tổng hợp"),
        ("k18", "", "Khoa Nhi"),
        ("K01", "Phòng khám Nội 2", "Phòng khám Nội 2"),  # the HIS's own name wins
        ("KX9", "", "Khoa KX9"),  # an unknown code is still said to be a department
        ("", "", ""),
    ],
)
def test_department_label(code: str, name: str, shown: str) -> None:
    assert selectors.department_label(code=code, name=name) == shown


@pytest.fixture
def desk_client(persona: Any) -> Client:
    client = Client()
    client.force_login(persona("lienket.his"))
    return client
