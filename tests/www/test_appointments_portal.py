"""The patient's side of appointments in the portal, through Django's test client: each booking step (GET
links, works without JS), the guest form with OTP, the account's family choice, the booking page with its
QR code, the OTP gate of the SMS link, cancel and reschedule until the cut-off, the list with re-exams.

Times are relative to the real clock (the views read it): the tests pick days that are open for booking."""

from __future__ import annotations

import os
import re
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import (
    Appointment,
    Holiday,
    ScheduleOverride,
    ScheduleTemplate,
    Service,
    Status,
)
from health_f0.appointments.slots import LOCAL_TZ
from health_f0.facilities.models import Facility
from health_f0.monitoring.services import reset_caches
from health_f0.patients.models import OtpChallenge, Patient
from health_f0.patients.otp import _resend_key

pytestmark = pytest.mark.django_db

GUEST_PHONE = "0977 123 456"
GUEST_E164 = "+84977123456"


def html(response: Any) -> str:
    return response.content.decode()


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html(response)))


def make_service(room: str = "PK-NOI1", **fields: Any) -> Service:
    """A service open every day 07:00-11:30 (so a test never depends on the weekday it runs)."""
    defaults: dict[str, Any] = {
        "code": f"t-{uuid.uuid4().hex[:8]}",
        "name": "Khám Tai Mũi Họng",
        "short_name": "Kham TMH",
        "duration_minutes": 30,
        "capacity_per_slot": 2,
        "min_notice_hours": 2,
        "booking_horizon_days": 14,
        "cancel_cutoff_hours": 2,
    }
    defaults.update(fields)
    service = Service.objects.create(facility=Facility.objects.get(code=room), **defaults)
    for weekday in range(7):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(7), end_time=time(11, 30)
        )
    return service


def open_day(service: Service, after: int = 4) -> date:
    """The first day at least `after` days ahead with free places (skips public holidays; the demo patient
    has bookings 2 and 10 days ahead)."""
    first = timezone.localdate() + timedelta(days=after)
    for day in appt_selectors.booking_days(service=service):
        if day.day >= first and day.state == "open":
            return day.day
    raise AssertionError("no open day")


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=LOCAL_TZ)


def centre() -> Facility:
    return Facility.objects.get(code="TTYT-HD")


def book_url(service: Service | None = None, day: date | None = None, hhmm: str = "") -> str:
    params = [f"co-so={centre().public_id}"]
    if service is not None:
        params.append(f"dich-vu={service.public_id}")
    if day is not None:
        params.append(f"ngay={day.isoformat()}")
    if hhmm:
        params.append(f"gio={hhmm}")
    return "/dat-lich?" + "&".join(params)


@pytest.fixture
def hung(demo: Any) -> Patient:
    reset_caches()
    return Patient.objects.select_related("account").get(account__username="bn0000001")


@pytest.fixture
def portal(hung: Patient) -> Client:
    client = Client()
    client.force_login(hung.account)
    return client


@pytest.fixture
def service(demo: Any) -> Service:
    return make_service()


@pytest.fixture
def demo_bookings(demo: Any) -> None:
    """The demo's appointment services, a request and a re-exam plan for bn0000001 (2 and 10 days ahead)."""
    call_command("load_appointments_demo", stdout=open(os.devnull, "w"))  # noqa: SIM115


@pytest.fixture
def get_otp(sms: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """Press "Nhận OTP" on a page and return the code texted to `e164`."""

    def get(client: Client, url: str, data: dict[str, Any], e164: str = GUEST_E164) -> str:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, {**data, "action": "otp"})
        assert response.status_code == 200, html(response)[:3000]
        return sms.last_otp(e164)

    return get


def guest_data(**overrides: Any) -> dict[str, Any]:
    data = {
        "full_name": "Lê Thị Hoa",
        "date_of_birth": "12/03/1985",
        "sex": "female",
        "phone": GUEST_PHONE,
        "cccd": "",
        "bhyt": "",
        "reason": "Đau họng 3 ngày",
        "consent": "on",
        "otp": "",
        "action": "submit",
    }
    data.update(overrides)
    return data


