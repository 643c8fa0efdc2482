"""Appointments API v1: public facilities, services and slots; booking for oneself, a family member and as a
guest with an OTP; one's list, detail, cancel (cut-off) and reschedule; the staff worklist, confirm,
decline, check-in by code and calling the queue, scoped by facility and role; bad input never answers 5xx.

Time is real (the API reads the clock): the test service works every day 05:00–06:40 (Vietnam time) in
20-minute slots, far from the demo services' hours, and bookings go three days ahead. Public holidays are
removed so a test never lands on one.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from health_f0.appointments import services
from health_f0.appointments.models import (
    Appointment,
    Holiday,
    ScheduleTemplate,
    Service,
    SlotCounter,
)
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.facilities.models import Facility, Membership
from health_f0.facilities.services import facility_save
from health_f0.patients.bonds import phone_bond_record
from health_f0.patients.models import BondMethod, OtpChallenge, Patient
from health_f0.patients.services import patient_create

pytestmark = pytest.mark.django_db

APPOINTMENTS = "/api/v1/appointments"
GUEST = "/api/v1/appointments/guest"
SLOTS = "/api/v1/slots"
STAFF_LIST = "/api/v1/staff/appointments"
CHECK_IN = "/api/v1/staff/check-in"
_seq = count(1)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TZ)


def iso(moment: datetime) -> str:
    return moment.astimezone(LOCAL_TZ).isoformat()


def make_service(facility: Facility, **fields: Any) -> Service:
    defaults: dict[str, Any] = {
        "code": f"api-{next(_seq)}",
        "name": "Khám sớm",
        "short_name": "Kham som",
        "duration_minutes": 20,
        "capacity_per_slot": 2,
        "min_notice_hours": 2,
        "booking_horizon_days": 30,
        "cancel_cutoff_hours": 2,
    }
    defaults.update(fields)
    service = Service.objects.create(facility=facility, **defaults)
    for weekday in range(7):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(5), end_time=time(6, 40)
        )
    return service


def make_account_patient(
    name: str, phone: str, *, born: date = date(1990, 1, 1), station: str = "TYT-10510"
) -> Patient:
    """A patient with a portal account (already past its first password change)."""
    patient = patient_create(
        full_name=name,
        date_of_birth=born,
        sex="female",
        phone=phone,
        facility=Facility.objects.get(code=station),
        province_code=31,
        ward_code=10510,
    )
    user = get_user_model().objects.create_user(
        username=f"bn9{next(_seq):06d}", password="x-Pass-2026", phone=phone, must_change_password=False
    )
    patient.account = user
    patient.save(update_fields=["account"])
    # The phone answered an OTP (patients.bonds): accounts on it act for each other.
    phone_bond_record(patient=patient, phone=phone, method=BondMethod.PORTAL_OTP, actor=None)
    return patient


@pytest.fixture
def appt_demo(demo: Any) -> None:
    call_command("load_appointments_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    Holiday.objects.all().delete()


@pytest.fixture
def clinic(appt_demo: Any) -> Service:
    return make_service(Facility.objects.get(code="PK-NOI1"))


@pytest.fixture
def day() -> date:
    return timezone.localdate() + timedelta(days=3)


@pytest.fixture
def me(appt_demo: Any) -> Patient:
    return Patient.objects.get(account__username="bn0000001")


@pytest.fixture
def as_patient(as_user: Any, appt_demo: Any) -> APIClient:
    client: APIClient = as_user("bn0000001")
    return client


def book(client: APIClient, service: Service, start: datetime, **extra: Any) -> Any:
    return client.post(
        APPOINTMENTS, {"service": str(service.public_id), "slot": iso(start), **extra}, format="json"
    )


def desk_book(persona: Any, patient: Patient, service: Service, start: datetime, **kw: Any) -> Appointment:
    return services.appointment_book(
        patient=patient, service=service, slot_start=start, channel="phone", actor=persona("datlich"), **kw
    )


def codes(response: Any, field: str) -> list[str]:
    return [e["code"] for e in response.json()["errors"][field]]


# --- Public: facilities, services, slots --------------------------------------------------------------


def test_facilities_list_is_public_and_survives_a_stale_token(appt_demo: Any, client_api: APIClient) -> None:
    client_api.credentials(HTTP_AUTHORIZATION="Bearer stale")
    response = client_api.get("/api/v1/facilities")
    assert response.status_code == 200
    rows = {row["code"]: row for row in response.json()}
    centre = Facility.objects.get(code="TTYT-HD")
    assert set(rows) == {"TTYT-HD"}
    assert rows["TTYT-HD"]["id"] == str(centre.public_id)
    assert rows["TTYT-HD"]["hotline"] == centre.hotline and rows["TTYT-HD"]["address"] == centre.address


def test_services_of_a_facility_never_show_the_meeting_url(appt_demo: Any, client_api: APIClient) -> None:
    centre = Facility.objects.get(code="TTYT-HD")
    Service.objects.filter(code="kham-nhi").update(is_active=False)
    response = client_api.get(f"/api/v1/facilities/{centre.public_id}/services")
    assert response.status_code == 200
    by_name = {row["name"]: row for row in response.json()}
    assert "Khám Nhi" not in by_name
    online = by_name["Tư vấn sức khoẻ trực tuyến"]
    assert online["is_online"] is True and online["kind"] == "online"
    assert by_name["Khám Nội"]["is_online"] is False
    assert by_name["Khám Nội"]["duration_minutes"] == 15 and by_name["Khám Nội"]["capacity_per_slot"] == 3
    assert by_name["Khám Nội"]["room"]["code"] == "PK-NOI1"
    assert "meet.jit.si" not in response.content.decode() and "meeting_url" not in online
    for bad in ("not-a-uuid", "7d8f1c1e-0000-4000-8000-000000000000"):
        missing = client_api.get(f"/api/v1/facilities/{bad}/services")
        assert missing.status_code == 404 and missing.json()["detail"] == "Không tìm thấy cơ sở y tế."


def test_slots_of_a_day_with_free_places(
    clinic: Service, day: date, me: Patient, persona: Any, client_api: APIClient
) -> None:
    desk_book(persona, me, clinic, at(day, 5))
    response = client_api.get(SLOTS, {"service": str(clinic.public_id), "date": day.isoformat()})
    assert response.status_code == 200
    body = response.json()
    assert body["message"] is None and body["date"] == day.isoformat()
    assert [(s["start"], s["free"]) for s in body["slots"]] == [
        (iso(at(day, 5)), 1),
        (iso(at(day, 5, 20)), 2),
        (iso(at(day, 5, 40)), 2),
        (iso(at(day, 6)), 2),
        (iso(at(day, 6, 20)), 2),
    ]
    assert body["slots"][0]["end"] == iso(at(day, 5, 20)) and body["slots"][0]["capacity"] == 2
    assert body["bookable_until"] == (timezone.localdate() + timedelta(days=30)).isoformat()


def test_slots_outside_the_window_are_empty_with_a_message(clinic: Service, client_api: APIClient) -> None:
    today = timezone.localdate()
    past = client_api.get(
        SLOTS, {"service": str(clinic.public_id), "date": (today - timedelta(days=1)).isoformat()}
    )
    assert past.status_code == 200 and past.json()["slots"] == [] and "đã qua" in past.json()["message"]
    far = client_api.get(
        SLOTS, {"service": str(clinic.public_id), "date": (today + timedelta(days=31)).isoformat()}
    )
    assert far.status_code == 200 and far.json()["slots"] == []
    assert f"{today + timedelta(days=30):%d/%m/%Y}" in far.json()["message"]


def test_slots_bad_parameters_answer_400_in_vietnamese(clinic: Service, client_api: APIClient) -> None:
    missing = client_api.get(SLOTS)
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) == {"service", "date"}
    assert not missing.json()["errors"]["date"][0]["message"].isascii()  # Vietnamese
    bad = client_api.get(SLOTS, {"service": "x", "date": "31/12/2026"})
    assert bad.status_code == 400
    assert "YYYY-MM-DD" in bad.json()["errors"]["date"][0]["message"]
    assert not bad.json()["errors"]["service"][0]["message"].isascii()
    unknown = client_api.get(SLOTS, {"service": "7d8f1c1e-0000-4000-8000-000000000000", "date": "2026-01-01"})
    assert unknown.status_code == 404


# --- Patient: booking, list, detail -------------------------------------------------------------------


def test_book_for_oneself_then_list_and_detail(
    clinic: Service,
    day: date,
    me: Patient,
    as_patient: APIClient,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = book(as_patient, clinic, at(day, 5, 20), reason="Đau đầu")
    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.get(public_id=body["id"])
    assert body["status"] == "requested" and body["check_in_code"] == appointment.check_in_code
    assert body["slot_start"] == iso(at(day, 5, 20)) and body["service"]["id"] == str(clinic.public_id)
    assert body["patient"]["id"] == str(me.public_id) and body["change_deadline"] is not None
    assert appointment.channel == "app" and appointment.reason == "Đau đầu"
    # The steps open to the patient come from the appointment workflow (the desk's steps are not theirs).
    assert body["actions"] == ["cancel", "reschedule"]
    assert "cho xac nhan" in sms.last(to=me.phone, kind="appointment")["body"]
    listed = as_patient.get(APPOINTMENTS).json()
    assert listed["count"] == Appointment.objects.filter(patient=me).count() >= 2  # + the demo's bookings
    starts = [row["slot_start"] for row in listed["results"]]
    assert starts == sorted(starts, reverse=True)
    detail = as_patient.get(f"{APPOINTMENTS}/{body['id']}")
    assert detail.status_code == 200 and detail.json()["reason"] == "Đau đầu"
    assert SlotCounter.objects.get(service=clinic, slot_start=at(day, 5, 20)).booked == 1


def test_full_slot_answers_409_slot_full(
    clinic: Service, day: date, as_patient: APIClient, persona: Any
) -> None:
    for i in range(2):
        desk_book(persona, make_account_patient(f"Người {i}", f"+8498100000{i}"), clinic, at(day, 5))
    response = book(as_patient, clinic, at(day, 5))
    assert response.status_code == 409
    assert response.json()["code"] == "slot_full"
    assert response.json()["detail"] == "Khung giờ này đã đủ người, vui lòng chọn giờ khác."


def test_overlapping_booking_answers_409_overlap(clinic: Service, day: date, as_patient: APIClient) -> None:
    other = make_service(Facility.objects.get(code="PK-NHI"))
    assert book(as_patient, clinic, at(day, 5)).status_code == 201
    response = book(as_patient, other, at(day, 5))
    assert response.status_code == 409 and response.json()["code"] == "overlap"


def test_slot_or_service_that_is_not_bookable_answers_400(
    clinic: Service, day: date, as_patient: APIClient
) -> None:
    odd = book(as_patient, clinic, at(day, 5, 7))
    assert odd.status_code == 400 and odd.json()["code"] == "slot_unavailable"
    assert "errors" in odd.json() and "slot" in odd.json()["errors"]
    too_far = book(as_patient, clinic, at(day + timedelta(days=40), 5))
    assert too_far.status_code == 400 and too_far.json()["code"] == "slot_unavailable"
    clinic.is_active = False
    clinic.save(update_fields=["is_active"])
    gone = book(as_patient, clinic, at(day, 5))
    assert gone.status_code == 400 and codes(gone, "service") == ["service_not_found"]
    bad = as_patient.post(APPOINTMENTS, {"service": str(clinic.public_id), "slot": "ngày mai"}, format="json")
    assert bad.status_code == 400 and codes(bad, "slot") == ["invalid"]
    assert "ISO 8601" in bad.json()["errors"]["slot"][0]["message"]


def test_family_booking_and_other_families_are_not_found(
    clinic: Service, day: date, me: Patient, as_patient: APIClient, as_user: Any
) -> None:
    child = make_account_patient("Nguyễn Minh Anh", me.phone, born=date(2015, 6, 1))
    response = book(as_patient, clinic, at(day, 6), patient=str(child.public_id))
    assert response.status_code == 201 and response.json()["patient"]["id"] == str(child.public_id)
    ids = {row["patient"]["id"] for row in as_patient.get(APPOINTMENTS).json()["results"]}
    assert str(child.public_id) in ids and str(me.public_id) in ids
    stranger = make_account_patient("Hoàng Văn Tư", "+84981777666")
    refused = book(as_patient, clinic, at(day, 6, 20), patient=str(stranger.public_id))
    assert refused.status_code == 400 and codes(refused, "patient") == ["patient_not_found"]
    # The stranger sees none of this family's bookings, and cannot act on them.
    other = as_user(stranger.account.username)
    assert other.get(APPOINTMENTS).json()["count"] == 0
    appointment_id = response.json()["id"]
    assert other.get(f"{APPOINTMENTS}/{appointment_id}").status_code == 404
    assert other.post(f"{APPOINTMENTS}/{appointment_id}/cancel", {}, format="json").status_code == 404
    assert other.get(f"{APPOINTMENTS}/not-a-uuid").status_code == 404


def test_patient_endpoints_need_a_patient_account(
    clinic: Service, as_user: Any, client_api: APIClient
) -> None:
    assert client_api.get(APPOINTMENTS).status_code == 401
    assert client_api.post(APPOINTMENTS, {}, format="json").status_code == 401
    staff = as_user("datlich")
    response = staff.get(APPOINTMENTS)
    assert response.status_code == 403 and "nhân viên y tế dùng bàn làm việc" in response.json()["detail"]


# --- Patient: cancel and reschedule --------------------------------------------------------------------


def test_cancel_frees_the_seat_and_twice_is_409(
    clinic: Service,
    day: date,
    me: Patient,
    as_patient: APIClient,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    appointment_id = book(as_patient, clinic, at(day, 5)).json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        response = as_patient.post(
            f"{APPOINTMENTS}/{appointment_id}/cancel", {"reason": "Bận việc"}, format="json"
        )
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled" and response.json()["cancel_source"] == "patient"
    assert response.json()["change_deadline"] is None and response.json()["actions"] == []
    assert "da huy" in sms.last(to=me.phone, kind="appointment")["body"]
    assert SlotCounter.objects.get(service=clinic, slot_start=at(day, 5)).booked == 0
    again = as_patient.post(f"{APPOINTMENTS}/{appointment_id}/cancel", {}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"


def test_cancel_and_reschedule_after_the_cutoff_are_refused(
    appt_demo: Any, day: date, as_patient: APIClient
) -> None:
    strict = make_service(Facility.objects.get(code="PK-NOI1"), cancel_cutoff_hours=24 * 5)
    appointment_id = book(as_patient, strict, at(day, 5)).json()["id"]
    cancel = as_patient.post(f"{APPOINTMENTS}/{appointment_id}/cancel", {}, format="json")
    assert cancel.status_code == 409 and cancel.json()["code"] == "cutoff_passed"
    assert "120 giờ" in cancel.json()["detail"]
    move = as_patient.post(
        f"{APPOINTMENTS}/{appointment_id}/reschedule", {"slot": iso(at(day, 6))}, format="json"
    )
    assert move.status_code == 409 and move.json()["code"] == "cutoff_passed"
    assert Appointment.objects.get(public_id=appointment_id).status == "requested"
    # Past the cut-off the patient's own steps are closed, and the API says so the same way.
    detail = as_patient.get(f"{APPOINTMENTS}/{appointment_id}").json()
    assert detail["change_deadline"] is None and detail["actions"] == []


def test_reschedule_moves_the_seat(
    clinic: Service, day: date, me: Patient, as_patient: APIClient, persona: Any
) -> None:
    appointment_id = book(as_patient, clinic, at(day, 5)).json()["id"]
    url = f"{APPOINTMENTS}/{appointment_id}/reschedule"
    response = as_patient.post(url, {"slot": iso(at(day + timedelta(days=1), 6, 20))}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["slot_start"] == iso(at(day + timedelta(days=1), 6, 20))
    counters = dict(SlotCounter.objects.filter(service=clinic).values_list("slot_start", "booked"))
    assert counters[at(day, 5)] == 0 and counters[at(day + timedelta(days=1), 6, 20)] == 1
    same = as_patient.post(url, {"slot": iso(at(day + timedelta(days=1), 6, 20))}, format="json")
    assert same.status_code == 400 and same.json()["code"] == "same_slot"
    for i in range(2):
        desk_book(persona, make_account_patient(f"Kín {i}", f"+8498200000{i}"), clinic, at(day, 6))
    full = as_patient.post(url, {"slot": iso(at(day, 6))}, format="json")
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    missing = as_patient.post(url, {}, format="json")
    assert missing.status_code == 400 and codes(missing, "slot") == ["required"]


# --- Guest booking with an OTP -----------------------------------------------------------------------


def _guest_body(clinic: Service, start: datetime, otp: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "service": str(clinic.public_id),
        "slot": iso(start),
        "full_name": "nguyễn thị lan",
        "date_of_birth": "1970-03-08",
        "sex": "female",
        "phone": "0977 123 456",
        "otp": otp,
        "consent": True,
    }
    body.update(overrides)
    return body


def _otp(client: APIClient, sms: Any, capture: Any, phone: str = "0977123456") -> str:
    with capture(execute=True):
        response = client.post("/api/v1/otp", {"phone": phone, "purpose": "booking"}, format="json")
    assert response.status_code == 202, response.json()
    return str(sms.last_otp(to="+84977123456" if phone == "0977123456" else phone))


def test_guest_books_with_an_otp_and_becomes_a_patient(
    clinic: Service,
    day: date,
    client_api: APIClient,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    wrong = client_api.post(
        GUEST, _guest_body(clinic, at(day, 5), "000000" if code != "000000" else "111111"), format="json"
    )
    assert wrong.status_code == 400 and codes(wrong, "otp") == ["otp_invalid"]
    with django_capture_on_commit_callbacks(execute=True):
        response = client_api.post(
            GUEST, _guest_body(clinic, at(day, 5), code, bhyt="0123456789"), format="json"
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    appointment = Appointment.objects.select_related("patient__facility").get(public_id=body["id"])
    patient = appointment.patient
    assert (
        patient.full_name == "Nguyễn Thị Lan"
        and patient.phone == "+84977123456"
        and patient.bhyt == "0123456789"
    )
    assert patient.account_id is None and patient.facility.code == "TTYT-HD"
    assert appointment.channel == "app" and body["status"] == "requested" and body["check_in_code"]
    assert "cho xac nhan" in sms.last(to="+84977123456", kind="appointment")["body"]
    # The code served one booking.
    reuse = client_api.post(GUEST, _guest_body(clinic, at(day, 6), code), format="json")
    assert reuse.status_code == 400 and reuse.json()["errors"]["otp"][0]["code"] in {
        "otp_missing",
        "otp_used",
    }


def test_guest_matching_an_existing_patient_and_a_full_slot_keeps_the_otp(
    clinic: Service,
    day: date,
    persona: Any,
    client_api: APIClient,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    known = patient_create(
        full_name="Nguyễn Thị Lan",
        date_of_birth=date(1970, 3, 8),
        sex="female",
        phone="+84977123456",
        facility=Facility.objects.get(code="TYT-10510"),
        province_code=31,
        ward_code=10510,
    )
    for i in range(2):
        desk_book(persona, make_account_patient(f"Đủ {i}", f"+8498300000{i}"), clinic, at(day, 5))
    code = _otp(client_api, sms, django_capture_on_commit_callbacks)
    full = client_api.post(GUEST, _guest_body(clinic, at(day, 5), code), format="json")
    assert full.status_code == 409 and full.json()["code"] == "slot_full"
    patients_before = Patient.objects.count()
    response = client_api.post(
        GUEST, _guest_body(clinic, at(day, 5, 20), code, full_name="NGUYEN THI  LAN"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["patient"]["id"] == str(known.public_id)
    assert Patient.objects.count() == patients_before
    assert OtpChallenge.objects.get(phone="+84977123456", purpose="booking").consumed_at is not None


def test_guest_input_is_checked_before_the_otp(clinic: Service, day: date, client_api: APIClient) -> None:
    response = client_api.post(
        GUEST,
        _guest_body(
            clinic, at(day, 5), "123456", full_name="A1", date_of_birth="2999-01-01", phone="12345", cccd="12"
        ),
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"full_name", "date_of_birth", "phone", "cccd"}
    assert not OtpChallenge.objects.exists()
    missing = client_api.post(GUEST, {}, format="json")
    assert missing.status_code == 400
    assert set(missing.json()["errors"]) >= {
        "service",
        "slot",
        "full_name",
        "date_of_birth",
        "sex",
        "phone",
        "otp",
    }


# --- Staff: worklist, confirm, decline ---------------------------------------------------------------


def _other_centre_desk() -> Any:
    """A booking desk of another health centre (TTYT) of the same province."""
    syt = Facility.objects.get(code="SYT-31")
    centre = facility_save(
        facility=Facility(
            kind="ttyt", code="TTYT-KM", name="Trung tâm Y tế Kinh Môn", parent=syt, province_code=31
        )
    )
    user = get_user_model().objects.create_user(username="datlich.km", password="x-Pass-2026")
    Membership.objects.create(user=user, facility=centre, role="booking_desk")
    return user


def test_desk_worklist_confirm_and_decline(
    clinic: Service,
    day: date,
    me: Patient,
    as_patient: APIClient,
    as_user: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    first = book(as_patient, clinic, at(day, 5)).json()["id"]
    second = book(as_patient, clinic, at(day, 6)).json()["id"]
    desk = as_user("datlich")
    listed = desk.get(STAFF_LIST, {"facility": str(Facility.objects.get(code="TTYT-HD").public_id)})
    assert listed.status_code == 200
    rows = [r for r in listed.json()["results"] if r["service"]["id"] == str(clinic.public_id)]
    assert [r["id"] for r in rows] == [first, second]  # oldest request first
    assert rows[0]["patient"]["phone"] == "0912 345 678" and rows[0]["past_visits"] == 0
    assert rows[0]["channel"] == "app" and rows[0]["status"] == "requested"
    assert rows[0]["actions"] == ["confirm", "decline", "cancel", "reschedule"]  # check-in is reception's
    elsewhere = desk.get(STAFF_LIST, {"facility": str(Facility.objects.get(code="TYT-10510").public_id)})
    assert elsewhere.json()["count"] == 0

    with django_capture_on_commit_callbacks(execute=True):
        confirmed = desk.post(f"{STAFF_LIST}/{first}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert "da duoc xac nhan" in sms.last(to=me.phone, kind="appointment")["body"]
    assert desk.post(f"{STAFF_LIST}/{first}/confirm").json()["code"] == "invalid_transition"
    assert desk.post(f"{STAFF_LIST}/{first}/confirm").status_code == 409
    confirmed_list = desk.get(STAFF_LIST, {"status": "confirmed", "date": day.isoformat()}).json()
    assert first in [r["id"] for r in confirmed_list["results"]]

    short = desk.post(f"{STAFF_LIST}/{second}/decline", {"reason": "x"}, format="json")
    assert short.status_code == 400 and short.json()["code"] == "reason_required"
    with django_capture_on_commit_callbacks(execute=True):
        declined = desk.post(f"{STAFF_LIST}/{second}/decline", {"reason": "Bác sĩ nghỉ phép"}, format="json")
    assert declined.status_code == 200
    assert declined.json()["status"] == "cancelled" and declined.json()["cancel_source"] == "declined"
    assert "Bac si nghi phep" in sms.last(to=me.phone, kind="appointment")["body"]
    assert as_patient.get(f"{APPOINTMENTS}/{second}").json()["cancel_reason"] == "Bác sĩ nghỉ phép"


def test_staff_scoping_and_roles(clinic: Service, day: date, as_patient: APIClient, as_user: Any) -> None:
    appointment_id = book(as_patient, clinic, at(day, 5)).json()["id"]
    other_desk = APIClient()
    from health_f0.api.services import api_token_issue

    raw, _ = api_token_issue(user=_other_centre_desk())
    other_desk.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert other_desk.get(STAFF_LIST).json()["count"] == 0
    assert other_desk.post(f"{STAFF_LIST}/{appointment_id}/confirm").status_code == 404
    assert (
        other_desk.post(
            f"{STAFF_LIST}/{appointment_id}/decline", {"reason": "Không rõ lý do"}, format="json"
        ).status_code
        == 404
    )
    # Wrong role: a station nurse and a clinician may not confirm; reception may.
    nurse = as_user("thanhdong.nv")
    assert nurse.get(STAFF_LIST).status_code == 403
    refused = nurse.post(f"{STAFF_LIST}/{appointment_id}/confirm")
    assert refused.status_code == 403 and "đặt lịch" in refused.json()["detail"]
    assert as_user("bacsi.noi").post(f"{STAFF_LIST}/{appointment_id}/confirm").status_code == 403
    assert as_patient.get(STAFF_LIST).status_code == 403
    assert as_user("tiepdon").post(f"{STAFF_LIST}/{appointment_id}/confirm").status_code == 200
    assert as_user("datlich").post(f"{STAFF_LIST}/not-a-uuid/confirm").status_code == 404
    bad_filter = as_user("datlich").get(STAFF_LIST, {"status": "nonsense", "facility": "x"})
    assert bad_filter.status_code == 400 and set(bad_filter.json()["errors"]) == {"status", "facility"}


# --- Staff: check-in by code and calling the queue ---------------------------------------------------


def test_check_in_by_code_then_call_next(
    clinic: Service,
    me: Patient,
    persona: Any,
    as_user: Any,
    sms: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    today = timezone.localdate()
    start_of_day = at(today, 0)
    booked = desk_book(persona, me, clinic, at(today, 5), now=start_of_day)
    later = desk_book(persona, me, clinic, at(today + timedelta(days=2), 5), now=start_of_day)
    walk_in = services.walk_in_register(
        patient=make_account_patient("Vãng Lai", "+84984000001"), service=clinic, actor=persona("tiepdon")
    )
    reception = as_user("tiepdon")
    assert as_user("datlich").post(CHECK_IN, {"code": booked.check_in_code}, format="json").status_code == 403
    typed = f"{booked.check_in_code[:4].lower()}-{booked.check_in_code[4:].lower()} "
    with django_capture_on_commit_callbacks(execute=True):
        response = reception.post(CHECK_IN, {"code": typed}, format="json")
    assert response.status_code == 200, response.json()
    assert (
        response.json()["status"] == "checked_in"
        and response.json()["queue_number"] == walk_in.queue_number + 1
    )
    assert "So thu tu" in sms.last(to=me.phone, kind="appointment")["body"]
    again = reception.post(CHECK_IN, {"code": booked.check_in_code}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_transition"
    not_today = reception.post(CHECK_IN, {"code": later.check_in_code}, format="json")
    assert not_today.status_code == 400 and not_today.json()["code"] == "not_today"
    unknown = reception.post(CHECK_IN, {"code": "ZZZZ9999"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["detail"] == "Không tìm thấy lịch hẹn với mã này."
    assert reception.post(CHECK_IN, {}, format="json").status_code == 400

    patient_api = as_user("bn0000001")
    mine = f"/api/v1/appointments/{booked.public_id}"
    assert patient_api.get(mine).json()["queue"] == {"called": False, "ahead": 0, "now_calling": None}
    assert patient_api.get(f"/api/v1/appointments/{later.public_id}").json()["queue"] is None
    queue = f"/api/v1/staff/queue/{clinic.public_id}/next"
    assert as_user("datlich").post(queue).status_code == 403
    first = reception.post(queue)
    assert first.status_code == 200
    assert patient_api.get(mine).json()["queue"] == {
        "called": True,
        "ahead": 0,
        "now_calling": response.json()["queue_number"],
    }
    # Booked patients first (the service's default), then the walk-in.
    assert first.json()["ticket"]["queue_number"] == response.json()["queue_number"]
    assert first.json()["ticket"]["is_walk_in"] is False and first.json()["waiting"] == 1
    second = as_user("bacsi.noi").post(queue)
    assert second.status_code == 200 and second.json()["ticket"]["is_walk_in"] is True
    empty = reception.post(queue)
    assert empty.status_code == 200 and empty.json() == {"ticket": None, "waiting": 0}
    assert reception.post("/api/v1/staff/queue/7d8f1c1e-0000-4000-8000-000000000000/next").status_code == 404
    assert reception.post("/api/v1/staff/queue/nope/next").status_code == 404


# --- Bad input never answers 5xx ---------------------------------------------------------------------

GARBAGE: list[Any] = [
    [],
    "x",
    1,
    None,
    {"service": None, "slot": None},
    {"service": "x" * 5000, "slot": "9" * 400},
    {"slot": "9999-12-31T23:59:59+14:00"},
    {"slot": "0001-01-01T00:00:00-12:00"},
    {"slot": "2026-02-30T08:00:00"},
    {"slot": {"a": 1}, "patient": ["x"], "reason": {"b": 2}},
    {"slot": "2026-11-23T08:00:00.123456789+07:00", "patient": "00000000-0000-0000-0000-000000000000"},
    {"code": "\u0000", "reason": "\u0000"},
    {"code": "🙂" * 20, "date_of_birth": "0000-01-01", "sex": 1, "otp": 123456},
]


@pytest.mark.parametrize("payload", GARBAGE)
def test_bad_input_never_answers_5xx(
    payload: Any, clinic: Service, day: date, as_patient: APIClient, as_user: Any, client_api: APIClient
) -> None:
    appointment_id = book(as_patient, clinic, at(day, 5)).json()["id"]
    desk, reception = as_user("datlich"), as_user("tiepdon")
    if isinstance(payload, dict):
        payload = {"service": str(clinic.public_id), **payload}
    calls = [
        (as_patient, APPOINTMENTS),
        (as_patient, f"{APPOINTMENTS}/{appointment_id}/reschedule"),
        (as_patient, f"{APPOINTMENTS}/{appointment_id}/cancel"),
        (client_api, GUEST),
        (desk, f"{STAFF_LIST}/{appointment_id}/decline"),
        (reception, CHECK_IN),
    ]
    for client, url in calls:
        response = client.post(url, payload, format="json")
        assert response.status_code < 500, (url, response.status_code)
        assert response.status_code < 400 or "detail" in response.json()
    raw = as_patient.post(APPOINTMENTS, "{not json", content_type="application/json")
    assert raw.status_code == 400 and raw.json()["detail"] == "Dữ liệu gửi lên không đúng định dạng JSON."
    surrogate = b'{"slot": "\\ud800", "reason": "\\ud800"}'  # a lone surrogate, escaped in JSON
    for client, url in ((as_patient, APPOINTMENTS), (client_api, GUEST)):
        assert client.post(url, surrogate, content_type="application/json").status_code == 400
    for params in (
        {"service": str(clinic.public_id), "date": "9999-12-31"},
        {"date": "0001-01-01", "service": "1"},
    ):
        assert client_api.get(SLOTS, params).status_code < 500


def test_the_booking_lists_are_plain_data_with_the_deadline_as_drf_writes_it(
    clinic: Service, day: date, as_patient: APIClient
) -> None:
    """The change deadline was a datetime left to the renderer, which sent the whole page down DRF's slower
    encoder (api/renderers.py); it is now written as that encoder writes it, in both versions and the detail."""
    from rest_framework.utils.encoders import JSONEncoder

    from health_f0.api.renderers import plain_data
    from health_f0.appointments.transitions import change_deadline

    created = book(as_patient, clinic, at(day, 5, 20)).json()
    appointment = Appointment.objects.get(public_id=created["id"])
    expected = JSONEncoder().default(timezone.localtime(change_deadline(appointment)))
    assert expected.endswith("+07:00")
    for url in (
        APPOINTMENTS,
        APPOINTMENTS.replace("/api/v1/", "/api/v2/"),
        f"{APPOINTMENTS}/{created['id']}",
    ):
        response = as_patient.get(url)
        assert response.status_code == 200, url
        assert plain_data(response.data) is not None, url
        body = response.json()
        rows = body.get("results", [body])
        assert next(r for r in rows if r["id"] == created["id"])["change_deadline"] == expected, url
