"""The appointment report per clinical department in a real browser (headless Chromium, desktop size): the TTYT
manager (ttyt.lanhdao) opens the reports, follows the card to the per-department view, sees Khoa Khám bệnh
with its accounts, HIS links, bookings by channel, waits and reminder cost in readable tables (dd/mm/yyyy,
thousands separators, đồng), filters by date, and downloads the XLSX (audited). No serious or critical axe
violations; screenshots in var/screenshots/report-departments-*.png."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from openpyxl import load_workbook

from health_f0.appointments.models import Appointment, Service
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.his.models import HisLink
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient
from health_f0.reports.appointments import departments
from health_f0.reports.templatetags.report_format import decimal1, percent, thousands, vnd
from tests.browser.test_desk_journeys import desk_session

pytestmark = pytest.mark.browser


def _figures() -> None:
    """A morning at Khám Nội: eleven patients received (a few with accounts, two linked), waits of 4..40
    minutes, a no-show, and reminders by SMS and Zalo."""
    ttyt = Facility.objects.get(code="TTYT-HD")
    service = Service.objects.filter(facility__code="PK-NOI1").order_by("pk").first()
    assert service is not None
    now = timezone.now().replace(second=0, microsecond=0)
    morning = now - timedelta(days=1)
    users = get_user_model()
    for n in range(12):
        account = users.objects.create_user(username=f"report-{n}", password=None) if n < 5 else None
        patient = Patient.objects.create(
            full_name=f"Người bệnh báo cáo {n}",
            date_of_birth=timezone.localdate().replace(year=1975),
            sex="female",
            phone=f"+849300000{n:02d}",
            province_code=31,
            ward_code=10510,
            facility=Facility.objects.get(code="TYT-10510"),
            account=account,
        )
        if n < 2:
            HisLink.objects.create(
                patient=patient,
                facility=ttyt,
                his_patient_id=f"BC{n:04d}",
                linked_at=morning - timedelta(days=30),
            )
        slot = morning + timedelta(minutes=10 * n)
        came = n != 11
        appointment = Appointment.objects.create(
            patient=patient,
            service=service,
            facility=service.facility,
            slot_start=slot,
            slot_end=slot + timedelta(minutes=15),
            channel=("app", "web", "phone", "desk")[n % 4],
            status="completed" if came else "no_show",
            check_in_code=f"BC{n:06d}",
            checked_in_at=slot if came else None,
            called_at=slot + timedelta(minutes=4 + 4 * n) if came else None,
            queue_date=timezone.localdate(slot) if came else None,
            queue_number=n + 1 if came else None,
        )
        Appointment.objects.filter(pk=appointment.pk).update(created_at=slot - timedelta(days=2))
        message = OutboxMessage.objects.create(
            kind="appointment_reminder",
            channel="zns" if n % 3 == 0 else "sms",
            to=patient.phone,
            body="Nhac lich hen kham",
            status="delivered",
            cost_vnd=300 if n % 3 == 0 else 1600,
            facility=service.facility,
            subject_ref=f"appointment:{appointment.pk}",
        )
        OutboxMessage.objects.filter(pk=message.pk).update(created_at=slot - timedelta(days=1))


def test_manager_sees_departments_and_exports(
    browser: Any, live_server: Any, seeded: None, shoot: Any, axe: Any
) -> None:
    _figures()
    base = live_server.url
    with desk_session(browser, base, "ttyt.lanhdao") as desk:
        desk.goto(base + "/bao-cao/")
        desk.get_by_role("link", name=re.compile("Lịch hẹn theo khoa")).click()
        desk.wait_for_url("**/bao-cao/lich-hen/theo-khoa/**")
        assert (
            desk.locator("#content-main")
            .get_by_role("heading", name="Báo cáo lịch hẹn theo khoa")
            .is_visible()
        )
        # What the selector says for the same scope and range (the demo's own bookings included).
        report = departments.department_report(
            user=get_user_model().objects.get(username="ttyt.lanhdao"),
            date_from=timezone.localdate() - timedelta(days=13),
            date_to=timezone.localdate(),
        )
        kkb = next(row for row in report.rows if row.code == "KKB-HD")
        f = kkb.figures
        assert f.linked >= 2 and f.accounts >= 5 and f.waited >= 11 and f.no_show >= 1
        accounts = desk.locator("table[data-table=accounts]")
        row = accounts.locator("tr[data-row='department:KKB-HD']")
        assert row.locator("th").inner_text().strip() == "Khoa Khám bệnh"
        cells = [text.strip() for text in row.locator("td").all_inner_texts()]
        expected = [
            thousands(f.patients),
            thousands(f.accounts),
            thousands(f.new_accounts),
            thousands(f.linked),
        ]
        assert cells[1:5] == expected, cells
        assert cells[5:7] == [percent(f.link_share), "≥ 80 %"], cells
        assert (
            accounts.locator("tr.rp-subtotal")
            .inner_text()
            .startswith("Tổng Trung tâm Y tế khu vực Hải Dương")
        )
        cost = desk.locator("table[data-table=cost] tr", has_text="Khoa Khám bệnh").inner_text()
        assert (
            vnd(f.sms_cost_vnd) in cost and vnd(f.zns_cost_vnd) in cost and vnd(f.reminder_cost_vnd) in cost
        )
        assert f.sms_cost_vnd >= 12_800 and re.search(r"\d{1,3}\.\d{3}\u00a0đ", cost)
        bookings = desk.locator("table[data-table=bookings] tr", has_text="Khoa Khám bệnh").inner_text()
        assert percent(f.app_share) in bookings
        wait = desk.locator("table[data-table=wait] tr", has_text="Khoa Khám bệnh").inner_text()
        assert decimal1(f.wait_median_minutes) in wait and decimal1(f.wait_p90_minutes) in wait
        assert re.search(r"từ \d{2}/\d{2}/\d{4} đến \d{2}/\d{2}/\d{4} \(14 ngày\)", desk.content())
        assert axe(desk) == [], axe(desk)
        shoot(desk, "report-departments-ttyt")

        with desk.expect_download() as download_info:
            desk.get_by_role("link", name="Tải Excel (.xlsx)").click()
        download = download_info.value
        assert download.suggested_filename.startswith("bao-cao-lich-hen-theo-khoa-")
        workbook = load_workbook(io.BytesIO(download.path().read_bytes()))
        codes = [row[1].value for row in workbook["Theo khoa"].iter_rows(min_row=2)]
        assert codes == ["KKB-HD", "TTYT-HD"]
        assert AuditLog.objects.filter(verb="export_appointment_department_report").count() == 1

        # A bad date is a clear message, not an error page.
        desk.get_by_label("Từ ngày").fill("31/02/2026")
        desk.get_by_role("button", name="Xem báo cáo").click()
        assert "không hợp lệ" in desk.get_by_role("alert").inner_text()
        shoot(desk, "report-departments-error")