def guest_book(client: Client, get_otp: Any, service: Service, day: date, hhmm: str = "08:00") -> Appointment:
    url = book_url(service, day, hhmm)
    code = get_otp(client, url, guest_data())
    response = client.post(url, guest_data(otp=code))
    assert response.status_code == 302, text(response)[:3000]
    return Appointment.objects.get(public_id=response["Location"].rsplit("/", 1)[1])


# --- The steps ---------------------------------------------------------------------------------------


def test_home_and_me_link_to_booking(hung: Patient, portal: Client) -> None:
    assert 'href="/dat-lich"' in html(Client().get("/"))
    page = html(portal.get("/ca-nhan"))
    assert 'href="/dat-lich"' in page and 'href="/lich-hen"' in page


def test_step_1_lists_the_centre_with_its_address(service: Service) -> None:
    response = Client().get("/dat-lich")
    assert response.status_code == 200
    page = text(response)
    assert "Bước 1 trên 5" in page and "Chọn cơ sở khám bệnh" in page
    assert "Trung tâm Y tế khu vực Hải Dương" in page and "Số 1 Nguyễn Lương Bằng" in page
    assert f"co-so={centre().public_id}" in html(response)
    assert "Trạm Y tế phường Thành Đông" not in page  # no service there


def test_step_2_lists_services_with_room_and_duration(service: Service, demo_bookings: None) -> None:
    response = Client().get(book_url())
    page = text(response)
    assert response.status_code == 200 and "Chọn dịch vụ khám" in page
    assert "Khám Tai Mũi Họng" in page and "Phòng khám Nội 1" in page and "30 phút mỗi lượt" in page
    assert "Khám Nhi" in page  # the demo's services too
    assert f"dich-vu={service.public_id}" in html(response)


def test_step_3_days_until_the_horizon_with_holidays_closed(service: Service) -> None:
    holiday = open_day(service, after=5)
    Holiday.objects.update_or_create(date=holiday, defaults={"name": "Ngày lễ thử nghiệm"})
    response = Client().get(book_url(service))
    assert response.status_code == 200
    page = html(response)
    today = timezone.localdate()
    assert f"{today:%d/%m/%Y}" in page
    assert f"{today + timedelta(days=14):%d/%m/%Y}" in page
    assert f"{today + timedelta(days=15):%d/%m/%Y}" not in page  # past the horizon
    assert "Nghỉ lễ: Ngày lễ thử nghiệm" in text(response)
    assert f"ngay={holiday.isoformat()}" not in page  # a closed day is not a link
    good = open_day(service)
    assert f"ngay={good.isoformat()}" in page
    # Asking for the holiday anyway is a clear 400, not a list of times.
    refused = Client().get(book_url(service, holiday))
    assert refused.status_code == 400
    assert "nghỉ (Ngày lễ thử nghiệm), không nhận đặt lịch" in text(refused)


def test_step_4_times_with_free_places_and_full_ones_disabled(service: Service, hung: Patient) -> None:
    full = make_service(capacity_per_slot=1, name="Khám Mắt")
    day = open_day(full)
    appt_services.appointment_book(
        patient=hung, service=full, slot_start=at(day, 8), channel="web", actor=hung.account
    )
    response = Client().get(book_url(full, day))
    assert response.status_code == 200
    page = html(response)
    assert "Buổi sáng" in page
    assert re.search(r'<span class="slot slot-full"><span class="slot-time">08:00</span>', page)
    assert "gio=08%3A00" not in page and "gio=08%3A30" in page
    assert "còn 1 chỗ" in text(response)
    # Going straight to the full time: 409 and the times again, with the message.
    taken = Client().get(book_url(full, day, "08:00"))
    assert taken.status_code == 409
    assert "Khung giờ này đã đủ người" in text(taken) and "gio=08%3A30" in html(taken)


