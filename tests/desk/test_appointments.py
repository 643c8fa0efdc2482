"""Appointments in the desk: the booking desk's worklist (confirm, move, decline), booking by phone, the
re-exam worklist and re-exam setting, reception's check-in, walk-ins and the queue, the appointment detail,
the managers' configuration, and who may open what. Demo personas (seed_demo loads the appointment demo);
every write goes through an appointments service."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from health_f0.appointments import selectors, services
from health_f0.appointments.models import (
    Appointment,
    AppointmentPolicy,
    ReexamPlan,
    ScheduleTemplate,
    Service,
)
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.patients.models import Patient

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _appointments_demo(appointments_demo: Any) -> None:
    """These pages work on the demo's clinic services and bookings."""


BASE = "/desk/appointments/appointment/"
WORKLIST = BASE + "dat-lich/"
BOOK = BASE + "dat-lich-moi/"
REEXAMS = BASE + "tai-kham/"
REEXAM_NEW = BASE + "tai-kham/hen/"
CHECKIN = BASE + "tiep-don/"
WALK_IN = BASE + "tiep-don/vang-lai/"
QUEUE = BASE + "hang-doi/"
PAGES = (WORKLIST, BOOK, REEXAMS, REEXAM_NEW, CHECKIN, WALK_IN, QUEUE, BASE)


# --- helpers ---------------------------------------------------------------------------------------


def kham_noi() -> Service:
    return Service.objects.get(code="kham-noi")


def demo_request() -> Appointment:
    """The demo's online booking of bn0000001 waiting for the desk."""
    return Appointment.objects.select_related("patient").get(
        patient__account__username="bn0000001", status="requested"
    )


def new_patient(name: str, phone: str, code: str = "TTYT-HD", born: date = date(1970, 5, 1)) -> Patient:
    return Patient.objects.create(
        full_name=name,
        date_of_birth=born,
        sex="female",
        phone=phone,
        province_code=31,
        ward_code=0,
        facility=Facility.objects.get(code=code),
    )


def free_slots(service: Service, days_ahead: int = 1) -> list[Any]:
    first = timezone.localdate() + timedelta(days=days_ahead)
    return [
        s
        for s in selectors.slots_free(
            service=service, start=first, end=first + timedelta(days=10), for_staff=True
        )
        if s.free > 0
    ]


def online_request(
    patient: Patient, service: Service, desk: Any, index: int = 0, hours_ago: int = 1
) -> Appointment:
    """An online booking waiting for the desk (booked through the service, then marked as an app request:
    these test patients have no portal account)."""
    slot = free_slots(service, 2)[index]
    appointment = services.appointment_book(
        patient=patient, service=service, slot_start=slot.start, channel="phone", actor=desk
    )
    Appointment.objects.filter(pk=appointment.pk).update(
        status="requested",
        channel="app",
        confirmed_at=None,
        confirmed_by=None,
        created_at=timezone.now() - timedelta(hours=hours_ago),
    )
    appointment.refresh_from_db()
    return appointment


def booked_today(patient: Patient, service: Service, desk: Any, index: int = 0) -> Appointment:
    """A confirmed booking for now (moved to the current moment: the day of the visit is today)."""
    appointment = services.appointment_book(
        patient=patient,
        service=service,
        slot_start=free_slots(service)[index].start,
        channel="phone",
        actor=desk,
    )
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(slot_start=now, slot_end=now + timedelta(minutes=15))
    appointment.refresh_from_db()
    return appointment


