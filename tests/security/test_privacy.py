"""Issue 8, item 8: the data subject's rights under Law 91/2025/QH15 and Decree 356/2025/NĐ-CP.

Consent is recorded with the policy version on every channel that collects personal data; a new version is
asked for again (portal: the consent page; API: 403 `consent_required` with the version). A patient downloads
everything held about them and their family (JSON streamed, a PDF built in the background). Withdrawal and
deletion requests go to the station/TTYT worklist with their legal deadline; carrying one out deletes or
anonymises what may go, restricts medical records kept by law, and tells the patient what and why.
Retention jobs remove OTP rows, secret SMS bodies, sessions, tokens, early reports and old audit rows,
idempotently, with one audit row per run.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.api.models import ApiToken
from health_f0.api.services import api_token_issue
from health_f0.appointments.models import Appointment
from health_f0.core.exceptions import Conflict, PermissionDenied
from health_f0.core.models import AuditLog
from health_f0.facilities import access
from health_f0.facilities.models import Facility
from health_f0.monitoring.models import Alert, Episode, EpisodeStatus
from health_f0.monitoring.services import declaration_submit, episode_close
from health_f0.notifications.models import EarlyDeliveryReport, MessageStatus, OutboxMessage
from health_f0.patients.models import OtpChallenge, Patient
from health_f0.patients.otp import otp_request
from health_f0.patients.services import account_issue, patient_create
from health_f0.privacy import retention, selectors, services
from health_f0.privacy.exports import export_json_stream
from health_f0.privacy.models import (
    ConsentAction,
    ConsentRecord,
    DataExport,
    DataSubjectRequest,
    ExportStatus,
    PrivacyPolicy,
    ProcessingRestriction,
    RequestKind,
    RequestStatus,
    RetentionRun,
)
from health_f0.registration.models import Registration
from health_f0.registration.services import registration_accept, registration_submit
from tests.access_records import DANGER, portal_ready
from tests.test_access_matrix import PERSONAS

pytestmark = pytest.mark.django_db

PHONE = "+84977300100"


def _patient(name: str = "Đỗ Thị Hạnh", phone: str = PHONE, station: str = "TYT-10510") -> Patient:
    patient = patient_create(
        full_name=name,
        date_of_birth=date(1988, 6, 15),
        sex="female",
        phone=phone,
        facility=Facility.objects.get(code=station),
        province_code=31,
        ward_code=10510,
    )
    account_issue(patient=patient)
    return portal_ready(Patient.objects.select_related("account", "facility").get(pk=patient.pk))


def _api(user: Any) -> APIClient:
    raw, _token = api_token_issue(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


def _portal(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _publish(persona: Any, version: str = "2026-01") -> PrivacyPolicy:
    policy = services.policy_publish(
        version=version,
        effective_from=timezone.now() - timedelta(seconds=1),
        summary="Bổ sung mục đích đặt lịch khám và liên kết hồ sơ bệnh viện.",
        actor=persona("syt.lanhdao"),
    )
    cache.delete(selectors.POLICY_CACHE_KEY)
    return policy


def _registration_input(**overrides: Any) -> Any:
    from health_f0.registration.services import RegistrationInput

    values: dict[str, Any] = {
        "full_name": "Vũ Thị Dung",
        "date_of_birth": date(1991, 2, 3),
        "sex": "female",
        "phone": "0977 300 200",
        "province_code": 31,
        "ward_code": 10510,
        "test_type": "rapid",
        "positive_date": timezone.localdate() - timedelta(days=1),
        "care": "self_care",
        "consent": True,
    }
    values.update(overrides)
    return RegistrationInput(**values)


# --- Consent on every channel, with the version ------------------------------------------------------------


def test_registration_records_consent_with_the_policy_version(
    demo: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone="+84977300200", purpose="registration", ip="10.0.0.9")
    registration = registration_submit(data=_registration_input(), otp=sms.last_otp("+84977300200"))
    record = ConsentRecord.objects.get(source=f"registration.registration:{registration.pk}")
    assert (record.action, record.policy_version, record.channel, record.method) == (
        ConsentAction.GIVEN,
        "2025-07",
        "registration_web",
        "checkbox",
    )
    assert record.phone == "+84977300200" and record.facility == registration.facility
    assert AuditLog.objects.filter(verb="consent_given", target_id=str(record.pk)).exists()


def test_guest_booking_asks_and_records_consent(
    appointments_demo: Any, client_api: APIClient, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from tests.api.test_appointments import _guest_body, _otp, at, make_service

    clinic = make_service(Facility.objects.get(code="PK-NOI1"))
    day = timezone.localdate() + timedelta(days=3)
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    refused = client_api.post(
        "/api/v1/appointments/guest",
        {**_guest_body(clinic, at(day, 5), code), "consent": False},
        format="json",
    )
    assert refused.status_code == 400 and refused.json()["errors"]["consent"][0]["code"] == "consent_required"
    missing = _guest_body(clinic, at(day, 5), code)
    missing.pop("consent", None)
    assert client_api.post("/api/v1/appointments/guest", missing, format="json").status_code == 400
    response = client_api.post(
        "/api/v1/appointments/guest",
        {**_guest_body(clinic, at(day, 5), code), "consent": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    appointment = Appointment.objects.get(public_id=response.json()["id"])
    record = ConsentRecord.objects.get(patient=appointment.patient)
    assert (record.channel, record.method, record.policy_version) == (
        "guest_booking_app",
        "checkbox",
        "2025-07",
    )
    assert record.source == f"appointments.appointment:{appointment.pk}"


def test_guest_booking_form_on_the_portal_requires_the_box(appointments_demo: Any) -> None:
    from health_f0.www.appointment_forms import GuestBookingForm

    data = {
        "full_name": "Lê Văn Tám",
        "date_of_birth": "01/02/1980",
        "sex": "male",
        "phone": "0977300300",
        "otp": "123456",
    }
    form = GuestBookingForm(data)
    assert not form.is_valid() and "consent" in form.errors
    assert GuestBookingForm({**data, "consent": "on"}).is_valid()


def test_phone_booking_records_the_oral_consent_the_clerk_ticked(
    appointments_demo: Any, persona: Any
) -> None:
    from health_f0.appointments.forms import NewPatientForm

    data = {
        "bn-full_name": "Lý Thị Hoa",
        "bn-date_of_birth": "02/03/1975",
        "bn-sex": "female",
        "bn-phone": "0987 111 222",
    }
    form = NewPatientForm(data)
    assert not form.is_valid() and "consent_oral" in form.errors
    assert NewPatientForm({**data, "bn-consent_oral": "on"}).is_valid()

    from datetime import timedelta

    from django.utils import timezone

    from health_f0.appointments import selectors as appt_selectors
    from health_f0.appointments import services as appt_services
    from health_f0.appointments.desk.records import AppointmentAdmin
    from health_f0.appointments.models import Service
    from health_f0.desk.site import desk_site

    clerk = persona("datlich")
    model_admin = AppointmentAdmin(Appointment, desk_site)
    service = Service.objects.filter(
        facility__path__startswith=Facility.objects.get(code="TTYT-HD").path, kind="examination"
    ).first()
    bound = NewPatientForm({**data, "bn-consent_oral": "on"})
    person = model_admin._new_person(bound)
    assert person is not None
    today = timezone.localdate()
    slot = next(
        s
        for s in appt_selectors.slots_free(
            service=service, start=today + timedelta(days=1), end=today + timedelta(days=14), for_staff=True
        )
        if s.booked < s.capacity
    )
    patient = appt_services.appointment_book_new_patient(
        person=person,
        service=service,
        slot_start=slot.start,
        channel="phone",
        actor=clerk,
        consent_channel="phone_booking",
    ).patient
    record = ConsentRecord.objects.get(patient=patient)
    assert (record.channel, record.method, record.recorded_by) == ("phone_booking", "oral", clerk)


def test_his_link_records_consent_and_refuses_an_outdated_version(demo: Any, persona: Any) -> None:
    patient = _patient()
    api = _api(patient.account)
    _publish(persona)
    services.consent_give(user=patient.account, channel="app", policy_version="2026-01")
    stale = api.post(
        "/api/v1/his-links",
        {"identifier_type": "bhyt", "identifier": "0123456789", "policy_version": "2025-07"},
        format="json",
    )
    assert stale.status_code == 400 and stale.json()["code"] == "policy_version_outdated"
    assert stale.json()["policy_version"] == "2026-01"
    api.post(
        "/api/v1/his-links",
        {"identifier_type": "bhyt", "identifier": "0123456789", "policy_version": "2026-01"},
        format="json",
    )
    record = ConsentRecord.objects.filter(patient=patient, channel="his_link_app").get()
    assert (record.method, record.policy_version, record.user) == ("submit", "2026-01", patient.account)


def test_signup_channel_is_ready_in_the_consent_service(demo: Any) -> None:
    record = services.consent_record(channel="signup", phone="+84977300999", policy_version="2025-07")
    assert record.channel == "signup" and record.policy_version == "2025-07"


# --- A new version is asked for again ----------------------------------------------------------------------


def test_a_new_policy_version_is_asked_again_on_the_api_and_the_portal(demo: Any, persona: Any) -> None:
    patient = _patient()
    api = _api(patient.account)
    portal = _portal(patient.account)
    assert api.get("/api/v1/appointments").status_code == 200
    assert portal.get("/ca-nhan").status_code == 200

    _publish(persona)
    blocked = api.get("/api/v1/appointments")
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "consent_required" and blocked.json()["policy_version"] == "2026-01"
    page = portal.get("/ca-nhan")
    assert page.status_code == 302 and page["Location"].startswith("/dong-y-chinh-sach?next=%2Fca-nhan")
    # Rights stay reachable without consent.
    assert api.get("/api/v1/privacy/consent").json()["consent_required"] is True
    assert portal.get("/du-lieu-cua-toi").status_code == 200
    assert api.get("/api/v1/privacy/export").status_code == 200

    form = portal.get("/dong-y-chinh-sach?next=/ca-nhan")
    assert "2026-01" in form.content.decode()
    refused = portal.post("/dong-y-chinh-sach", {"policy_version": "2026-01", "next": "/ca-nhan"})
    assert refused.status_code == 400
    agreed = portal.post(
        "/dong-y-chinh-sach", {"policy_version": "2026-01", "agree": "on", "next": "/ca-nhan"}
    )
    assert agreed.status_code == 302 and agreed["Location"] == "/ca-nhan"
    assert portal.get("/ca-nhan").status_code == 200
    assert api.get("/api/v1/appointments").status_code == 200
    record = ConsentRecord.objects.get(user=patient.account, channel="portal")
    assert record.policy_version == "2026-01"


def test_consent_on_the_api_and_an_outdated_version_is_refused(demo: Any, persona: Any) -> None:
    patient = _patient()
    api = _api(patient.account)
    _publish(persona)
    stale = api.post("/api/v1/privacy/consent", {"policy_version": "2025-07", "agree": True}, format="json")
    assert stale.status_code == 400 and stale.json()["code"] == "policy_version_outdated"
    no = api.post("/api/v1/privacy/consent", {"policy_version": "2026-01", "agree": False}, format="json")
    assert no.status_code == 400
    ok = api.post("/api/v1/privacy/consent", {"policy_version": "2026-01", "agree": True}, format="json")
    assert ok.status_code == 201 and ok.json()["consent_required"] is False
    assert api.get("/api/v1/appointments").status_code == 200


def test_only_the_department_publishes_and_versions_never_go_back(demo: Any, persona: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.policy_publish(
            version="2026-02", effective_from=timezone.now(), summary="x", actor=persona("thanhdong.truong")
        )
    _publish(persona)
    from health_f0.core.exceptions import ValidationErrors

    with pytest.raises(ValidationErrors) as caught:
        services.policy_publish(
            version="2026-01",
            effective_from=timezone.now() - timedelta(days=400),
            summary="",
            actor=persona("admin"),
        )
    assert set(caught.value.errors) == {"version", "effective_from", "summary"}
    desk = _portal(persona("syt.lanhdao"))
    page = desk.get(reverse("admin:privacy_privacypolicy_add"))
    assert page.status_code == 200 and "Công bố" in page.content.decode()
    assert _portal(persona("thanhdong.truong")).get(
        reverse("admin:privacy_privacypolicy_add")
    ).status_code in {302, 403}


def test_staff_are_never_asked_and_a_cached_answer_costs_no_query(
    demo: Any, persona: Any, django_assert_num_queries: Any
) -> None:
    _publish(persona)
    assert selectors.consent_required_version(persona("thanhdong.nv")) is None
    patient = _patient()
    user = get_user_model().objects.get(pk=patient.account_id)
    services.consent_give(user=user, channel="portal", policy_version="2026-01")
    selectors.consent_required_version(user)
    with django_assert_num_queries(0):
        assert selectors.consent_required_version(user) is None


# --- Export ---------------------------------------------------------------------------------------------------


def test_json_export_holds_everything_of_the_account_and_no_secret(demo: Any, persona: Any, sms: Any) -> None:
    registration = Registration.objects.filter(facility__code="TYT-10510", status="submitted").first()
    assert registration is not None
    patient = registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    portal_ready(patient)
    user = get_user_model().objects.get(pk=patient.account_id)
    OtpChallenge.objects.create(
        phone=patient.phone, purpose="login", code_hash="secret-hash", expires_at=timezone.now()
    )
    stranger = _patient(name="Người Lạ", phone="+84977300888", station="TYT-10532")

    response = _portal(user).get("/du-lieu-cua-toi/du-lieu.json")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    data = json.loads(text)
    sections = data["sections"]
    assert {p["public_id"] for p in sections["patients"]} >= {str(patient.public_id)}
    assert str(stranger.public_id) not in text and "Người Lạ" not in text
    assert sections["registrations"] and sections["episodes"] and sections["messages"]
    for secret in ("secret-hash", "code_hash", "body_encrypted", "key_hash", "open_key", "password"):
        assert secret not in text, secret
    account_sms = [m for m in sections["messages"] if m["kind"] == "account"]
    assert account_sms and all(m["body"] == "" for m in account_sms)  # the SMS with the password
    assert AuditLog.objects.filter(action="export", verb="export_json", target_id=str(patient.pk)).exists()


def test_the_export_names_an_alerts_declaration_without_its_copy(demo: Any, persona: Any) -> None:
    """An alert holds a copy of its declaration's public id and answers for the staff's list (monitoring.Alert):
    the export gives the alert its declaration's public id, as before, and the answers once, in the
    declarations' section."""
    registration = Registration.objects.filter(facility__code="TYT-10510", status="submitted").first()
    assert registration is not None
    patient = portal_ready(
        registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    )
    declaration, _created = declaration_submit(
        patient=patient, actor=patient.account, answers={**DANGER, "note": "khó thở"}
    )
    response = _portal(get_user_model().objects.get(pk=patient.account_id)).get(
        "/du-lieu-cua-toi/du-lieu.json"
    )
    assert response.status_code == 200
    sections = json.loads(b"".join(response.streaming_content).decode())["sections"]  # type: ignore[attr-defined]
    (alert,) = sections["alerts"]
    assert alert["declaration"] == str(declaration.public_id)
    assert "declaration_public_id" not in alert and "declaration_answers" not in alert
    assert [d["answers"] for d in sections["declarations"]] == [declaration.answers]