@pytest.mark.parametrize(
    "query",
    [
        "co-so=abc",
        "co-so=00000000-0000-4000-8000-000000000000",
        "co-so={centre}&dich-vu=not-a-uuid",
        "co-so={centre}&dich-vu={other}",
        "co-so={centre}&dich-vu={service}&ngay=2026-13-45",
        "co-so={centre}&dich-vu={service}&ngay=hôm-nay",
        "co-so={centre}&dich-vu={service}&ngay=2999-01-01",
        "co-so={centre}&dich-vu={service}&ngay=2001-01-01",
        "co-so={centre}&dich-vu={service}&ngay={day}&gio=25:99",
        "co-so={centre}&dich-vu={service}&ngay={day}&gio=abc",
        "co-so={centre}&dich-vu={service}&ngay={day}&gio=08:10",
        "co-so={centre}&dich-vu={service}&ngay={day}&gio=20:00",
    ],
)
def test_bad_parameters_are_400_with_a_message(service: Service, query: str) -> None:
    other = Service.objects.create(facility=Facility.objects.get(code="SYT-31"), code="x", name="Khác")
    url = "/dat-lich?" + query.format(
        centre=centre().public_id, service=service.public_id, other=other.public_id, day=open_day(service)
    )
    response = Client().get(url)
    assert response.status_code == 400, url
    assert 'role="alert"' in html(response)
    assert re.search("Vui lòng chọn|không nằm trong|không hợp lệ|Không tìm thấy", text(response))
    # A POST to a broken step is refused the same way.
    assert Client().post(url, guest_data()).status_code == 400


def test_a_time_no_longer_offered_goes_back_to_that_days_times(service: Service, get_otp: Any) -> None:
    """A time that passed while the patient filled step 5 (or was never offered) brings back that day's
    times with the message, keeping the facility, service and day: not the first step."""
    today_service = make_service(min_notice_hours=0, duration_minutes=15, name="Khám Da liễu")
    first = open_today(today_service)
    gone = first - timedelta(minutes=15)  # before today's opening: not offered (as a passed time is not)
    url = book_url(today_service, first.date(), f"{gone:%H:%M}")
    for response in (Client().get(url), Client().post(url, guest_data())):
        assert response.status_code == 400
        page = text(response)
        assert "đã quá giờ nhận đặt lịch. Vui lòng chọn giờ khác." in page
        assert "Bắt đầu chọn lại từ đầu" not in page
        assert "Khám Da liễu" in page and f"{first:%d/%m/%Y}" in page
        assert f"gio={first:%H}%3A{first:%M}" in html(response)  # the day's times, to pick again
    assert not Appointment.objects.filter(service=today_service).exists()


# --- Step 5: who -----------------------------------------------------------------------------------


