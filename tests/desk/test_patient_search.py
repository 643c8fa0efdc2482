"""Issue 9 item 15: the desk's patient search finds names of every length.

A name of 10 or 15 letters (spaces aside) used to be taken for a BHYT number and searched only as one, so
"Trần Thị Mai" was never found. The search stays scoped (access.patients_for: the booking desk finds
patients through its own work) and audited (one "view_list" row per search, as on the desk's lists).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from health_f0.appointments import selectors, services
from health_f0.core.models import AuditLog
from health_f0.facilities.access import BOOKING_DESK_ROLES as DESK_ROLES
from health_f0.patients.models import Patient
from tests.desk.test_appointments import BOOK, CHECKIN, booked_today, free_slots, kham_noi, new_patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """The demo's clinic services (Khám Nội at the TTYT's clinic room)."""


@pytest.fixture
def booked(persona: Any) -> dict[str, Patient]:
    """Patients the TTYT's booking desk knows through a booking: two names that look like BHYT numbers by
    length, and two insurance cards (the 10-digit number and an old 15-character card)."""
    datlich = persona("datlich")
    patients = {
        "mai": new_patient("Trần Thị Mai", "+84912000101"),  # "TrầnThịMai": 10 letters
        "phuong": new_patient("Nguyễn Thị Phượng", "+84912000102", born=date(1961, 2, 3)),  # 15 letters
        "card10": new_patient("Phạm Thị Thẻ", "+84912000103"),
        "card15": new_patient("Đỗ Văn Cũ", "+84912000104"),
    }
    Patient.objects.filter(pk=patients["card10"].pk).update(bhyt="0123456789")
    Patient.objects.filter(pk=patients["card15"].pk).update(bhyt="HS4010123456789")
    for index, patient in enumerate(patients.values()):
        services.appointment_book(
            patient=patient,
            service=kham_noi(),
            slot_start=free_slots(kham_noi(), 2 + index)[0].start,
            channel="phone",
            actor=datlich,
        )
    return patients


def _picked(persona: Any, term: str) -> set[str]:
    found = selectors.patient_search(user=persona("datlich"), roles=DESK_ROLES, term=term)
    return {patient.full_name for patient in found}


@pytest.mark.parametrize(
    ("term", "name"),
    [
        ("Trần Thị Mai", "Trần Thị Mai"),
        ("trần thị mai", "Trần Thị Mai"),
        ("  Trần  Thị Mai ", "Trần Thị Mai"),
        ("Nguyễn Thị Phượng", "Nguyễn Thị Phượng"),
        ("0123456789", "Phạm Thị Thẻ"),
        ("0123 456 789", "Phạm Thị Thẻ"),
        ("hs4010123456789", "Đỗ Văn Cũ"),
        ("0912 000 101", "Trần Thị Mai"),
    ],
)
def test_the_booking_picker_finds_names_of_any_length_and_cards(
    booked: dict[str, Patient], persona: Any, term: str, name: str
) -> None:
    assert _picked(persona, term) == {name}


def test_names_are_found_on_the_booking_page_and_the_search_is_audited(
    booked: dict[str, Patient], desk: Any, persona: Any
) -> None:
    mai = booked["mai"]
    # A "Trần Thị Mai" of a home-care station, with no booking: not the booking desk's to find.
    elsewhere = new_patient("Trần Thị Mai", "+84912000199", code="TYT-10510")
    client = desk("datlich")
    searches = AuditLog.objects.filter(
        actor=persona("datlich"), verb="view_list", target_type="patients.patient"
    )
    html = client.get(BOOK, {"q": "Trần Thị Mai"}).content.decode()
    assert f"patient={mai.pk}" in html and f"patient={elsewhere.pk}" not in html
    [row] = searches
    assert row.data["search"] == "Trần Thị Mai" and row.data["count"] == 1
    # Opening the page without a search reads no patient: nothing to audit.
    client.get(BOOK)
    assert searches.count() == 1


def test_the_patient_list_finds_the_name_with_one_audit_row(
    booked: dict[str, Patient], desk: Any, persona: Any
) -> None:
    client = desk("datlich")
    url = reverse("admin:patients_patient_changelist")
    html = client.get(url, {"q": "Trần Thị Mai"}).content.decode()
    assert reverse("admin:patients_patient_change", args=[booked["mai"].pk]) in html
    rows = AuditLog.objects.filter(actor=persona("datlich"), verb="view_list", target_type="patients.patient")
    assert [row.data["search"] for row in rows] == ["Trần Thị Mai"]


def test_reception_finds_todays_booking_by_a_ten_letter_name(
    booked: dict[str, Patient], desk: Any, persona: Any
) -> None:
    today = booked_today(booked["mai"], kham_noi(), persona("datlich"), index=1)
    client = desk("tiepdon")
    response = client.post(CHECKIN, {"q": "Trần Thị Mai"})
    assert response.status_code == 302
    html = client.get(response["Location"]).content.decode()
    assert f'value="{today.check_in_code}"' in html
