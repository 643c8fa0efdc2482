"""The access matrix: every persona against every kind of record, on every surface (desk, API, portal).

A row says which records a persona may see; each surface must agree with it. "Not found" and "not yours"
look the same to the caller (404, or the desk's redirect away from a record it will not show).
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept

# Records: a waiting registration at Thành Đông (A), one at Lê Thanh Nghị (B); patients of A and of B.
SEES = {
    "admin": {"reg_a", "reg_b", "pat_a", "pat_b"},
    "syt.lanhdao": {"reg_a", "reg_b", "pat_a", "pat_b"},
    "ttyt.lanhdao": {"reg_a", "reg_b", "pat_a", "pat_b"},
    "thanhdong.nv": {"reg_a", "pat_a"},
    "thanhdong.truong": {"reg_a", "pat_a"},
    "lethanhnghi.nv": {"reg_b", "pat_b"},
    "tanhung.nv": set(),
    "bacsi.dieutri": set(),
    # Hospital-side roles at the TTYT see its patients (booking, check-in, HIS linking need them), not the
    # home-care registration queue.
    "datlich": {"pat_a", "pat_b"},
    "tiepdon": {"pat_a", "pat_b"},
    "lienket.his": {"pat_a", "pat_b"},
}
PERSONAS = sorted(SEES)


@pytest.fixture
def records(demo: Any, persona: Any) -> dict[str, Any]:
    reg_a = Registration.objects.filter(facility__code="TYT-10510", status="submitted").order_by("id").first()
    reg_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").order_by("id").first()
    assert reg_a and reg_b
    patient_b = registration_accept(
        registration=Registration.objects.filter(facility__code="TYT-10532", status="submitted").last(),
        actor=persona("lethanhnghi.nv"),
    ).patient
    reg_b = Registration.objects.filter(facility__code="TYT-10532", status="submitted").first() or reg_b
    patient_a = Registration.objects.get(patient__account__username="bn0000001").patient
    return {"reg_a": reg_a, "reg_b": reg_b, "pat_a": patient_a, "pat_b": patient_b}


def _desk(persona: Any, username: str) -> Client:
    client = Client()
    client.force_login(persona(username))
    return client


def _api(persona: Any, username: str) -> APIClient:
    raw, _ = api_token_issue(user=persona(username))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.mark.parametrize("username", PERSONAS)
def test_desk_detail_pages(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _desk(persona, username)
    for key, record in records.items():
        model = "registration_registration" if key.startswith("reg") else "patients_patient"
        response = client.get(reverse(f"admin:{model}_change", args=[record.pk]))
        visible = response.status_code == 200 and record.full_name in response.content.decode()
        assert visible == (key in SEES[username]), (username, key, response.status_code)


@pytest.mark.parametrize("username", PERSONAS)
def test_desk_lists(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _desk(persona, username)
    for key, url in (
        ("reg", "admin:registration_registration_changelist"),
        ("pat", "admin:patients_patient_changelist"),
    ):
        response = client.get(reverse(url))
        html = response.content.decode() if response.status_code == 200 else ""
        for suffix in ("_a", "_b"):
            record = records[key + suffix]
            assert (record.full_name in html) == (key + suffix in SEES[username]), (username, key + suffix)


@pytest.mark.parametrize("username", PERSONAS)
def test_api_registration_detail_and_list(username: str, records: dict[str, Any], persona: Any) -> None:
    client = _api(persona, username)
    listed = client.get("/api/v1/registrations?limit=200")
    listed_ids = (
        {row["id"] for row in listed.json().get("results", [])} if listed.status_code == 200 else set()
    )
    for key in ("reg_a", "reg_b"):
        record = records[key]
        response = client.get(f"/api/v1/registrations/{record.public_id}")
        expected = key in SEES[username]
        assert (response.status_code == 200) == expected, (username, key, response.status_code)
        assert response.status_code in (200, 403, 404)
        assert (str(record.public_id) in listed_ids) == expected


def test_patient_sees_only_own_record_everywhere(records: dict[str, Any], persona: Any) -> None:
    own, other = records["pat_a"], records["pat_b"]
    portal = Client()
    portal.force_login(own.account)
    page = portal.get("/ca-nhan").content.decode()
    assert own.full_name in page and other.full_name not in page
    desk = portal.get(reverse("admin:patients_patient_change", args=[other.pk]))
    assert desk.status_code == 302 and "/desk/login/" in desk["Location"]
    api = _api(persona, own.account.username)
    me = api.get("/api/v1/me").json()
    assert [p["full_name"] for p in me["patients"]] == [own.full_name]
    assert api.get(f"/api/v1/registrations/{records['reg_a'].public_id}").status_code in (403, 404)
    assert api.get("/api/v1/registrations").status_code == 403


def test_anonymous_sees_nothing(records: dict[str, Any], client: Client) -> None:
    assert client.get("/ca-nhan").status_code == 302
    assert client.get(reverse("admin:registration_registration_changelist")).status_code == 302
    response = APIClient().get(f"/api/v1/registrations/{records['reg_a'].public_id}")
    assert response.status_code == 401


def test_family_on_one_phone_see_each_other_only(records: dict[str, Any], persona: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from health_f0.registration.services import RegistrationInput, _create, registration_validate

    own = records["pat_a"]
    child_input = registration_validate(
        RegistrationInput(
            full_name="Nguyễn Minh Khang",
            date_of_birth=own.date_of_birth.replace(year=2019),
            sex="male",
            phone=own.phone,
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
    child_reg = _create(child_input, channel="web", facility=own.facility, actor=None)
    child = registration_accept(registration=child_reg, actor=persona("thanhdong.nv")).patient
    from health_f0.facilities import access

    assert set(access.patients_for(own.account)) == {own, child}
    assert set(access.patients_for(child.account)) == {own, child}
    assert records["pat_b"] not in set(access.patients_for(own.account))


def test_treatment_facility_sees_registrations_transferred_to_it(
    records: dict[str, Any], persona: Any
) -> None:
    from health_f0.facilities import access
    from health_f0.facilities.models import Facility
    from health_f0.registration.services import registration_transfer

    reg_a = records["reg_a"]
    assert reg_a not in set(access.registrations_for(persona("bacsi.dieutri")))
    registration_transfer(
        registration=reg_a, actor=persona("thanhdong.nv"), station=Facility.objects.get(code="CSTD-HD")
    )
    assert reg_a in set(access.registrations_for(persona("bacsi.dieutri")))
    assert reg_a not in set(access.registrations_for(persona("thanhdong.nv")))
