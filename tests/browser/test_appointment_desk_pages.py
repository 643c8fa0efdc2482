"""The desk and portal pages changed for issue 9 (items 14, 19, 20), in a real browser, with screenshots:
the schedule override form (dd/mm/yyyy with the calendar picker, Vietnamese errors), the holiday-data
warning, the booking desk's worklist (when a request lapses), "Đổi giờ" with its date field, the booking's
reminders and SMS, the re-exam plans with their booked date, the guest form's errors in one round, and the
HIS visit history with decimal commas and department names."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from health_f0.appointments.models import Appointment, Holiday, ReexamPlan, ScheduleOverride, Service
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabResult, HisLink, HisVisit
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient
from tests.browser.test_appointments_journey import demo_bookings, ent_service, login, main_text
from tests.browser.test_desk_journeys import desk_session

pytestmark = pytest.mark.browser


def no_sideways_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth + 1")
    )


def test_override_form_dates_picker_and_errors(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    base = live_server.url
    service = Service.objects.get(code="kham-noi")
    next_year = timezone.localdate().year + 1
    with desk_session(browser, base, "ttyt.lanhdao") as desk:
        desk.goto(base + "/desk/appointments/scheduleoverride/add/")
        date_box = desk.locator("input[name=date]")
        # The desk's calendar picker writes dd/mm/yyyy (Django's admin calendar, styled by unfold).
        desk.locator("#calendarlink0").click()
        desk.locator("#calendarbox0").wait_for()
        desk.locator("#calendarbox0 .calendar td a").first.click()
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4}", date_box.input_value())
        desk.locator("select[name=service]").select_option(str(service.pk))
        date_box.fill(f"20/12/{next_year}")
        desk.locator("input[name=start_time]").fill("11:00")
        desk.locator("input[name=end_time]").fill("07:00")
        desk.locator("input[name=reason]").fill("Họp giao ban")
        desk.locator("[name=_save]").click()
        desk.get_by_text("Giờ kết thúc phải sau giờ bắt đầu").first.wait_for()
        assert date_box.input_value() == f"20/12/{next_year}"
        shoot(desk, "desk-override-errors")
        desk.locator("input[name=end_time]").fill("15:00")
        desk.locator("input[name=start_time]").fill("13:30")
        desk.locator("[name=_save]").click()
        desk.wait_for_url("**/scheduleoverride/")
        saved = ScheduleOverride.objects.get(service=service, reason="Họp giao ban")
        assert (saved.date.day, saved.date.month) == (20, 12)
        # The schedule pages say when next year's holidays are missing.
        Holiday.objects.filter(date__year=next_year).delete()
        desk.goto(base + "/desk/appointments/service/")
        assert f"Chưa có dữ liệu ngày nghỉ lễ năm {next_year}" in desk.content()
        shoot(desk, "desk-holiday-warning")


def test_worklist_move_with_a_day_field_then_reminders_on_the_booking(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    base = live_server.url
    demo_bookings()
    request = Appointment.objects.get(patient__account__username="bn0000001", status="requested")
    with desk_session(browser, base, "datlich") as desk:
        desk.goto(base + "/desk/appointments/appointment/dat-lich/")
        assert "tự huỷ lúc" in desk.content()
        shoot(desk, "desk-worklist-lapse")
        # At 1280 px with the sidebar the whole table fits: the actions column is not scrolled off.
        box = desk.locator("#content-main table").locator("xpath=..")
        assert box.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the worklist overflows at 1280 px"
        desk.get_by_role("link", name="Đổi giờ").first.click()
        desk.get_by_role("heading", name="Đổi lịch hẹn").wait_for()
        day = timezone.localdate() + timedelta(days=21)
        day_box = desk.get_by_label("Xem từ ngày")
        day_box.fill(f"{day:%d/%m/%Y}")
        desk.get_by_role("button", name="Chuyển đến ngày").click()
        desk.wait_for_url(re.compile(r"tu="))
        text = desk.locator("#content-main").inner_text()
        assert f"{day:%d/%m/%Y}" in text or f"{day + timedelta(days=1):%d/%m/%Y}" in text
        desk.locator(".appt-slot:not(.appt-current) input:not([disabled])").first.check(force=True)
        shoot(desk, "desk-move-day-field")
        before = OutboxMessage.objects.filter(to=request.patient.phone).count()
        desk.get_by_role("button", name="Đổi sang giờ đã chọn").click()
        desk.wait_for_url("**/dat-lich/**")
        request.refresh_from_db()
        assert request.status == "confirmed" and timezone.localtime(request.slot_start).date() >= day
        assert OutboxMessage.objects.filter(to=request.patient.phone).count() == before + 1  # one SMS
        desk.goto(base + f"/desk/appointments/appointment/{request.pk}/change/")
        section = desk.locator("#tin-nhan").inner_text()
        assert "Nhắc trước 3 ngày" in section and "Đã lên lịch" in section
        desk.locator("#tin-nhan").scroll_into_view_if_needed()
        shoot(desk, "desk-booking-reminders")
        # The re-exam plans list the booked time.
        plan = ReexamPlan.objects.first()
        assert plan is not None
        desk.goto(base + "/desk/appointments/reexamplan/")
        assert "lịch đã đặt" in desk.content().lower()
        shoot(desk, "desk-reexam-plans")


def test_guest_form_errors_in_one_round(page: Any, live_server: Any, shoot: Any, axe: Any) -> None:
    service = ent_service()
    base = live_server.url
    page.goto(base + "/dat-lich")
    page.get_by_role("link", name=re.compile("Trung tâm Y tế khu vực Hải Dương")).click()
    page.get_by_role("link", name=re.compile(service.name)).click()
    page.locator("a.day-open").last.click()
    page.locator("a.slot").first.click()
    page.get_by_label("Họ và tên người đi khám").fill("Lê Thị Hoa 2")
    page.get_by_label("Ngày sinh").fill("12/03/1985")
    page.get_by_label("Nữ", exact=True).check()
    page.get_by_label("Số điện thoại di động").fill("12345")
    page.get_by_label(re.compile("Số căn cước")).fill("123")
    page.get_by_role("button", name="Xác nhận đặt lịch").last.click()
    summary = page.locator("main").inner_text()
    for message in (
        "Họ và tên không được chứa chữ số",
        "Số điện thoại di động không hợp lệ",
        "Số CCCD phải gồm",
        "Cần đồng ý",
        "Vui lòng nhập mã OTP",
    ):
        assert message in summary, message
    assert axe(page) == []
    assert no_sideways_scroll(page)
    shoot(page, "portal-guest-errors-one-round")


def test_his_visits_read_with_decimal_commas_and_department_names(
    page: Any, live_server: Any, shoot: Any
) -> None:
    base = live_server.url
    hung = Patient.objects.get(account__username="bn0000001")
    facility = Facility.objects.get(code="TTYT-HD")
    HisLink.objects.get_or_create(
        patient=hung,
        facility=facility,
        active=True,
        defaults={"his_patient_id": "HIS-B", "his_code": "BN-B", "linked_at": timezone.now()},
    )
    when = timezone.now() - timedelta(days=2)
    visit = HisVisit.objects.create(
        patient=hung,
        facility=facility,
        source="xml",
        external_id="MALK-BROWSER",
        department_code="K01",
        admitted_at=when,
        discharged_at=when + timedelta(hours=1),
        diagnosis_text="Tăng huyết áp vô căn",
        icd10="I10",
    )
    HisLabResult.objects.create(
        patient=hung,
        facility=facility,
        source="xml",
        external_id="MALK-BROWSER:1",
        visit=visit,
        name="Glucose máu",
        value="7.8",
        value_number=Decimal("7.8"),
        unit="mmol/L",
        reference_low=Decimal("3.9"),
        reference_high=Decimal("6.4"),
        reference_text="3.9 - 6.4",
        flag="H",
        observed_at=when,
    )
    login(page, base)
    page.goto(base + "/ho-so-kham")
    text = main_text(page)
    assert "Khoa Khám bệnh" in text and "7,8 mmol/L" in text and "3,9 – 6,4 mmol/L" in text
    assert "3.9" not in text
    assert no_sideways_scroll(page)
    shoot(page, "portal-his-visit-decimal")


def test_desk_pages_are_usable_by_the_booking_desk(
    browser: Any, live_server: Any, seeded: None, shoot: Any
) -> None:
    """The phone booking page's day field also takes dd/mm/yyyy and keeps the patient and service."""
    base = live_server.url
    service = Service.objects.get(code="kham-noi")
    with desk_session(browser, base, "datlich") as desk:
        desk.goto(base + f"/desk/appointments/appointment/dat-lich-moi/?service={service.pk}")
        day = timezone.localdate() + timedelta(days=30)
        desk.get_by_label("Xem từ ngày").fill(f"{day:%d/%m/%Y}")
        desk.get_by_role("button", name="Chuyển đến ngày").click()
        desk.wait_for_url(re.compile(r"tu="))
        assert f"service={service.pk}" in desk.url
        assert desk.get_by_label("Xem từ ngày").input_value() == f"{day:%d/%m/%Y}"
        shoot(desk, "desk-phone-booking-day-field")
