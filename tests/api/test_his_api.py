"""HIS linking API v1 against the real FHIR server (sekmet, see health_f0/his/tests/conftest.py): asking for a
link (an exact match links at once and its history arrives; ambiguity waits), the default hospital, family
members, bad identifiers as Vietnamese field errors; visits and lab results only of the caller's own linked
records (never another family's); staff tokens are refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.services import api_token_issue
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabResult, HisLink, HisLinkRequest, HisVisit
from health_f0.his.tests.conftest import make_patient, unique_bhyt, unique_cccd
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient

pytestmark = pytest.mark.django_db

LINKS = "/api/v1/his-links"
VISITS = "/api/v1/visits"
RESULTS = "/api/v1/lab-results"


@pytest.fixture
def hung(demo: Any) -> Patient:
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def api(hung: Patient, as_user: Any) -> APIClient:
    client: APIClient = as_user("bn0000001")
    return client


def records(patient: Patient, facility: Facility, tag: str, days_ago: int = 3) -> HisVisit:
    HisLink.objects.get_or_create(
        patient=patient,
        facility=facility,
        active=True,
        defaults={"his_patient_id": f"HIS-{tag}", "linked_at": timezone.now()},
    )
    when = timezone.now() - timedelta(days=days_ago)
    visit = HisVisit.objects.create(
        patient=patient,
        facility=facility,
        source="xml",
        external_id=f"MALK-{tag}",
        admitted_at=when,
        diagnosis_text=f"Chẩn đoán {tag}",
        icd10="E11.9",
    )
    for n, (name, flag) in enumerate([("Glucose", "H"), ("Ure", "N")]):
        HisLabResult.objects.create(
            patient=patient,
            facility=facility,
            source="xml",
            external_id=f"MALK-{tag}:{n}",
            visit=visit,
            name=f"{name} {tag}",
            value="7.8",
            value_number=Decimal("7.8"),
            unit="mmol/L",
            reference_low=Decimal("3.9"),
            reference_high=Decimal("6.4"),
            flag=flag,
            observed_at=when + timedelta(minutes=n),
        )
    return visit


def relative(hung: Patient) -> Patient:
    account = get_user_model().objects.create_user(username="bn-con", phone=hung.phone)
    child = make_patient(name="Nguyễn Minh Khang", born=date(2015, 6, 1), phone=hung.phone, account=account)
    # The phone answered an OTP (patients.bonds): accounts on it act for each other.
    phone_bond_record(patient=child, phone=hung.phone, method=BondMethod.PORTAL_OTP, actor=None)
    return child


def field_messages(body: dict[str, Any], field: str) -> list[str]:
    return [item["message"] for item in body.get("errors", {}).get(field, [])]


# --- Linking ---------------------------------------------------------------------------------------


def test_exact_match_links_at_once_and_the_history_follows(
    api: APIClient, hung: Patient, ttyt: Facility, fhir: Any, django_capture_on_commit_callbacks: Any
) -> None:
    bhyt = unique_bhyt()
    his = fhir.patient(name=hung.full_name, birth=hung.date_of_birth.isoformat(), bhyt=bhyt)
    encounter = fhir.encounter(
        his["id"], start="2026-05-04T08:00:00+07:00", icd="J02.9", text="Viêm họng cấp"
    )
    fhir.observation(
        his["id"],
        encounter["id"],
        code="6690-2",
        name="Bạch cầu",
        value=3.1,
        unit="G/L",
        low=4.0,
        high=10.0,
        when="2026-05-04T09:00:00+07:00",
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(LINKS, {"identifier_type": "bhyt", "identifier": bhyt}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "linked" and body["auto_linked"] is True and body["channel"] == "app"
    assert body["facility"]["code"] == "TTYT-HD" and body["patient"]["id"] == str(hung.public_id)
    assert HisLink.objects.filter(patient=hung, active=True).count() == 1

    listed = api.get(LINKS).json()
    assert listed["count"] == 1 and listed["results"][0]["id"] == body["id"]
    assert body["actions"] == ["unlink"] and listed["results"][0]["actions"] == ["unlink"]  # the workflow's
    visits = api.get(VISITS).json()
    assert visits["count"] == 1
    [visit] = visits["results"]
    assert (visit["icd10"], visit["diagnosis_text"]) == ("J02.9", "Viêm họng cấp")
    assert visit["admitted_at"].startswith("2026-05-04T08:00:00")
    [result] = visit["lab_results"]
    assert (result["name"], result["unit"], result["flag"], result["flag_label"]) == (
        "Bạch cầu",
        "G/L",
        "L",
        "Thấp",
    )
    [lab] = api.get(RESULTS).json()["results"]
    assert lab["visit"] == visit["id"] and lab["out_of_range"] is True
    assert Decimal(lab["reference_low"]) == Decimal("4") and Decimal(lab["value_number"]) == Decimal("3.1")


def test_ambiguity_waits_for_the_linker_and_one_request_at_a_time(
    api: APIClient, hung: Patient, ttyt: Facility, fhir: Any
) -> None:
    cccd = unique_cccd(hung.date_of_birth.year)
    for code in ("BN-B1", "BN-B2"):
        fhir.patient(name=hung.full_name, birth=hung.date_of_birth.isoformat(), cccd=cccd, his_code=code)
    response = api.post(LINKS, {"identifier_type": "cccd", "identifier": cccd}, format="json")
    assert response.status_code == 201 and response.json()["status"] == "needs_review"
    assert len(HisLinkRequest.objects.get(patient=hung).candidates) == 2
    assert not HisLink.objects.filter(patient=hung).exists()
    again = api.post(LINKS, {"identifier_type": "cccd", "identifier": cccd}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "request_pending"
    assert api.get(VISITS).json()["count"] == 0
    # The request's `actions` come from the link workflow: nothing is the patient's to do while it waits.
    assert response.json()["actions"] == [] and api.get(LINKS).json()["results"][0]["actions"] == []


@pytest.mark.parametrize(
    ("payload", "field", "message"),
    [
        ({"identifier_type": "cccd", "identifier": "12345"}, "identifier", "CCCD"),
        ({"identifier_type": "bhyt", "identifier": "ab12"}, "identifier", "BHYT"),
        ({"identifier_type": "his_code", "identifier": "x"}, "identifier", "3–32 ký tự"),
        ({"identifier_type": "cccd", "identifier": ""}, "identifier", "không được bỏ trống"),
        (
            {"identifier_type": "passport", "identifier": "B1234567"},
            "identifier_type",
            "Lựa chọn không hợp lệ",
        ),
        ({"identifier": "0123456789"}, "identifier_type", "bắt buộc"),
        (
            {"identifier_type": "bhyt", "identifier": "0123456789", "facility": "x"},
            "facility",
            "Mã không hợp lệ",
        ),
        (
            {"identifier_type": "bhyt", "identifier": "0123456789", "patient": 5},
            "patient",
            "Không tìm thấy người bệnh",
        ),
    ],
)
def test_bad_input_answers_400_with_a_vietnamese_field_error(
    api: APIClient, hung: Patient, payload: dict[str, Any], field: str, message: str
) -> None:
    response = api.post(LINKS, payload, format="json")
    assert response.status_code == 400, response.json()
    messages = field_messages(response.json(), field)
    assert messages and any(message in m for m in messages), response.json()
    assert not HisLinkRequest.objects.exists()


def test_default_hospital_unless_the_province_has_several(
    api: APIClient, hung: Patient, ttyt: Facility, other_hospital: Any, fhir: Any
) -> None:
    hospital, _linker = other_hospital
    response = api.post(LINKS, {"identifier_type": "his_code", "identifier": "BN-NONE-1"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "facility_required"
    assert field_messages(response.json(), "facility")
    missing = api.post(
        LINKS,
        {"identifier_type": "his_code", "identifier": "BN-NONE-1", "facility": str(hung.public_id)},
        format="json",
    )
    assert missing.status_code == 400 and missing.json()["code"] == "facility_not_found"
    chosen = api.post(
        LINKS,
        {"identifier_type": "his_code", "identifier": "BN-NONE-1", "facility": str(hospital.public_id)},
        format="json",
    )
    assert chosen.status_code == 201 and chosen.json()["facility"]["code"] == "BV-TEST"
    assert chosen.json()["status"] == "needs_review"  # no such HIS code: the linker decides


def test_family_member_and_not_someone_else(api: APIClient, hung: Patient, ttyt: Facility, fhir: Any) -> None:
    child = relative(hung)
    response = api.post(
        LINKS,
        {"identifier_type": "his_code", "identifier": "BN-CON-7", "patient": str(child.public_id)},
        format="json",
    )
    assert response.status_code == 201 and response.json()["patient"]["id"] == str(child.public_id)
    stranger = make_patient(name="Trần Văn Lạ")
    refused = api.post(
        LINKS,
        {"identifier_type": "his_code", "identifier": "BN-LA-7", "patient": str(stranger.public_id)},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["code"] == "patient_not_found"
    assert not HisLinkRequest.objects.filter(patient=stranger).exists()
    only_child = api.get(LINKS, {"patient": str(child.public_id)}).json()
    assert only_child["count"] == 1
    assert api.get(LINKS, {"patient": str(hung.public_id)}).json()["count"] == 0


# --- Records ---------------------------------------------------------------------------------------


def test_records_only_of_own_links_newest_first_with_family_filter(
    api: APIClient, hung: Patient, ttyt: Facility
) -> None:
    records(hung, ttyt, "CU", days_ago=20)
    records(hung, ttyt, "MOI", days_ago=2)
    child = relative(hung)
    records(child, ttyt, "CON", days_ago=1)
    stranger = make_patient(name="Trần Văn Lạ")
    records(stranger, ttyt, "LA", days_ago=1)

    visits = api.get(VISITS).json()
    assert [v["diagnosis_text"] for v in visits["results"]] == [
        "Chẩn đoán CON",
        "Chẩn đoán MOI",
        "Chẩn đoán CU",
    ]
    mine = api.get(VISITS, {"patient": str(hung.public_id)}).json()
    assert [v["diagnosis_text"] for v in mine["results"]] == ["Chẩn đoán MOI", "Chẩn đoán CU"]
    results = api.get(RESULTS, {"patient": str(hung.public_id)}).json()
    assert [r["name"] for r in results["results"]] == ["Ure MOI", "Glucose MOI", "Ure CU", "Glucose CU"]
    high = api.get(RESULTS, {"patient": str(hung.public_id), "out_of_range": "true"}).json()
    assert [r["name"] for r in high["results"]] == ["Glucose MOI", "Glucose CU"]
    paged = api.get(RESULTS, {"limit": 2, "offset": 2}).json()
    assert paged["count"] == 6 and len(paged["results"]) == 2
    everything = str(api.get(VISITS).json()) + str(api.get(RESULTS, {"limit": 200}).json())
    assert "LA" not in everything.replace("LAB", "")  # another family's records never appear
    for url in (VISITS, RESULTS, LINKS):
        for bad in (str(stranger.public_id), "khong-phai-ma"):
            response = api.get(url, {"patient": bad})
            assert response.status_code == 400 and field_messages(response.json(), "patient"), (url, bad)
    # After unlinking, that hospital's records are gone from the API.
    HisLink.objects.filter(patient=hung).update(active=False, active_marker=None)
    assert api.get(VISITS, {"patient": str(hung.public_id)}).json()["count"] == 0


@pytest.mark.parametrize("username", ["lienket.his", "thanhdong.nv", "tiepdon"])
def test_staff_tokens_are_refused(as_user: Any, hung: Patient, ttyt: Facility, username: str) -> None:
    records(hung, ttyt, "HUNG")
    client = as_user(username)
    for url in (LINKS, VISITS, RESULTS):
        assert client.get(url).status_code == 403, url
    response = client.post(LINKS, {"identifier_type": "bhyt", "identifier": "0123456789"}, format="json")
    assert response.status_code == 403 and response.json()["code"]
    assert not HisLinkRequest.objects.exists()


def test_login_and_own_password_required(hung: Patient) -> None:
    anonymous = APIClient()
    for url in (LINKS, VISITS, RESULTS):
        assert anonymous.get(url).status_code == 401
    hung.account.must_change_password = True
    hung.account.save(update_fields=["must_change_password"])
    raw, _ = api_token_issue(user=hung.account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get(VISITS).status_code == 403
    assert (
        client.post(LINKS, {"identifier_type": "bhyt", "identifier": "0123456789"}, format="json").status_code
        == 403
    )


def test_list_query_count_does_not_grow(
    api: APIClient, hung: Patient, ttyt: Facility, django_assert_max_num_queries: Any
) -> None:
    for n in range(12):
        records(hung, ttyt, f"V{n}", days_ago=n + 1)
    with django_assert_max_num_queries(10):
        assert api.get(VISITS).json()["count"] == 12
    with django_assert_max_num_queries(10):
        assert api.get(RESULTS).json()["count"] == 24


# --- v2 (issue 11): pages by cursor; a visit's lab results are bounded in the list ---------------------------


def test_v2_visits_show_the_first_lab_results_and_their_total(
    api: APIClient, hung: Patient, ttyt: Facility, django_assert_max_num_queries: Any
) -> None:
    from health_f0.api.apis.his import VISIT_LAB_RESULTS_SHOWN

    visit = records(hung, ttyt, "LONG", days_ago=1)
    for n in range(2, VISIT_LAB_RESULTS_SHOWN + 5):
        HisLabResult.objects.create(
            patient=hung,
            facility=ttyt,
            source="xml",
            external_id=f"MALK-LONG:{n}",
            visit=visit,
            name=f"Chỉ số {n:02d}",
            value=str(n),
            observed_at=visit.admitted_at,
        )
    for n in range(3):
        records(hung, ttyt, f"S{n}", days_ago=n + 2)
    total = VISIT_LAB_RESULTS_SHOWN + 5
    v1 = api.get(VISITS, {"limit": 200}).json()["results"]
    assert len(v1[0]["lab_results"]) == total and "lab_results_total" not in v1[0]

    with django_assert_max_num_queries(8):
        page = api.get("/api/v2/visits", {"limit": 2}).json()
    first = page["results"][0]
    assert first["id"] == str(visit.public_id)
    assert first["lab_results_total"] == total
    assert [r["name"] for r in first["lab_results"]] == sorted(r["name"] for r in v1[0]["lab_results"])[
        :VISIT_LAB_RESULTS_SHOWN
    ]
    second = api.get(page["next"]).json()
    assert second["next"] is None
    rest = second["results"]
    assert [r["lab_results_total"] for r in page["results"][1:] + rest] == [2, 2, 2]
    assert {k: v for k, v in first.items() if k not in ("lab_results", "lab_results_total")} == {
        k: v for k, v in v1[0].items() if k != "lab_results"
    }

    all_of_visit = api.get("/api/v2/lab-results", {"visit": str(visit.public_id), "limit": 200}).json()
    assert len(all_of_visit["results"]) == total
    assert api.get(RESULTS, {"visit": "nope"}).status_code == 400


# --- Rows as `.values()` dicts (issue 11): the same answer as the serializers the schema documents -----------


def test_value_rows_answer_as_the_serializers(api: APIClient, hung: Patient, ttyt: Facility) -> None:
    from health_f0.api.apis.his import (
        VISIT_LAB_RESULTS_SHOWN,
        HisLabResultSerializer,
        HisVisitSerializer,
        HisVisitV2Serializer,
    )
    from health_f0.his import selectors
    from health_f0.his.models import HisLabReport

    first = records(hung, ttyt, "A", days_ago=5)
    records(hung, ttyt, "B", days_ago=2)
    HisVisit.objects.create(patient=hung, facility=ttyt, source="fhir", external_id="NO-TIME")
    report = HisLabReport.objects.create(
        patient=hung,
        facility=ttyt,
        source="fhir",
        external_id="DR-1",
        name="Sinh hoá máu",
        status="final",
        conclusion="Đường huyết cao.",
        issued_at=timezone.now() - timedelta(days=4),
    )
    # A result in a report, without a number or a range, of no visit; one with an odd flag, one untimed.
    HisLabResult.objects.create(
        patient=hung,
        facility=ttyt,
        source="fhir",
        external_id="O-1",
        name="HbA1c",
        value="Âm tính",
        report=report,
        flag="",
    )
    HisLabResult.objects.create(
        patient=hung,
        facility=ttyt,
        source="fhir",
        external_id="O-2",
        name="Ure máu",
        visit=first,
        value_number=Decimal("100"),
        reference_high=Decimal("7.1234"),
        flag="L",
        observed_at=None,
        report=report,
    )
    user = hung.account
    visits = list(selectors.visits_with_lab_results_for(user=user).order_by("-admitted_at", "-id"))
    v1 = api.get(VISITS, {"limit": 100}).json()["results"]
    assert v1 == HisVisitSerializer(visits, many=True).data

    for visit in visits:
        shown = list(
            selectors.first_lab_results_of(user=user, visit_ids=[visit.pk], per_visit=VISIT_LAB_RESULTS_SHOWN)
        )
        visit.shown_lab_results = shown  # type: ignore[attr-defined]
        visit.lab_results_total = shown[0].visit_total if shown else 0  # type: ignore[attr-defined]
    v2 = api.get("/api/v2/visits", {"limit": 100}).json()["results"]
    assert v2 == HisVisitV2Serializer(visits, many=True).data

    labs = list(selectors.lab_results_for(user=user).order_by(*selectors.LAB_ORDER))
    for path in (RESULTS, "/api/v2/lab-results"):
        assert api.get(path, {"limit": 100}).json()["results"] == HisLabResultSerializer(labs, many=True).data
    assert [r["id"] for r in api.get("/api/v2/lab-results", {"limit": 100}).json()["results"]][:2] == [
        str(r.public_id) for r in labs[:2]
    ]