def test_guest_books_with_otp_and_sees_status_code_and_qr(
    service: Service, get_otp: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    day = open_day(service)
    url = book_url(service, day, "09:30")
    form = client.get(url)
    assert form.status_code == 200
    page = text(form)
    assert "Bước 5 trên 5" in page and "Nhận OTP" in page and "Họ và tên người đi khám" in page
    assert f"{day:%d/%m/%Y}" in page and "09:30–10:00" in page
    # Without a code: the form keeps what was typed and says what is missing.
    refused = client.post(url, guest_data())
    assert refused.status_code == 400 and "Nhận OTP" in text(refused)
    assert 'value="Lê Thị Hoa"' in html(refused)
    code = get_otp(client, url, guest_data())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, guest_data(otp=code, cccd="", bhyt="0123456789"))
    assert response.status_code == 302
    appointment = Appointment.objects.select_related("patient").get(service=service)
    assert response["Location"] == f"/lich-hen/{appointment.public_id}"
    assert appointment.channel == "web" and appointment.status == Status.REQUESTED
    assert appointment.patient.full_name == "Lê Thị Hoa" and appointment.patient.phone == GUEST_E164
    assert appointment.patient.bhyt == "0123456789" and appointment.reason == "Đau họng 3 ngày"
    assert appointment.patient.account is None
    assert "cho xac nhan" in sms.last(GUEST_E164, "appointment")["body"]
    # The booking's page: the session that booked sees it at once.
    done = client.get(response["Location"])
    assert done.status_code == 200
    page = text(done)
    assert "Đã gửi yêu cầu đặt lịch" in page and "Chờ xác nhận" in page
    assert f"{day:%d/%m/%Y} 09:30" in page
    assert "Phòng khám Nội 1" in page and "Trung tâm Y tế khu vực Hải Dương" in page
    assert "Số 1 Nguyễn Lương Bằng" in page
    code_text = appointment.check_in_code
    assert f"{code_text[:4]} {code_text[4:]}" in page
    assert "<svg" in html(done) and f"Mã QR tiếp đón {code_text}" in html(done)
    assert "Bạn có thể tự đổi giờ hoặc huỷ lịch đến" in page


def test_guest_identity_errors_are_shown_per_field(service: Service, get_otp: Any) -> None:
    client = Client()
    url = book_url(service, open_day(service), "08:00")
    bad_phone = client.post(url, guest_data(phone="12345", action="otp"))
    assert bad_phone.status_code == 400 and "Số điện thoại" in text(bad_phone)
    code = get_otp(client, url, guest_data())
    response = client.post(url, guest_data(otp=code, cccd="123", date_of_birth="31/02/1990"))
    assert response.status_code == 400
    assert "Ngày sinh không hợp lệ" in text(response)
    response = client.post(url, guest_data(otp=code, cccd="123"))
    assert response.status_code == 400 and "12 chữ số" in text(response)
    assert 'href="#id_cccd"' in html(response)  # the error summary links to the field
    wrong = client.post(url, guest_data(otp="000000" if code != "000000" else "111111"))
    assert wrong.status_code == 400 and "Mã OTP không đúng" in text(wrong)
    assert not Appointment.objects.filter(service=service).exists()


def test_account_books_for_a_family_member(hung: Patient, portal: Client, service: Service) -> None:
    child = Patient.objects.create(
        full_name="Nguyễn Minh An",
        date_of_birth=date(2018, 6, 1),
        sex="male",
        phone=hung.phone,
        province_code=31,
        ward_code=10510,
        facility=hung.facility,
        account=None,
    )
    # The family rule needs an account on the child's record too (access.own_patients_for).
    from health_f0.patients.services import account_issue

    account_issue(patient=child)
    # ... and a phone that answered an OTP (patients.bonds), like the parent's.
    from health_f0.patients.bonds import phone_bond_record

    phone_bond_record(patient=child, phone=hung.phone, method="portal_otp", actor=None)
    day = open_day(service)
    url = book_url(service, day, "10:00")
    page = html(portal.get(url))
    assert "Đặt lịch cho ai?" in page and "Nguyễn Minh An (01/06/2018)" in page
    assert "Nhận OTP" not in page  # a logged-in account needs no OTP
    response = portal.post(url, {"patient": str(child.public_id), "reason": "Sốt"})
    assert response.status_code == 302
    appointment = Appointment.objects.get(service=service)
    assert appointment.patient == child and appointment.created_by == hung.account
    # Someone else's patient id in the form is refused.
    stranger = Patient.objects.create(
        full_name="Người Lạ",
        date_of_birth=date(1990, 1, 1),
        sex="male",
        phone="+84988000111",
        province_code=31,
        ward_code=10510,
        facility=hung.facility,
    )
    refused = portal.post(book_url(service, day, "10:30"), {"patient": str(stranger.public_id)})
    assert refused.status_code == 400 and "Vui lòng chọn người đi khám" in text(refused)