def dashed(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


@pytest.fixture
def other_centre(demo: Any) -> dict[str, Any]:
    """A second health centre with a clinic room, a service, a booking desk and one waiting request."""
    root = Facility.objects.get(code="SYT-31")
    centre = Facility.objects.create(
        kind="ttyt", code="TTYT-TK", name="Trung tâm Y tế Thử", parent=root, province_code=31
    )
    centre.path = f"{root.path}{centre.pk}/"
    centre.save(update_fields=["path"])
    room = Facility.objects.create(
        kind="clinic_room", code="PK-TK", name="Phòng khám Thử", parent=centre, province_code=31
    )
    room.path = f"{centre.path}{room.pk}/"
    room.save(update_fields=["path"])
    service = Service.objects.create(facility=room, code="kham-thu", name="Khám Thử", capacity_per_slot=2)
    for weekday in range(7):
        ScheduleTemplate.objects.create(
            service=service, weekday=weekday, start_time=time(7), end_time=time(17)
        )
    user = get_user_model().objects.create_user(username="datlich.tk", is_staff=True)
    Membership.objects.create(user=user, facility=centre, role=Role.BOOKING_DESK)
    patient = new_patient("Khách Trung Tâm Khác", "+84988000111", code="TTYT-TK")
    request = online_request(patient, service, user)
    return {"centre": centre, "service": service, "desk": user, "request": request}


# --- 1. The booking desk's worklist ----------------------------------------------------------------


def test_worklist_lists_requests_oldest_first_with_phone_and_history(desk: Any, persona: Any) -> None:
    datlich = persona("datlich")
    older = new_patient("Trần Thị Mai", "+84912000001")
    old = online_request(older, kham_noi(), datlich, index=3, hours_ago=30)
    # A past no-show in her history.
    missed = online_request(older, kham_noi(), datlich, index=6)
    Appointment.objects.filter(pk=missed.pk).update(status="no_show")
    response = desk("datlich").get(WORKLIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nguyễn Văn Hùng" in html and "Trần Thị Mai" in html
    assert html.index("Trần Thị Mai") < html.index("Nguyễn Văn Hùng")  # oldest request first
    assert 'href="tel:+84912000001"' in html and "0912 000 001" in html
    assert "1 lần không đến" in html
    assert "Ứng dụng di động" in html  # channel
    assert "1 ngày 6 giờ" in html  # waiting time
    assert reverse("admin:appointments_confirm", args=[old.pk]) in html
    assert reverse("admin:appointments_move", args=[old.pk]) in html


def test_worklist_is_scoped_to_the_desks_health_centre(desk: Any, other_centre: dict[str, Any]) -> None:
    ours = demo_request()
    theirs = other_centre["request"]
    html = desk("datlich").get(WORKLIST).content.decode()
    assert "Nguyễn Văn Hùng" in html and "Khách Trung Tâm Khác" not in html
    other = desk("datlich.tk")
    html = other.get(WORKLIST).content.decode()
    assert "Khách Trung Tâm Khác" in html and "Nguyễn Văn Hùng" not in html
    # Nor can the other centre's desk act on, move or open our booking.
    assert other.post(reverse("admin:appointments_confirm", args=[ours.pk])).status_code == 404
    assert (
        other.post(
            reverse("admin:appointments_decline", args=[ours.pk]), {"reason": "Không rõ lý do"}
        ).status_code
        == 404
    )
    assert other.get(reverse("admin:appointments_move", args=[ours.pk])).status_code == 404
    assert other.get(reverse("admin:appointments_appointment_change", args=[ours.pk])).status_code in (
        302,
        404,
    )
    ours.refresh_from_db()
    assert ours.status == "requested"
    assert theirs.status == "requested"


def test_confirm_from_the_worklist_texts_the_patient_and_is_audited(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    with django_capture_on_commit_callbacks(execute=True):
        response = desk("datlich").post(
            reverse("admin:appointments_confirm", args=[appointment.pk]), {"next": WORKLIST}
        )
    assert response.status_code == 302 and response["Location"] == WORKLIST
    appointment.refresh_from_db()
    assert appointment.status == "confirmed" and appointment.confirmed_by.username == "datlich"
    body = sms.last(to=appointment.patient.phone)["body"]
    assert "da duoc xac nhan" in body and appointment.check_in_code in body
    assert AuditLog.objects.filter(
        verb="confirm", target_id=str(appointment.pk), actor_label="datlich"
    ).exists()
    assert "Nguyễn Văn Hùng" not in desk("datlich").get(WORKLIST).content.decode()


def test_decline_needs_a_reason_then_texts_it(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    client = desk("datlich")
    url = reverse("admin:appointments_decline", args=[appointment.pk])
    response = client.post(url, {"reason": "  "}, follow=True)
    assert "Vui lòng nhập lý do" in response.content.decode()
    appointment.refresh_from_db()
    assert appointment.status == "requested"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"reason": "Bác sĩ nghỉ phép ngày này"})
    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_source) == ("cancelled", "declined")
    assert appointment.cancel_reason == "Bác sĩ nghỉ phép ngày này"
    assert "Bac si nghi phep ngay nay" in sms.last(to=appointment.patient.phone)["body"]
    assert AuditLog.objects.filter(verb="decline", target_id=str(appointment.pk)).exists()


def test_move_to_a_free_slot_and_confirm(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    appointment = demo_request()
    client = desk("datlich")
    url = reverse("admin:appointments_move", args=[appointment.pk])
    html = client.get(url).content.decode()
    assert 'name="slot"' in html and "còn 3 chỗ" in html and "giờ hiện tại" in html
    target = next(s for s in free_slots(kham_noi(), 3) if s.start != appointment.slot_start)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"slot": target.start.isoformat(), "confirm": "1", "next": WORKLIST})
    assert response.status_code == 302 and response["Location"] == WORKLIST
    appointment.refresh_from_db()
    assert appointment.slot_start == target.start and appointment.status == "confirmed"
    bodies = [m["body"] for m in sms.messages() if m["to"] == appointment.patient.phone]
    # Moved and confirmed in one step: one SMS, the confirmation at the new time (issue 9, item 20).
    assert "da duoc xac nhan" in bodies[-1] and not any("da doi sang" in b for b in bodies)
    assert AuditLog.objects.filter(verb="reschedule", target_id=str(appointment.pk)).exists()
    # A slot that does not exist is refused with a message, nothing changes.
    response = client.post(url, {"slot": "not-a-time"}, follow=True)
    assert response.status_code == 200 and "Khung giờ không hợp lệ" in response.content.decode()


