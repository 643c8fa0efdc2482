"""Doctors and calendars in a real browser, with screenshots: a patient picks a doctor on the last booking
step (or "any doctor"), sees the doctor on the booking, downloads it as an .ics file and finds the
"add to Google Calendar" link; the booking desk books by phone with a doctor and sees a doctor's day and
week on the desk's calendar page."""

from __future__ import annotations

import re
import uuid
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from health_f0.appointments import selectors as appt_selectors
from health_f0.appointments import services as appt_services
from health_f0.appointments.models import Appointment, Doctor, Holiday, ScheduleTemplate, Service
from health_f0.facilities.models import Facility
from health_f0.patients.models import Patient
from tests.browser.test_appointments_journey import login, main_text, user
from tests.browser.test_desk_journeys import desk_session

pytestmark = pytest.mark.browser


def cardiology() -> tuple[Service, Doctor, Doctor]:
    """A clinic every day 07:00-11:30 with two doctors (one seat each per 20-minute slot) and no seat of
    its own; no holidays in the way."""
    Holiday.objects.all().delete()
    room = Facility.objects.get(code="PK-NOI1")
    service = Service.objects.create(
        facility=room,
        code=f"tm-{uuid.uuid4().hex[:6]}",
        name="Khám Tim mạch",
        short_name="Kham Tim mach",
        duration_minutes=20,
        capacity_per_slot=1,
        min_notice_hours=1,
        booking_horizon_days=14,
    )
    tam = Doctor.objects.create(facility=room, title="BS.CKII", full_name="Phạm Văn Tâm")
    lan = Doctor.objects.create(facility=room, title="ThS.BS", full_name="Nguyễn Thị Lan")
    for doctor in (tam, lan):
        for weekday in range(7):
            ScheduleTemplate.objects.create(
                service=service, weekday=weekday, start_time=time(7), end_time=time(11, 30), doctor=doctor
            )
    return service, tam, lan


def test_patient_picks_a_doctor_then_downloads_the_calendar_file(
    page: Any, live_server: Any, sms: Any, axe: Any, shoot: Any
) -> None:
    service, tam, lan = cardiology()
    base = live_server.url
    day = timezone.localdate() + timedelta(days=2)
    # Tâm's first seat is taken: on the last step he shows as full, Lan and "any doctor" are open.
    other = Patient.objects.create(
        full_name="Đỗ Văn Hải",
        date_of_birth=timezone.localdate().replace(year=1960),
        sex="male",
        phone="+84988333444",
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TYT-10510"),
    )
    appt_services.appointment_book(
        patient=other,
        service=service,
        slot_start=appt_selectors.slots_free(service=service, start=day, end=day)[0].start,
        channel="phone",
        actor=user("datlich"),
        doctor=tam,
    )
    login(page, base)
    centre = Facility.objects.get(code="TTYT-HD")
    page.goto(
        f"{base}/dat-lich?co-so={centre.public_id}&dich-vu={service.public_id}&ngay={day.isoformat()}&gio=07:00"
    )
    fieldset = page.get_by_role("group", name="Bác sĩ khám")
    fieldset.wait_for()
    assert fieldset.get_by_label(re.compile("Bác sĩ bất kỳ")).is_checked()
    assert fieldset.get_by_label(re.compile("BS.CKII Phạm Văn Tâm")).is_disabled()
    assert "đã đủ người" in fieldset.inner_text()
    assert axe(page) == []
    shoot(page, "appt-doctor-01-choice")
    fieldset.get_by_label(re.compile("ThS.BS Nguyễn Thị Lan")).check()
    page.get_by_label(re.compile("Nguyễn Văn Hùng")).check()
    page.get_by_role("button", name="Xác nhận đặt lịch").click()
    page.wait_for_url(re.compile(r"/lich-hen/[0-9a-f-]{36}$"))
    booking = Appointment.objects.get(public_id=page.url.rsplit("/", 1)[1])
    assert booking.doctor == lan
    text = main_text(page)
    assert "ThS.BS Nguyễn Thị Lan" in text and "Bác sĩ khám" in text
    assert "ThS.BS Nguyen Thi Lan" in sms.last(to=booking.patient.phone, kind="appointment")["body"]
    assert axe(page) == []
    shoot(page, "appt-doctor-02-booking")
    google = page.get_by_role("link", name=re.compile("Thêm vào Google Calendar"))
    assert google.get_attribute("href").startswith(
        "https://calendar.google.com/calendar/render?action=TEMPLATE"
    )
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Tải tệp lịch (.ics)").click()
    download = download_info.value
    assert download.suggested_filename.startswith("lich-hen-") and download.suggested_filename.endswith(
        ".ics"
    )
    content = Path(download.path()).read_text(encoding="utf-8").replace("\r\n ", "")
    assert content.startswith("BEGIN:VCALENDAR") and "ThS.BS Nguyễn Thị Lan" in content
    assert booking.check_in_code not in content and "Nguyễn Văn Hùng" not in content


def test_desk_books_with_a_doctor_and_sees_the_doctors_day_and_week(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    service, tam, lan = cardiology()
    base = live_server.url
    day = timezone.localdate() + timedelta(days=1)
    hung = Patient.objects.get(account__username="bn0000001")
    with desk_session(browser, base, "datlich") as desk:
        desk.goto(
            f"{base}/desk/appointments/appointment/dat-lich-moi/?patient={hung.pk}&service={service.pk}&bac_si={lan.pk}&tu={day:%d/%m/%Y}"
        )
        assert "ThS.BS Nguyễn Thị Lan" in desk.locator("#id_bac_si option:checked").inner_text()
        desk.locator("label.appt-slot, .appt-slot").first.click()
        shoot(desk, "desk-doctor-book")
        desk.get_by_role("button", name="Đặt lịch và gửi SMS").click()
        desk.wait_for_url(re.compile(r"/appointment/\d+/change/"))
        booking = Appointment.objects.filter(patient=hung, service=service).get()
        assert booking.doctor == lan
        assert "Khám Tim mạch · ThS.BS Nguyễn Thị Lan" in desk.content()
        # The doctor's day, then the week, on the desk's calendar.
        desk.goto(f"{base}/desk/appointments/appointment/lich/?bac_si={lan.pk}&ngay={day:%d/%m/%Y}")
        heading = desk.locator("#content-main h1")
        assert "Lịch khám của ThS.BS Nguyễn Thị Lan" in heading.inner_text()
        assert hung.full_name in desk.locator("#content-main").inner_text()
        shoot(desk, "desk-calendar-doctor-day")
        desk.get_by_label("Tuần").check()
        desk.get_by_role("button", name="Xem lịch").click()
        desk.wait_for_url(re.compile(r"xem=tuan"))
        assert desk.locator("section.cal-day").count() == 7
        assert hung.full_name in desk.locator("#content-main").inner_text()
        shoot(desk, "desk-calendar-doctor-week")
        desk.goto(
            f"{base}/desk/appointments/appointment/lich/?dich_vu={service.pk}&ngay={day:%d/%m/%Y}&xem=tuan"
        )
        assert "ThS.BS Nguyễn Thị Lan" in desk.locator("#content-main").inner_text()
        shoot(desk, "desk-calendar-service-week")