def test_overlap_with_another_booking_is_refused(hung: Patient, portal: Client, service: Service) -> None:
    day = open_day(service)
    other = make_service(room="PK-NHI", name="Khám Da liễu")
    appt_services.appointment_book(
        patient=hung, service=other, slot_start=at(day, 8), channel="web", actor=hung.account
    )
    response = portal.post(book_url(service, day, "08:00"), {"patient": str(hung.public_id)})
    assert response.status_code == 409
    assert "đã có một lịch hẹn khác trùng thời gian này" in text(response)
    assert "Chọn giờ khác" in text(response)
    assert Appointment.objects.filter(service=service).count() == 0


def test_staff_account_is_sent_to_the_desk(persona: Any, service: Service) -> None:
    client = Client()
    client.force_login(persona("datlich"))
    response = client.get(book_url(service, open_day(service), "08:00"))
    assert response.status_code == 200 and "tài khoản nhân viên" in text(response)
    assert client.post(book_url(service, open_day(service), "08:00"), {"patient": "x"}).status_code == 200
    assert not Appointment.objects.filter(service=service).exists()


# --- The SMS link's page -----------------------------------------------------------------------------


def test_guest_link_is_gated_by_otp(
    service: Service, get_otp: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = guest_book(Client(), get_otp, service, open_day(service))
    url = f"/lich-hen/{appointment.public_id}"
    stranger = Client()
    gate = stranger.get(url)
    assert gate.status_code == 200
    page = text(gate)
    assert "Nhận OTP" in page and "0977 *** 456" in page
    for secret in ("Lê Thị Hoa", appointment.check_in_code, "Khám Tai Mũi Họng", "Đau họng"):
        assert secret not in page
    # Acting before verifying leads back to the gate.
    assert stranger.get(url + "/huy")["Location"] == url
    assert stranger.post(url + "/huy", {"reason": "x"})["Location"] == url
    assert Appointment.objects.get(service=service).status == Status.REQUESTED
    wrong = stranger.post(url, {"action": "verify", "otp": "12345"})
    assert wrong.status_code == 400 and "Vui lòng bấm “Nhận OTP”" in text(wrong)
    # Within a minute of the booking's code, a new one is refused politely (429); a minute later it is sent.
    too_soon = stranger.post(url, {"action": "otp"})
    assert too_soon.status_code == 429 and "Vui lòng chờ" in text(too_soon)
    cache.delete(_resend_key(GUEST_E164, "booking"))
    OtpChallenge.objects.filter(phone=GUEST_E164).update(created_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        sent = stranger.post(url, {"action": "otp"})
    assert sent.status_code == 200 and "Mã OTP đã được gửi tới 0977 *** 456" in text(sent)
    code = sms.last_otp(GUEST_E164)
    verified = stranger.post(url, {"action": "verify", "otp": code})
    assert verified.status_code == 302 and verified["Location"] == url
    shown = text(stranger.get(url))
    assert "Lê Thị Hoa" in shown and "Đã xác thực số điện thoại" in shown
    # The code served once: another browser needs its own.
    assert stranger.post(url, {"action": "verify", "otp": code}).status_code == 302  # already verified here
    assert Client().post(url, {"action": "verify", "otp": code}).status_code == 400


def test_unknown_booking_and_another_familys_booking_are_404(
    hung: Patient, portal: Client, service: Service, get_otp: Any
) -> None:
    assert Client().get(f"/lich-hen/{uuid.uuid4()}").status_code == 404
    assert Client().get("/lich-hen/not-a-uuid").status_code == 404
    appointment = guest_book(Client(), get_otp, service, open_day(service))
    for path in ("", "/huy", "/doi-lich"):
        assert portal.get(f"/lich-hen/{appointment.public_id}{path}").status_code == 404
    assert "Lê Thị Hoa" not in html(portal.get("/lich-hen"))


def test_owner_cancels_with_a_reason(
    hung: Patient, portal: Client, service: Service, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = appt_services.appointment_book(
        patient=hung, service=service, slot_start=at(open_day(service), 9), channel="web", actor=hung.account
    )
    url = f"/lich-hen/{appointment.public_id}/huy"
    page = text(portal.get(url))
    assert "Xác nhận huỷ lịch" in page and "Lý do huỷ" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = portal.post(url, {"reason": "Đã khỏi bệnh"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.status == Status.CANCELLED and appointment.cancel_reason == "Đã khỏi bệnh"
    assert appointment.cancel_source == "patient"
    shown = text(portal.get(f"/lich-hen/{appointment.public_id}"))
    assert "Đã huỷ lịch hẹn" in shown and "Đã huỷ" in shown and "Đổi giờ khám" not in shown
    assert "da huy" in sms.last(hung.phone, "appointment")["body"]


def test_cut_off_refuses_cancel_and_reschedule(hung: Patient, portal: Client, service: Service) -> None:
    day = open_day(service)
    appointment = appt_services.appointment_book(
        patient=hung, service=service, slot_start=at(day, 9), channel="web", actor=hung.account
    )
    Service.objects.filter(pk=service.pk).update(cancel_cutoff_hours=24 * 30)  # the cut-off is now past
    detail = text(portal.get(f"/lich-hen/{appointment.public_id}"))
    assert "Đã quá thời hạn tự đổi hoặc huỷ lịch" in detail and "0220 385 2115" in detail
    assert "Huỷ lịch hẹn" not in detail
    refused = portal.post(f"/lich-hen/{appointment.public_id}/huy", {"reason": "bận"})
    assert refused.status_code == 400 and "Chỉ được tự huỷ hoặc đổi lịch đến trước giờ hẹn 720 giờ" in text(
        refused
    )
    moved = portal.post(
        f"/lich-hen/{appointment.public_id}/doi-lich", {"ngay": day.isoformat(), "gio": "10:00"}
    )
    assert moved.status_code == 400 and "Chỉ được tự huỷ hoặc đổi lịch" in text(moved)
    appointment.refresh_from_db()
    assert appointment.status == Status.REQUESTED and appointment.slot_start == at(day, 9)


def test_guest_reschedules_after_verifying(service: Service, get_otp: Any) -> None:
    client = Client()
    day = open_day(service)
    appointment = guest_book(client, get_otp, service, day, "08:00")
    base = f"/lich-hen/{appointment.public_id}/doi-lich"
    days = client.get(base)
    assert days.status_code == 200 and f"?ngay={day.isoformat()}" in html(days)
    slots = client.get(f"{base}?ngay={day.isoformat()}")
    page = html(slots)
    # Each time is a link to a confirmation step (issue 9: a tap no longer moves the booking at once).
    assert "giờ hẹn hiện tại" in page and f"?ngay={day.isoformat()}&amp;gio=08:30" in page
    assert client.get(f"{base}?ngay=2026-99-01").status_code == 400
    same = client.post(base, {"ngay": day.isoformat(), "gio": "08:00"})
    assert same.status_code == 400 and "khác giờ hẹn hiện tại" in text(same)
    response = client.post(base, {"ngay": day.isoformat(), "gio": "10:30"})
    assert response.status_code == 302
    appointment.refresh_from_db()
    assert appointment.slot_start == at(day, 10, 30) and appointment.rescheduled_count == 1
    assert "Đã đổi giờ hẹn" in text(client.get(f"/lich-hen/{appointment.public_id}"))


def open_today(service: Service) -> datetime:
    """Open the service today from the first quarter hour at least 10 minutes away, for two hours; returns
    the first slot's start. (A first time one minute away could pass, and leave the offer, before the test
    books it: the browser test that booked "the next quarter hour" failed so at 07:45:00 in CI.)"""
    now = timezone.localtime()
    soon = now + timedelta(minutes=10)
    first = (soon + timedelta(minutes=15 - soon.minute % 15)).replace(second=0, microsecond=0)
    if (first + timedelta(hours=2)).date() != now.date():
        pytest.skip("too close to midnight for a same-day slot")
    ScheduleOverride.objects.create(
        service=service,
        date=now.date(),
        start_time=first.time(),
        end_time=(first + timedelta(hours=2)).time(),
    )
    return first


def test_checked_in_booking_shows_the_queue_number(hung: Patient, portal: Client, persona: Any) -> None:
    service = make_service(min_notice_hours=0, duration_minutes=15)
    start = open_today(service)
    appointment = appt_services.appointment_book(
        patient=hung, service=service, slot_start=start, channel="web", actor=hung.account
    )
    appt_services.appointment_confirm(appointment=appointment, actor=persona("datlich"))
    appt_services.appointment_check_in(code=appointment.check_in_code, actor=persona("tiepdon"))
    page = text(portal.get(f"/lich-hen/{appointment.public_id}"))
    assert "Đã đến khám" in page and "Số thứ tự của bạn 1" in page
    assert "Bạn là người tiếp theo." in page and "sắp đến lượt bạn" in page
    assert "Huỷ lịch hẹn" not in page and "qr-code" not in html(
        portal.get(f"/lich-hen/{appointment.public_id}")
    )
    appt_services.queue_call_next(service=service, actor=persona("tiepdon"))
    assert "Đã đến lượt bạn: mời vào phòng khám." in text(portal.get(f"/lich-hen/{appointment.public_id}"))


def test_checked_in_booking_shows_how_many_wait_before(hung: Patient, portal: Client, persona: Any) -> None:
    service = make_service(min_notice_hours=0, duration_minutes=15, capacity_per_slot=5)
    start = open_today(service)
    reception = persona("tiepdon")
    for i, name in enumerate(("Lê Văn Một", "Trần Thị Hai", "Phạm Văn Ba")):
        other = Patient.objects.create(
            full_name=name,
            date_of_birth=date(1970, 1, 1),
            sex="male",
            phone=f"+849180000{i:02d}",
            province_code=31,
            ward_code=10510,
            facility=hung.facility,
        )
        appt_services.walk_in_register(patient=other, service=service, actor=reception)
    appt_services.queue_call_next(service=service, actor=reception)
    appointment = appt_services.appointment_book(
        patient=hung, service=service, slot_start=start, channel="web", actor=hung.account
    )
    appt_services.appointment_confirm(appointment=appointment, actor=persona("datlich"))
    appt_services.appointment_check_in(code=appointment.check_in_code, actor=reception)
    page = text(portal.get(f"/lich-hen/{appointment.public_id}"))
    # Booked patients go before walk-ins (the default): nobody waits before Hùng; number 1 is being called.
    assert "Số thứ tự của bạn 4" in page and "Bạn là người tiếp theo. Đang gọi số 1." in page


# --- The account's list ------------------------------------------------------------------------------


def test_list_upcoming_first_with_reexam_acknowledgement(
    hung: Patient, portal: Client, service: Service, demo_bookings: None
) -> None:
    day = open_day(service)
    later = appt_services.appointment_book(
        patient=hung,
        service=service,
        slot_start=at(day + timedelta(days=1), 9),
        channel="web",
        actor=hung.account,
    )
    sooner = appt_services.appointment_book(
        patient=hung, service=service, slot_start=at(day, 9), channel="web", actor=hung.account
    )
    appt_services.appointment_cancel(appointment=later, actor=hung.account)
    reexam = Appointment.objects.get(patient=hung, is_reexam=True)  # the demo's hypertension plan
    response = portal.get("/lich-hen")
    assert response.status_code == 200
    page = text(response)
    upcoming, _, past = page.partition("Đã qua hoặc đã huỷ")
    assert f"{day:%d/%m/%Y} 09:00" in upcoming and "Tái khám" in upcoming and "Tôi sẽ đến" in upcoming
    assert f"{day + timedelta(days=1):%d/%m/%Y} 09:00" in past and "Đã huỷ" in past
    # Upcoming: the soonest first (the demo's request, this booking, the re-exam).
    found = dict.fromkeys(re.findall(r"\d\d/\d\d/\d{4} \d\d:\d\d", upcoming))  # the button repeats its time
    shown = [datetime.strptime(m, "%d/%m/%Y %H:%M") for m in found]
    assert len(shown) == 3 and shown == sorted(shown)
    assert timezone.localtime(sooner.slot_start).replace(tzinfo=None) in shown
    response = portal.post(f"/lich-hen/{reexam.public_id}", {"action": "acknowledge", "next": "list"})
    assert response.status_code == 302 and response["Location"] == "/lich-hen"
    reexam.refresh_from_db()
    assert reexam.patient_confirmed_at is not None
    after = text(portal.get("/lich-hen"))
    assert "Cảm ơn bạn đã xác nhận sẽ đến tái khám" in after and "Tôi sẽ đến" not in after


def test_list_needs_login_and_staff_go_to_the_desk(persona: Any) -> None:
    assert Client().get("/lich-hen")["Location"].startswith("/dang-nhap")
    client = Client()
    client.force_login(persona("datlich"))
    assert client.get("/lich-hen")["Location"].startswith("/desk/")


def test_booking_page_weight_is_small(service: Service, get_otp: Any) -> None:
    client = Client()
    appointment = guest_book(client, get_otp, service, open_day(service))
    for url in (
        "/dat-lich",
        book_url(service),
        book_url(service, open_day(service)),
        book_url(service, open_day(service), "09:00"),
        f"/lich-hen/{appointment.public_id}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.content) < 60_000, url


def test_a_phone_holder_acts_only_for_patients_of_that_phone(hung: Patient, service: Service) -> None:
    """The guest actor of the SMS link (core.actors.PhoneHolder): the booking's phone may cancel it; any
    other phone is refused, and a phone holder is never staff."""
    from health_f0.core.actors import PhoneHolder
    from health_f0.core.exceptions import PermissionDenied
    from health_f0.facilities.access import owns_patient

    appointment = appt_services.appointment_book(
        patient=hung, service=service, slot_start=at(open_day(service), 9), channel="web", actor=hung.account
    )
    assert owns_patient(PhoneHolder(phone=hung.phone), hung)
    assert not owns_patient(PhoneHolder(phone=""), hung)
    with pytest.raises(PermissionDenied):
        appt_services.appointment_cancel(appointment=appointment, actor=PhoneHolder(phone="+84988000999"))
    with pytest.raises(PermissionDenied):
        appt_services.appointment_confirm(appointment=appointment, actor=PhoneHolder(phone=hung.phone))
    cancelled = appt_services.appointment_cancel(appointment=appointment, actor=PhoneHolder(phone=hung.phone))
    assert cancelled.status == Status.CANCELLED and cancelled.cancel_source == "patient"
    assert cancelled.cancelled_by is None


def test_list_query_count_does_not_grow_with_bookings(
    hung: Patient, portal: Client, service: Service, django_assert_max_num_queries: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from health_f0.appointments.models import AppointmentPolicy

    # Four bookings of one day: past the default limits per patient, which are not what this test is about.
    AppointmentPolicy.objects.update_or_create(
        facility=service.facility, defaults={"max_live_per_service": 0, "max_per_day": 0, "max_per_week": 0}
    )
    portal.get("/lich-hen")
    with CaptureQueriesContext(connection) as few:
        assert portal.get("/lich-hen").status_code == 200
    day = open_day(service)
    for hour in (7, 8, 9, 10):
        appt_services.appointment_book(
            patient=hung, service=service, slot_start=at(day, hour), channel="web", actor=hung.account
        )
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = text(portal.get("/lich-hen"))
    assert page.count("Khám Tai Mũi Họng") == 4