def test_phone_booking_creates_the_patient_and_confirms_at_once(
    desk: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    service = kham_noi()
    client = desk("datlich")
    html = client.get(BOOK + f"?service={service.pk}").content.decode()
    assert "Đặt lịch qua điện thoại" in html and 'name="slot"' in html and "bn-full_name" in html
    slot = free_slots(service)[0]
    data = {
        "service": str(service.pk),
        "slot": slot.start.isoformat(),
        "reason": "Đau lưng",
        "bn-full_name": "Lý Thị Hoa",
        "bn-date_of_birth": "02/03/1961",
        "bn-sex": "female",
        "bn-phone": "0987 111 222",
        "bn-cccd": "",
        "bn-bhyt": "0123456789",
        "bn-consent_oral": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(BOOK + f"?service={service.pk}", data)
    assert response.status_code == 302
    appointment = Appointment.objects.get(patient__full_name="Lý Thị Hoa")
    assert (appointment.status, appointment.channel, appointment.reason) == ("confirmed", "phone", "Đau lưng")
    assert appointment.patient.facility.code == "TTYT-HD" and appointment.patient.bhyt == "0123456789"
    assert appointment.check_in_code in sms.last(to="+84987111222")["body"]
    # The same person again is found, not duplicated; a bad phone is a form error, not a 500.
    data["slot"] = free_slots(service, 2)[0].start.isoformat()
    client.post(BOOK + f"?service={service.pk}", data)
    assert Patient.objects.filter(full_name="Lý Thị Hoa").count() == 1
    assert Appointment.objects.filter(patient__full_name="Lý Thị Hoa").count() == 2
    data.update({"bn-phone": "12345", "slot": free_slots(service, 3)[0].start.isoformat()})
    response = client.post(BOOK + f"?service={service.pk}", data)
    assert response.status_code == 200 and "Số điện thoại" in response.content.decode()


def test_phone_booking_for_a_patient_found_by_phone(desk: Any) -> None:
    service = kham_noi()
    client = desk("datlich")
    html = client.get(BOOK + "?q=0912345678").content.decode()
    patient = Patient.objects.get(account__username="bn0000001")
    assert "Nguyễn Văn Hùng" in html and f"patient={patient.pk}" in html
    slot = free_slots(service, 4)[0]
    response = client.post(
        BOOK + f"?patient={patient.pk}&service={service.pk}",
        {"patient": str(patient.pk), "service": str(service.pk), "slot": slot.start.isoformat()},
    )
    assert response.status_code == 302
    assert Appointment.objects.filter(patient=patient, slot_start=slot.start, channel="phone").exists()


# --- 2. Re-examinations ----------------------------------------------------------------------------


def test_reexam_worklist_calls_and_missed(desk: Any, persona: Any) -> None:
    datlich = persona("datlich")
    patient = new_patient("Phạm Văn Tái", "+84912000002")
    reexam = services.reexam_schedule(
        patient=patient, service=kham_noi(), day=timezone.localdate() + timedelta(days=3), actor=datlich
    )
    gone = new_patient("Đỗ Văn Lỡ", "+84912000003")
    missed = services.reexam_schedule(
        patient=gone, service=kham_noi(), day=timezone.localdate() + timedelta(days=2), actor=datlich
    )
    Appointment.objects.filter(pk=missed.pk).update(
        status="no_show",
        slot_start=timezone.now() - timedelta(days=2),
        slot_end=timezone.now() - timedelta(days=2),
    )
    client = desk("datlich")
    html = client.get(REEXAMS).content.decode()
    assert "Phạm Văn Tái" in html and "Đỗ Văn Lỡ" in html and "Chưa gọi" in html
    assert html.index("Phạm Văn Tái") < html.index("Bỏ lỡ lịch tái khám") < html.index("Đỗ Văn Lỡ")
    assert f"lan_kham={missed.pk}" in html  # "Hẹn lại tái khám"
    call = reverse("admin:appointments_reexam_call", args=[reexam.pk])
    client.post(call, {"outcome": "no_answer", "note": ""})
    html = client.get(REEXAMS).content.decode()
    assert "Không nghe máy" in html
    client.post(call, {"outcome": "will_come", "note": "Sẽ đến đúng giờ"})
    reexam.refresh_from_db()
    assert reexam.patient_confirmed_at is not None
    html = client.get(REEXAMS).content.decode()
    assert "Phạm Văn Tái" not in html[html.index('id="to-call"') : html.index('id="missed"')]
    assert AuditLog.objects.filter(verb="reexam_call", target_id=str(reexam.pk)).count() == 2
    # "will come" makes no sense for a missed one: refused with a message.
    response = client.post(
        reverse("admin:appointments_reexam_call", args=[missed.pk]), {"outcome": "will_come"}, follow=True
    )
    assert "Chỉ xác nhận được lịch tái khám đang hẹn" in response.content.decode()


def test_clinician_sets_a_recurring_plan_after_a_visit(desk: Any, persona: Any) -> None:
    visit = demo_request()
    client = desk("bacsi.noi")
    html = client.get(REEXAM_NEW + f"?lan_kham={visit.pk}").content.decode()
    assert "Nguyễn Văn Hùng" in html and "Định kỳ" in html
    first = timezone.localdate() + timedelta(days=21)
    response = client.post(
        REEXAM_NEW + f"?lan_kham={visit.pk}",
        {
            "lan_kham": str(visit.pk),
            "service": str(visit.service_id),
            "mode": "plan",
            "day": first.strftime("%d/%m/%Y"),
            "interval_weeks": "4",
            "programme": "Đái tháo đường",
        },
    )
    assert response.status_code == 302
    plan = ReexamPlan.objects.get(programme="Đái tháo đường")
    assert plan.interval_weeks == 4 and plan.created_by.username == "bacsi.noi"
    reserved = plan.appointments.get()
    assert reserved.is_reexam and reserved.status == "confirmed"
    assert timezone.localtime(reserved.slot_start).date() >= first
    # A date in the past is a form error.
    response = client.post(
        REEXAM_NEW,
        {
            "patient": str(visit.patient_id),
            "service": str(visit.service_id),
            "mode": "single",
            "day": "01/01/2020",
        },
    )
    assert response.status_code == 200 and "từ hôm nay trở đi" in response.content.decode()


# --- 3. Reception: check-in, walk-ins, the queue --------------------------------------------------


def test_check_in_by_code_with_or_without_dashes(
    desk: Any, persona: Any, sms: Any, django_capture_on_commit_callbacks: Any
) -> None:
    datlich = persona("datlich")
    first = booked_today(new_patient("Ngô Thị Một", "+84912000004"), kham_noi(), datlich, 0)
    second = booked_today(new_patient("Ngô Văn Hai", "+84912000005"), kham_noi(), datlich, 1)
    client = desk("tiepdon")
    html = client.get(CHECKIN).content.decode()
    assert 'id="checkin-q"' in html and "autofocus" in html
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CHECKIN, {"q": first.check_in_code.lower()})
    assert response.status_code == 302 and f"ve={first.pk}" in response["Location"]
    html = client.get(response["Location"]).content.decode()
    assert 'class="appt-ticket-number text-primary-600">1<' in html and "Ngô Thị Một" in html
    assert "So thu tu cua ban: 1" in sms.last(to="+84912000004")["body"]
    response = client.post(CHECKIN, {"q": dashed(second.check_in_code) + "\n"})
    second.refresh_from_db()
    assert (second.status, second.queue_number) == ("checked_in", 2)
    # A wrong code: a clear message, nothing checked in.
    response = client.post(CHECKIN, {"q": "ZZZZ-9999"}, follow=True)
    assert "Không tìm thấy lịch hẹn với mã ZZZZ-9999" in response.content.decode()
    # Checking in twice: refused by the workflow, with a message.
    response = client.post(CHECKIN, {"q": first.check_in_code}, follow=True)
    assert response.status_code == 200
    first.refresh_from_db()
    assert first.queue_number == 1


def test_check_in_search_by_name_phone_or_cccd_lists_todays_bookings(desk: Any, persona: Any) -> None:
    patient = new_patient("Vương Thị Tìm", "+84912000006")
    Patient.objects.filter(pk=patient.pk).update(cccd="031170001234")
    today = booked_today(patient, kham_noi(), persona("datlich"))
    later = new_patient("Vương Thị Mai Sau", "+84912000007")
    services.appointment_book(
        patient=later,
        service=kham_noi(),
        slot_start=free_slots(kham_noi(), 2)[0].start,
        channel="phone",
        actor=persona("datlich"),
    )
    client = desk("tiepdon")
    for term in ("Vương Thị", "0912 000 006", "031170001234"):
        response = client.post(CHECKIN, {"q": term})
        assert response.status_code == 302 and "q=" in response["Location"]
        html = client.get(response["Location"]).content.decode()
        assert "Vương Thị Tìm" in html and "Vương Thị Mai Sau" not in html, term  # today's only
        assert f'value="{today.check_in_code}"' in html


def test_walk_in_and_call_next_respects_booked_priority(desk: Any, persona: Any) -> None:
    service = kham_noi()  # booked_first
    client = desk("tiepdon")
    html = client.get(WALK_IN).content.decode()
    assert "bn-full_name" in html and "Khám Nội" in html
    response = client.post(
        WALK_IN,
        {
            "service": str(service.pk),
            "bn-full_name": "Lã Văn Vãng",
            "bn-date_of_birth": "01/01/1980",
            "bn-sex": "male",
            "bn-phone": "0912000008",
            "bn-consent_oral": "on",
        },
    )
    assert response.status_code == 302
    walk_in = Appointment.objects.get(patient__full_name="Lã Văn Vãng")
    assert (walk_in.is_walk_in, walk_in.status, walk_in.queue_number) == (True, "checked_in", 1)
    booked = booked_today(new_patient("Lê Thị Hẹn", "+84912000009"), service, persona("datlich"))
    client.post(CHECKIN, {"q": booked.check_in_code})
    html = client.get(QUEUE + f"?service={service.pk}").content.decode()
    waiting = html[html.index('id="waiting"') : html.index('id="called"')]
    assert waiting.index("Lê Thị Hẹn") < waiting.index("Lã Văn Vãng")  # booked first, though number 2
    call = reverse("admin:appointments_call_next", args=[service.pk])
    response = client.post(call, follow=True)
    assert "Mời số 2 — Lê Thị Hẹn" in response.content.decode()
    response = client.post(call, follow=True)
    assert "Mời số 1 — Lã Văn Vãng" in response.content.decode()
    response = client.post(call, follow=True)
    assert "Không còn ai đang chờ" in response.content.decode()
    assert AuditLog.objects.filter(verb="call").count() == 2


# --- 4. Detail, list, configuration, access ---------------------------------------------------------


def test_detail_is_read_only_and_every_view_is_audited(desk: Any) -> None:
    appointment = demo_request()
    client = desk("datlich")
    url = reverse("admin:appointments_appointment_change", args=[appointment.pk])
    for _ in range(2):
        html = client.get(url).content.decode()
    assert "Nguyễn Văn Hùng" in html and "Lịch sử lịch hẹn" in html
    assert "xac-nhan-lich/" in html and "tu-choi-lich/" in html
    assert 'name="status"' not in html  # status is not a form field
    assert (
        AuditLog.objects.filter(action="view", target_id=str(appointment.pk), actor_label="datlich").count()
        == 2
    )
    # The detail dialog refuses a decline without reason too.
    client.post(
        reverse("admin:appointments_appointment_decline_action", args=[appointment.pk]), {"reason": ""}
    )
    appointment.refresh_from_db()
    assert appointment.status == "requested"


def test_lists_use_a_constant_number_of_queries(desk: Any, persona: Any) -> None:
    datlich = persona("datlich")
    client = desk("datlich")

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        return len(ctx)

    for i in range(2):
        patient = new_patient(f"Người Chờ {i}", f"+8491300000{i}")
        online_request(patient, kham_noi(), datlich, index=i)
        services.reexam_schedule(
            patient=patient, service=kham_noi(), day=timezone.localdate() + timedelta(days=4), actor=datlich
        )
    # Warm the per-service caches first (payments' required-prepayment rule, read by the workflow's guards).
    count(WORKLIST), count(BASE), count(REEXAMS)
    few = (count(WORKLIST), count(BASE), count(REEXAMS))
    for i in range(2, 8):
        patient = new_patient(f"Người Chờ {i}", f"+8491300000{i}")
        online_request(patient, kham_noi(), datlich, index=i)
        services.reexam_schedule(
            patient=patient, service=kham_noi(), day=timezone.localdate() + timedelta(days=4), actor=datlich
        )
    assert (count(WORKLIST), count(BASE), count(REEXAMS)) == few


def test_managers_configure_services_and_reminders(desk: Any) -> None:
    client = desk("ttyt.lanhdao")
    assert "Khám Nội" in client.get("/desk/appointments/service/").content.decode()
    html = client.get(reverse("admin:appointments_service_change", args=[kham_noi().pk])).content.decode()
    assert "Lịch làm việc hằng tuần" in html or "lịch làm việc hằng tuần" in html
    policy = AppointmentPolicy.objects.get(facility__code="TTYT-HD")
    url = reverse("admin:appointments_appointmentpolicy_change", args=[policy.pk])
    response = client.post(url, {"reminder_days_text": "5, 1", "reminder_time": "07:30"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert policy.reminder_days_before == [5, 1]
    assert AuditLog.objects.filter(verb="configure", target_id=str(policy.pk)).exists()
    response = client.post(url, {"reminder_days_text": "ba ngày", "reminder_time": "07:30"})
    assert response.status_code == 200 and "Chỉ nhập các số nguyên" in response.content.decode()
    # The booking desk does not configure; holidays are for administrators.
    assert desk("datlich").get("/desk/appointments/service/").status_code == 403
    assert client.get("/desk/appointments/holiday/add/").status_code == 403


@pytest.mark.parametrize("url", PAGES)
def test_station_staff_have_no_appointment_pages(desk: Any, url: str) -> None:
    response = desk("thanhdong.nv").get(url)
    assert response.status_code == 403


def test_station_staff_do_not_see_the_appointments_menu(desk: Any) -> None:
    html = desk("thanhdong.nv").get("/desk/registration/registration/").content.decode()
    # (an empty group's title stays in the HTML, hidden by CSS; its items are not rendered)
    assert "Lịch chờ xác nhận" not in html and "Tiếp đón" not in html and WORKLIST not in html


@pytest.mark.parametrize("url", PAGES)
def test_patients_cannot_enter_the_desk(desk: Any, url: str) -> None:
    response = desk("bn0000001").get(url)
    assert response.status_code == 302 and response["Location"].startswith("/desk/login/")


def test_roles_split_booking_and_reception(desk: Any) -> None:
    booking, reception = desk("datlich"), desk("tiepdon")
    assert booking.get(CHECKIN).status_code == 403  # the booking desk does not receive patients
    assert booking.get(QUEUE).status_code == 403
    assert reception.get(CHECKIN).status_code == 200 and reception.get(QUEUE).status_code == 200
    html = booking.get(WORKLIST).content.decode()
    assert "Lịch hẹn khám" in html and "Lịch chờ xác nhận" in html
    assert desk("bacsi.noi").get(WORKLIST).status_code == 403
    assert desk("bacsi.noi").get(QUEUE).status_code == 200


# --- Issue 9: items 16 and 17 ------------------------------------------------------------------------


def test_a_phone_booking_refused_for_a_full_slot_records_no_new_patient(desk: Any) -> None:
    from health_f0.appointments.models import SlotCounter

    service = kham_noi()
    slot = free_slots(service)[0]
    SlotCounter.objects.update_or_create(
        service=service, slot_start=slot.start, defaults={"booked": service.capacity_per_slot}
    )
    before = Patient.objects.count()
    response = desk("datlich").post(
        BOOK + f"?service={service.pk}",
        {
            "service": str(service.pk),
            "slot": slot.start.isoformat(),
            "reason": "Đau lưng",
            "bn-full_name": "Mạc Thị Lỡ",
            "bn-date_of_birth": "02/03/1961",
            "bn-sex": "female",
            "bn-phone": "0987 111 333",
            "bn-consent_oral": "on",
        },
    )
    assert response.status_code == 200 and "đã đủ người" in response.content.decode()
    assert Patient.objects.count() == before
    assert not Patient.objects.filter(full_name="Mạc Thị Lỡ").exists()


def test_history_and_refusals_are_in_vietnamese(desk: Any, persona: Any) -> None:
    service = kham_noi()
    appointment = booked_today(new_patient("Lê Thị Hẹn", "+84912000019"), service, persona("datlich"))
    client = desk("tiepdon")
    client.post(CHECKIN, {"q": appointment.check_in_code})
    response = client.post(CHECKIN, {"q": appointment.check_in_code}, follow=True)
    page = response.content.decode()
    assert "(checked_in)" not in page and "Người bệnh đã được tiếp đón lúc" in page
    html = desk("datlich").get(reverse("admin:appointments_appointment_change", args=[appointment.pk]))
    text = html.content.decode()
    history = text[text.index("Lịch sử lịch hẹn") :]
    assert (
        "Đặt lịch" in history and "Kênh đặt: Điện thoại" in history and "Trạng thái: Đã xác nhận" in history
    )
    assert "Tiếp đón" in history and "Số thứ tự: 1" in history
    assert "channel:" not in history and "status:" not in history and "queue_number" not in history
