"""Monitoring API v1: questionnaire, declarations (idempotent, family, errors), guidance, episodes and the
certificate PDF, staff alerts scoped by station."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import (
    Alert,
    Declaration,
    Episode,
    GuidanceDocument,
    ProvincePolicy,
)
from health_f0.monitoring.services import episode_complete, episode_start, reset_caches
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, Patient
from health_f0.patients.services import account_issue, patient_create

pytestmark = pytest.mark.django_db

QUESTIONNAIRE = "/api/v1/questionnaire"
DECLARATIONS = "/api/v1/declarations"
NORMAL = {"temperature": "36,8", "spo2": 98, "breathing_rate": 16, "symptoms": ["cough"]}
DANGER = {"temperature": 38.5, "spo2": 92, "symptoms": ["shortness_of_breath"]}


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    reset_caches()
    yield
    reset_caches()


@pytest.fixture
def patient(demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")


@pytest.fixture
def as_patient(as_user: Any, patient: Patient) -> APIClient:
    client: APIClient = as_user("bn0000001")
    return client


def _family_member(persona: Any, *, name: str, phone: str, born: date, station: str = "TYT-10510") -> Patient:
    """A patient with an account and an active episode, registered with `phone`."""
    facility = Facility.objects.get(code=station)
    member = patient_create(
        full_name=name,
        date_of_birth=born,
        sex="female",
        phone=phone,
        facility=facility,
        province_code=31,
        ward_code=10510,
    )
    account_issue(patient=member)
    # The phone answered an OTP (patients.bonds): accounts on it act for each other.
    phone_bond_record(patient=member, phone=phone, method=BondMethod.PORTAL_OTP, actor=None)
    episode_start(patient=member, facility=facility, actor=persona("thanhdong.nv"))
    return member


def _errors(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) >= {"detail", "code"}, body
    assert not body["detail"].isascii(), body
    result: dict[str, Any] = body.get("errors", {})
    return result


# --- Questionnaire ------------------------------------------------------------------------------


def test_questionnaire_for_patient_and_staff(as_patient, as_user, client_api):
    response = as_patient.get(QUESTIONNAIRE)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["version"] == 1 and body["deadline"] == "10:00"
    questions = {q["code"]: q for q in body["questions"]}
    assert list(questions)[:2] == ["temperature", "spo2"]
    spo2 = questions["spo2"]
    assert (spo2["type"], spo2["unit"], spo2["min"], spo2["max"], spo2["decimals"]) == (
        "number",
        "%",
        50.0,
        100.0,
        0,
    )
    assert spo2["text"].startswith("Chỉ số SpO2") and spo2["text_en"]
    options = {o["code"]: o for o in questions["symptoms"]["options"]}
    assert options["cough"] == {
        "code": "cough",
        "label": "Ho",
        "label_en": "Cough",
        "danger_sign": False,
        "age_min_months": None,
        "age_max_months": None,
    }
    assert options["shortness_of_breath"]["danger_sign"] is True
    assert as_user("thanhdong.nv").get(QUESTIONNAIRE).status_code == 200
    assert client_api.get(QUESTIONNAIRE).status_code == 401


def test_questionnaire_deadline_follows_the_province(as_patient):
    ProvincePolicy.objects.create(province_code=31, declaration_deadline="11:30", reminder_times=["09:00"])
    reset_caches()
    assert as_patient.get(QUESTIONNAIRE).json()["deadline"] == "11:30"


# --- Declarations: submit -------------------------------------------------------------------------


def test_declare_normal(as_patient, patient):
    response = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "alert_level", "reasons", "late", "submitted_at", "local_date", "advice"}
    assert body["alert_level"] == "none" and body["reasons"] == []
    assert body["local_date"] == timezone.localdate().isoformat()
    assert body["submitted_at"].endswith("+07:00")
    assert body["advice"].startswith("Cảm ơn")
    declaration = Declaration.objects.get(public_id=body["id"])
    assert declaration.patient == patient and declaration.submitted_by == patient.account
    assert declaration.late == body["late"]


def test_declare_danger_sign_tells_what_to_do_and_alerts_the_station(as_patient, patient):
    response = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["alert_level"] == "emergency"
    assert any("Khó thở" in reason for reason in body["reasons"])
    assert "115" in body["advice"] and "02203891001" in body["advice"]
    alert = Alert.objects.get(declaration__public_id=body["id"])
    assert alert.facility.code == "TYT-10510" and alert.level == "emergency"


def test_same_idempotency_key_makes_one_declaration(as_patient, patient):
    first = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json", HTTP_IDEMPOTENCY_KEY="tap-1")
    again = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json", HTTP_IDEMPOTENCY_KEY="tap-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    # The same key with other answers is refused, not answered with the first declaration (issue 9).
    other = as_patient.post(
        DECLARATIONS, {"answers": {**NORMAL, "spo2": 97}}, format="json", HTTP_IDEMPOTENCY_KEY="tap-1"
    )
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Declaration.objects.filter(patient=patient).count() == 1


def test_same_answers_twice_without_key_is_one_declaration(as_patient, patient):
    first = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    again = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert "115" in again.json()["advice"]
    assert Declaration.objects.filter(patient=patient).count() == 1
    assert Alert.objects.filter(episode__patient=patient).count() == 1


def test_spo2_150_is_rejected_in_vietnamese(as_patient, patient):
    response = as_patient.post(DECLARATIONS, {"answers": {**NORMAL, "spo2": 150}}, format="json")
    assert response.status_code == 400
    errors = _errors(response)
    assert errors["spo2"][0]["code"] == "out_of_range"
    message = errors["spo2"][0]["message"]
    assert "150" in message and "không hợp lý" in message
    assert not Declaration.objects.filter(patient=patient).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "answers"),
        ({"answers": None}, "answers"),
        ({"answers": ["spo2", 98]}, "answers"),
        ({"answers": {"spo2": "abc", "temperature": 37}}, "spo2"),
        ({"answers": {**NORMAL, "nonsense": 1}}, "nonsense"),
        ({"answers": {**NORMAL, "symptoms": ["not-a-symptom"]}}, "symptoms"),
        ({"answers": {**NORMAL, "symptoms": [{"a": 1}]}}, "symptoms"),
        ({"answers": {**NORMAL, "temperature": True}}, "temperature"),
        ({"answers": {**NORMAL, "temperature": "NaN"}}, "temperature"),
        ({"answers": {**NORMAL, "temperature": "1e999"}}, "temperature"),
        ({"answers": {**NORMAL, "note": {"x": 1}}}, "note"),
        ({"answers": NORMAL, "patient": "not-a-uuid"}, "patient"),
        ({"answers": NORMAL, "patient": 12}, "patient"),
        ({"answers": NORMAL, "patient": ["x"]}, "patient"),
        ([1, 2], "non_field_errors"),
        ("text", "non_field_errors"),
    ],
)
def test_bad_input_is_400_with_field_errors(as_patient, payload, field):
    response = as_patient.post(DECLARATIONS, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in _errors(response)


def test_malformed_json_is_400(as_patient):
    response = as_patient.post(DECLARATIONS, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_no_active_episode_is_409(as_patient, patient):
    Episode.objects.filter(patient=patient).update(status="completed")
    response = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "no_active_episode"


def test_staff_may_not_declare_here(as_user, patient, client_api):
    nurse = as_user("thanhdong.nv")
    for payload in ({"answers": NORMAL}, {"answers": NORMAL, "patient": str(patient.public_id)}):
        response = nurse.post(DECLARATIONS, payload, format="json")
        assert response.status_code == 403, response.json()
    assert client_api.post(DECLARATIONS, {"answers": NORMAL}, format="json").status_code == 401
    assert not Declaration.objects.exists()


def test_issued_password_must_be_changed_first(as_patient, patient):
    patient.account.must_change_password = True
    patient.account.save(update_fields=["must_change_password"])
    response = as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")
    assert response.status_code == 403 and "đổi mật khẩu" in response.json()["detail"]


def test_family_declares_for_the_child_and_another_family_is_404(as_patient, patient, persona):
    child = _family_member(persona, name="Nguyễn Bảo An", phone=patient.phone, born=date(2020, 3, 1))
    stranger = _family_member(persona, name="Trần Thị Lan", phone="+84977000222", born=date(1990, 1, 1))

    response = as_patient.post(
        DECLARATIONS, {"patient": str(child.public_id), "answers": NORMAL}, format="json"
    )
    assert response.status_code == 201, response.json()
    declaration = Declaration.objects.get(public_id=response.json()["id"])
    assert declaration.patient == child and declaration.submitted_by == patient.account

    history = as_patient.get(DECLARATIONS, {"patient": str(child.public_id)}).json()
    assert history["count"] == 1 and history["results"][0]["submitted_by"] == "bn0000001"
    assert as_patient.get(DECLARATIONS).json()["count"] == 0  # the account's own record: nothing yet

    for other in (stranger.public_id, "1b4e28ba-2fa1-11d2-883f-0016d3cca427"):
        response = as_patient.post(DECLARATIONS, {"patient": str(other), "answers": NORMAL}, format="json")
        assert response.status_code == 404, response.json()
        assert as_patient.get(DECLARATIONS, {"patient": str(other)}).status_code == 404
    assert not Declaration.objects.filter(patient=stranger).exists()


def test_one_declaration_costs_few_queries(as_patient, patient, django_assert_max_num_queries):
    """The hot path: bearer token + user (1), patient (1), episode (1), recent readings (1), episode update
    (1), insert (1), plus SAVEPOINT/RELEASE around the write (in production, outside a test's transaction,
    these are the BEGIN/COMMIT of the write). The questionnaire, rules and deadline come from the
    per-process cache."""
    as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")  # warms caches, stamps token use
    with django_assert_max_num_queries(8):
        response = as_patient.post(DECLARATIONS, {"answers": {**NORMAL, "spo2": 97}}, format="json")
    assert response.status_code == 201
    with django_assert_max_num_queries(9):  # plus the alert row
        response = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    assert response.status_code == 201


# --- Declarations: history ------------------------------------------------------------------------


def test_history_newest_first_and_paginated(as_patient, patient, as_user, client_api):
    as_patient.post(DECLARATIONS, {"answers": NORMAL}, format="json")
    as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json")
    body = as_patient.get(DECLARATIONS, {"limit": 1}).json()
    assert body["count"] == 2 and body["next"] and len(body["results"]) == 1
    newest = body["results"][0]
    assert newest["alert_level"] == "emergency" and newest["answers"]["spo2"] == "92"
    assert set(newest) == {
        "id",
        "submitted_at",
        "local_date",
        "late",
        "alert_level",
        "reasons",
        "answers",
        "submitted_by",
    }
    second = as_patient.get(DECLARATIONS, {"limit": 1, "offset": 1}).json()["results"][0]
    assert second["alert_level"] == "none" and second["answers"]["temperature"] == "36.8"

    assert as_patient.get(DECLARATIONS, {"patient": "nope"}).status_code == 400
    assert as_user("thanhdong.nv").get(DECLARATIONS).status_code == 403
    assert client_api.get(DECLARATIONS).status_code == 401


# --- Guidance -------------------------------------------------------------------------------------


def test_guidance_is_public_and_published_only(demo, client_api):
    shown = GuidanceDocument.objects.create(
        title="Hướng dẫn chăm sóc F0 tại nhà",
        summary="Theo dõi SpO2, nhịp thở",
        body="Đo SpO2 hai lần mỗi ngày.",
        source="Bộ Y tế, QĐ 4156/QĐ-BYT",
    )
    hidden = GuidanceDocument.objects.create(title="Bản nháp", is_published=False)
    listed = client_api.get("/api/v1/guidance")
    assert listed.status_code == 200
    ids = [d["id"] for d in listed.json()["results"]]
    assert str(shown.public_id) in ids and str(hidden.public_id) not in ids
    assert len(ids) == GuidanceDocument.objects.filter(is_published=True).count()
    detail = client_api.get(f"/api/v1/guidance/{shown.public_id}").json()
    assert detail == {
        "id": str(shown.public_id),
        "title": "Hướng dẫn chăm sóc F0 tại nhà",
        "summary": "Theo dõi SpO2, nhịp thở",
        "body": "Đo SpO2 hai lần mỗi ngày.",
        "pdf": None,
        "source": "Bộ Y tế, QĐ 4156/QĐ-BYT",
    }
    assert client_api.get(f"/api/v1/guidance/{hidden.public_id}").status_code == 404
    assert client_api.get("/api/v1/guidance/not-an-id").status_code == 404
    client_api.credentials(HTTP_AUTHORIZATION="Bearer stale-token")
    assert client_api.get(f"/api/v1/guidance/{shown.public_id}").status_code == 200


# --- Episodes and the certificate ---------------------------------------------------------------


def test_episodes_and_certificate_pdf(as_patient, patient, persona, as_user):
    stranger = _family_member(persona, name="Trần Thị Lan", phone="+84977000222", born=date(1990, 1, 1))
    episode = Episode.objects.get(patient=patient)
    listed = as_patient.get("/api/v1/episodes").json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["id"] == str(episode.public_id) and item["status"] == "active"
    assert item["station"]["code"] == "TYT-10510" and item["certificate_url"] is None
    assert item["actions"] == []  # ending an episode is the station's (EPISODE_WORKFLOW.available)
    certificate = f"/api/v1/episodes/{episode.public_id}/certificate.pdf"
    assert as_patient.get(certificate).status_code == 404  # not completed yet

    today = timezone.localdate()
    Episode.objects.filter(pk=episode.pk).update(
        start_date=today - timedelta(days=7), positive_date=today - timedelta(days=7)
    )
    episode.refresh_from_db()
    episode_complete(
        episode=episode, actor=persona("thanhdong.nv"), negative_test_date=today, negative_test_type="rapid"
    )
    item = as_patient.get("/api/v1/episodes").json()["results"][0]
    assert item["status"] == "completed" and item["certificate_url"].endswith(certificate)
    assert item["actions"] == ["certificate"]

    response = as_patient.get(certificate, HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert "attachment" in response["Content-Disposition"]

    other = Episode.objects.get(patient=stranger)
    Episode.objects.filter(pk=other.pk).update(status="completed", certificate_code="ABCDEFGH23")
    missing = as_patient.get(
        f"/api/v1/episodes/{other.public_id}/certificate.pdf", HTTP_ACCEPT="application/pdf"
    )
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json()["code"] == "not_found"
    assert as_patient.get("/api/v1/episodes/zzz/certificate.pdf").status_code == 404
    assert as_user("thanhdong.nv").get(certificate).status_code == 403
    assert as_user("thanhdong.nv").get("/api/v1/episodes").status_code == 403


# --- Alerts (staff) -------------------------------------------------------------------------------


def test_alerts_are_scoped_by_station_and_acknowledged_once(as_patient, as_user, persona):
    declared = as_patient.post(DECLARATIONS, {"answers": DANGER}, format="json").json()
    alert_id = declared["id"]
    acknowledge = f"/api/v1/alerts/{alert_id}/acknowledge"

    nurse = as_user("thanhdong.nv")
    listed = nurse.get("/api/v1/alerts").json()
    assert listed["count"] == 1
    item = listed["results"][0]
    assert item["id"] == alert_id and item["level"] == "emergency" and item["facility"]["code"] == "TYT-10510"
    assert item["patient"]["full_name"] == "Nguyễn Văn Hùng" and item["answers"]["spo2"] == "92"
    station = Facility.objects.get(code="TYT-10510")
    ttyt = Facility.objects.get(code="TTYT-HD")
    assert nurse.get("/api/v1/alerts", {"facility": str(station.public_id)}).json()["count"] == 1
    assert nurse.get("/api/v1/alerts", {"level": "urgent"}).json()["count"] == 0
    assert nurse.get("/api/v1/alerts", {"facility": "x"}).status_code == 400

    other_nurse = as_user("lethanhnghi.nv")
    assert other_nurse.get("/api/v1/alerts").json()["count"] == 0
    assert other_nurse.get("/api/v1/alerts", {"facility": str(station.public_id)}).json()["count"] == 0
    assert other_nurse.post(acknowledge, {"outcome": "stable"}, format="json").status_code == 404

    manager = as_user("ttyt.lanhdao")
    assert manager.get("/api/v1/alerts", {"facility": str(ttyt.public_id)}).json()["count"] == 1
    assert manager.post(acknowledge, {"outcome": "stable"}, format="json").status_code == 403
    assert as_user("datlich").get("/api/v1/alerts").json()["count"] == 0
    assert as_patient.get("/api/v1/alerts").status_code == 403

    assert nurse.post(acknowledge, {"outcome": "maybe"}, format="json").status_code == 400
    assert (
        nurse.post("/api/v1/alerts/zzz/acknowledge", {"outcome": "stable"}, format="json").status_code == 404
    )
    response = nurse.post(
        acknowledge, {"outcome": "doctor_visit", "note": "Bác sĩ đến lúc 9h"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["outcome"] == "doctor_visit" and body["acknowledged_by"] == "thanhdong.nv"
    assert body["acknowledged_at"] and body["note"] == "Bác sĩ đến lúc 9h"
    again = nurse.post(acknowledge, {"outcome": "stable"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_acknowledged"
    assert nurse.get("/api/v1/alerts").json()["count"] == 0


# --- Access scope functions -----------------------------------------------------------------------


def test_own_patients_scope_matches_patients_for_and_excludes_staff(patient, persona):
    child = _family_member(persona, name="Nguyễn Bảo An", phone=patient.phone, born=date(2020, 3, 1))
    account = patient.account
    assert set(access.own_patients_for(account)) == set(access.patients_for(account)) == {patient, child}
    assert set(access.own_patients_for(child.account)) == {patient, child}
    assert not access.own_patients_for(persona("thanhdong.nv")).exists()
    assert not access.own_patients_for(persona("admin")).exists()
    assert not access.alerts_for(account).exists()


def test_own_patients_staff_check_agrees_with_is_staff_member(patient, persona):
    """own_patients_for writes is_staff_member's test as SQL: an inactive role, or a role at an inactive
    facility, is no role; any active one shuts the patient side."""
    from health_f0.facilities.models import Membership, Role

    account = patient.account
    station = Facility.objects.get(code="TYT-10510")
    membership = Membership.objects.create(user=account, facility=station, role=Role.STATION_STAFF)

    def check() -> bool:
        account.__dict__.pop("_hf0_access_cache", None)  # is_staff_member caches per user object
        return access.own_patients_for(account).exists()

    assert check() is False and access.is_staff_member(account)
    Membership.objects.filter(pk=membership.pk).update(is_active=False)
    assert check() is True and not access.is_staff_member(account)
    Membership.objects.filter(pk=membership.pk).update(is_active=True)
    Facility.objects.filter(pk=station.pk).update(is_active=False)
    assert check() is True and not access.is_staff_member(account)