def test_pdf_export_is_built_in_the_background_and_only_its_owner_downloads_it(
    demo: Any, persona: Any, django_capture_on_commit_callbacks: Any
) -> None:
    patient = _patient()
    api = _api(patient.account)
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post("/api/v1/privacy/exports")
    assert started.status_code == 202
    status = api.get(f"/api/v1/privacy/exports/{started.json()['id']}").json()
    assert status["status"] == "ready" and status["progress"] == 100, status
    pdf = api.get(status["download_url"])
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")  # type: ignore[attr-defined]
    other = _api(_patient(name="Người Khác", phone="+84977300777").account)
    assert other.get(f"/api/v1/privacy/exports/{started.json()['id']}").status_code == 404
    assert other.get(status["download_url"]).status_code == 404
    export = DataExport.objects.get(public_id=started.json()["id"])
    assert AuditLog.objects.filter(verb="export_pdf", target_id=str(patient.pk)).exists()
    # A failed build is recorded and may be tried again.
    DataExport.objects.filter(pk=export.pk).update(status=ExportStatus.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post("/api/v1/privacy/exports")
    assert again.status_code == 202 and again.json()["status"] == "ready"


# --- Withdrawal and deletion ----------------------------------------------------------------------------------


def _request(patient: Patient, kind: str = RequestKind.DELETE) -> DataSubjectRequest:
    api = _api(patient.account)
    response = api.post("/api/v1/privacy/requests", {"kind": kind, "reason": "Không dùng nữa"}, format="json")
    assert response.status_code == 201, response.json()
    return DataSubjectRequest.objects.get(public_id=response.json()["id"])


def test_withdrawal_takes_effect_at_once_and_one_request_per_kind(demo: Any) -> None:
    patient = _patient()
    api = _api(patient.account)
    req = _request(patient, RequestKind.WITHDRAW)
    assert req.facility.code == "TYT-10510" and req.status == RequestStatus.SUBMITTED
    # Two working days (Decree 356/2025), to the end of the second: a weekday, at most five calendar days on.
    due = timezone.localtime(req.due_at)
    assert due.weekday() < 5 and (due.hour, due.minute) == (23, 59)
    assert timedelta(days=1) < req.due_at - req.created_at < timedelta(days=5)
    assert api.get("/api/v1/appointments").json()["code"] == "consent_required"
    again = api.post("/api/v1/privacy/requests", {"kind": "withdraw"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "request_pending"


def test_deletion_without_medical_records_deletes_and_anonymises(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    patient = _patient()
    account_id = patient.account_id
    OtpChallenge.objects.create(phone=PHONE, purpose="login", code_hash="x", expires_at=timezone.now())
    services.consent_record(channel="portal", user=patient.account, patient=patient)
    req = _request(patient)
    with pytest.raises(PermissionDenied):
        services.request_approve(request=req, actor=persona("lethanhnghi.nv"))
    with django_capture_on_commit_callbacks(execute=True):
        done = services.request_approve(request=req, actor=persona("thanhdong.truong"), note="Đã xác minh")
    assert done.status == RequestStatus.COMPLETED
    patient.refresh_from_db()
    account = get_user_model().objects.get(pk=account_id)
    assert not account.is_active and not account.has_usable_password() and account.phone == ""
    assert (
        patient.account_id is None and patient.phone == "" and patient.full_name == services.ANONYMISED_NAME
    )
    assert not OtpChallenge.objects.filter(phone=PHONE).exists()
    assert not ConsentRecord.objects.filter(patient=patient).exists()
    assert not ApiToken.objects.filter(user_id=account_id).exists()
    assert not ProcessingRestriction.objects.filter(patient=patient).exists()
    assert done.outcome["deleted"]["account"] == 1 and done.outcome["anonymised"]["patient"] == 1
    assert "ẩn danh" in done.outcome_message
    assert "Da xoa du lieu ca nhan" in sms.last(to=PHONE, kind="generic")["body"]
    assert AuditLog.objects.filter(verb="approve", action="delete", target_id=str(req.pk)).exists()


def test_medical_records_are_restricted_not_deleted_and_the_patient_is_told_why(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    registration = Registration.objects.filter(facility__code="TYT-10510", status="submitted").first()
    assert registration is not None
    patient = portal_ready(
        registration_accept(registration=registration, actor=persona("thanhdong.nv")).patient
    )
    phone = patient.phone
    req = _request(patient)
    # Care still going on: refused with what to do.
    with pytest.raises(Conflict) as caught:
        services.request_approve(request=req, actor=persona("thanhdong.truong"))
    assert "kết thúc đợt theo dõi" in caught.value.message
    episode = Episode.objects.get(patient=patient, status=EpisodeStatus.ACTIVE)
    # A danger-sign declaration: its alert holds a copy of its public id and answers (monitoring.Alert).
    declaration_submit(patient=patient, actor=patient.account, answers={**DANGER, "note": "khó thở"})
    episode_close(
        episode=episode, actor=persona("thanhdong.nv"), status="closed", reason="Người bệnh yêu cầu"
    )
    with django_capture_on_commit_callbacks(execute=True):
        done = services.request_approve(request=req, actor=persona("thanhdong.truong"))
    # The declarations are kept as they were, so the alerts' copies still equal them.
    alerts = Alert.objects.filter(episode__patient=patient).order_by("id")
    assert alerts.exists()
    assert list(alerts.values_list("declaration_public_id", "declaration_answers")) == list(
        alerts.values_list("declaration__public_id", "declaration__answers")
    )
    restriction = ProcessingRestriction.objects.get(patient=patient)
    assert restriction.retain_until.year == timezone.localdate().year + 10
    patient.refresh_from_db()
    assert patient.full_name == registration.full_name and patient.phone == ""  # identity kept, contact gone
    assert Episode.objects.filter(patient=patient).exists()
    assert done.outcome["restricted"]["episodes"] == 1
    assert "lưu trữ hạn chế" in done.outcome_message and "10 năm" in done.outcome_message
    assert "luu han che" in sms.last(to=phone, kind="generic")["body"]
    # Hidden from non-clinical staff, still there for the station.
    visible = access.hide_restricted(Patient.objects.filter(pk=patient.pk), persona("datlich"), field="")
    assert not visible.exists()
    assert access.hide_restricted(
        Patient.objects.filter(pk=patient.pk), persona("thanhdong.nv"), field=""
    ).exists()


def test_a_rejection_carries_its_reason_to_the_requester(
    demo: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    patient = _patient()
    req = _request(patient)
    from health_f0.core.exceptions import DomainError

    with pytest.raises(DomainError):
        services.request_reject(request=req, actor=persona("thanhdong.truong"), note="no")
    with django_capture_on_commit_callbacks(execute=True):
        services.request_reject(
            request=req, actor=persona("thanhdong.truong"), note="Đang có khiếu nại cần giữ hồ sơ"
        )
    listed = _api(patient.account).get("/api/v1/privacy/requests").json()
    assert listed[0]["status"] == "rejected" and "khiếu nại" in listed[0]["outcome_message"]
    assert listed[0]["actions"] == []  # decided: nothing left to do
    assert "khieu nai" in sms.last(to=PHONE, kind="generic")["body"]


def test_the_requester_may_cancel_a_waiting_request_others_may_not(demo: Any, persona: Any) -> None:
    patient = _patient()
    req = _request(patient)
    stranger = _api(_patient(name="Người Lạ", phone="+84977300888").account)
    assert stranger.post(f"/api/v1/privacy/requests/{req.public_id}/cancel").status_code == 404
    assert _api(patient.account).get("/api/v1/privacy/requests").json()[0]["actions"] == ["cancel"]
    ok = _api(patient.account).post(f"/api/v1/privacy/requests/{req.public_id}/cancel")
    assert ok.status_code == 200 and ok.json()["status"] == "cancelled"
    assert _api(patient.account).post(f"/api/v1/privacy/requests/{req.public_id}/cancel").status_code == 409


def test_portal_request_and_outcome(demo: Any, persona: Any) -> None:
    patient = _patient()
    portal = _portal(patient.account)
    page = portal.get("/du-lieu-cua-toi")
    assert page.status_code == 200 and "Gửi yêu cầu" in page.content.decode()
    missing = portal.post("/du-lieu-cua-toi", {"patient": str(patient.public_id), "kind": "delete"})
    assert missing.status_code == 400 and "hiểu hệ quả" in missing.content.decode()
    sent = portal.post(
        "/du-lieu-cua-toi", {"patient": str(patient.public_id), "kind": "withdraw", "understood": "on"}
    )
    assert sent.status_code == 302
    page = portal.get("/du-lieu-cua-toi").content.decode()
    assert "Đã gửi yêu cầu" in page and "Hạn trả lời" in page


# --- The desk worklist and the access matrix -------------------------------------------------------------------

# Who answers a request about a patient of Trạm Y tế Thành Đông (PRIVACY_HANDLER_ROLES at it or above).
HANDLES_THANHDONG = {"admin", "syt.lanhdao", "ttyt.lanhdao", "thanhdong.truong"}


@pytest.fixture
def open_request(demo: Any) -> DataSubjectRequest:
    return _request(_patient(name="Phan Thị Yến"))


@pytest.mark.parametrize("username", PERSONAS)
def test_desk_worklist_by_persona(username: str, open_request: DataSubjectRequest, persona: Any) -> None:
    desk = _portal(persona(username))
    listing = desk.get(reverse("admin:privacy_datasubjectrequest_changelist") + "?status__exact=submitted")
    html = listing.content.decode() if listing.status_code == 200 else ""
    detail = desk.get(reverse("admin:privacy_datasubjectrequest_change", args=[open_request.pk]))
    sees = username in HANDLES_THANHDONG
    assert ("Phan Thị Yến" in html) == sees, (username, listing.status_code)
    assert (detail.status_code == 200 and "Phan Thị Yến" in detail.content.decode()) == sees, username
    if sees:
        assert "Hạn trả lời".lower() in html.lower() or "hạn trả lời" in html
        assert AuditLog.objects.filter(
            verb="view", target_type="privacy.datasubjectrequest", actor__username=username
        ).exists()


@pytest.mark.parametrize("username", PERSONAS)
def test_staff_have_no_export_of_their_own(username: str, demo: Any, persona: Any) -> None:
    """Export is the data subject's right: staff accounts read patients through the (audited) desk."""
    api = _api(persona(username))
    assert api.get("/api/v1/privacy/export").status_code == 403
    assert api.post("/api/v1/privacy/requests", {"kind": "delete"}, format="json").status_code == 403
    assert _portal(persona(username)).get("/du-lieu-cua-toi/du-lieu.json").status_code == 404


def test_export_stream_covers_only_the_account(demo: Any) -> None:
    mine = _patient()
    other = _patient(name="Người Khác", phone="+84977300777")
    text = "".join(export_json_stream(user=mine.account))
    assert str(mine.public_id) in text and str(other.public_id) not in text


# --- Retention --------------------------------------------------------------------------------------------------


def _aged(model: Any, field: str, days: float, **values: Any) -> Any:
    row = model.objects.create(**values)
    model.objects.filter(pk=row.pk).update(**{field: timezone.now() - timedelta(days=days)})
    return row


def test_retention_jobs_are_idempotent_batched_and_audited(demo: Any, settings: Any, persona: Any) -> None:
    settings.RETENTION_BATCH_SIZE = 2
    for n in range(5):
        _aged(
            OtpChallenge,
            "created_at",
            30,
            phone=f"+8497730{n:04d}",
            purpose="login",
            code_hash="h",
            expires_at=timezone.now(),
        )
    fresh_otp = OtpChallenge.objects.create(
        phone="+84977301111", purpose="login", code_hash="h", expires_at=timezone.now()
    )
    secret = _aged(OutboxMessage, "created_at", 3, kind="otp", to=PHONE, is_secret=True, body_encrypted=b"x")
    user = persona("bn0000001")
    ApiToken.objects.create(
        user=user, key_hash="a" * 64, prefix="aaaa", expires_at=timezone.now() - timedelta(days=60)
    )
    live_raw, live_token = api_token_issue(user=user)
    _aged(EarlyDeliveryReport, "received_at", 10, provider_message_id="x1", delivered=True)
    Session.objects.create(
        session_key="k" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1)
    )
    old_audit = AuditLog.objects.create(action="view", verb="view", target_type="x", target_id="1")
    AuditLog.objects.filter(pk=old_audit.pk).update(created_at=timezone.now() - timedelta(days=4000))

    runs = retention.retention_run_all()
    counts = {run.kind: run.counts for run in runs}
    assert counts["otp"] == {"otp_challenges": 5}
    assert counts["secret_sms"] == {"secret_bodies_wiped": 1}
    assert counts["api_tokens"] == {"api_tokens": 1}
    assert counts["early_reports"] == {"early_reports": 1}
    assert counts["sessions"] == {"sessions": 1}
    assert counts["audit"]["audit_rows"] == 1
    assert OtpChallenge.objects.filter(pk=fresh_otp.pk).exists()
    secret.refresh_from_db()
    assert secret.body_encrypted is None and secret.status == MessageStatus.EXPIRED
    assert ApiToken.objects.filter(pk=live_token.pk).exists()
    assert AuditLog.objects.filter(verb="retention_otp", data__counts__otp_challenges=5).exists()

    again = retention.retention_run_all()
    assert all(not any(run.counts.values()) for run in again), [run.counts for run in again]
    assert RetentionRun.objects.count() == 2 * len(retention.JOBS)
    assert AuditLog.objects.filter(verb__startswith="retention_").count() == 2 * len(retention.JOBS)


def test_every_retention_setting_is_documented() -> None:
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    for _kind, setting, _value in retention.setting_values():
        assert setting in doc, setting
    for setting in (
        "PRIVACY_REQUEST_RESPONSE_WORKING_DAYS",
        "RETENTION_MEDICAL_RECORD_YEARS",
        "PRIVACY_EXPORT_HOURS",
    ):
        assert setting in doc, setting


def test_working_day_deadline_skips_the_weekend() -> None:
    friday = timezone.make_aware(datetime(2026, 3, 6, 9, 0))
    assert selectors.add_working_days(friday, 2).date() == date(2026, 3, 10)
    sunday = timezone.make_aware(datetime(2026, 3, 8, 9, 0))
    assert selectors.add_working_days(sunday, 2).date() == date(2026, 3, 10)
