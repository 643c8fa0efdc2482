"""The appointment report per clinical department (issue 12 §4): accounts and HIS links against the target,
bookings by channel, no-shows, the wait from check-in to call, reminder cost per channel; hospital and scope
totals; access by persona; the XLSX export with its audit row; a constant number of queries.

Range D0..D3 = 02/11/2026 .. 05/11/2026, local time UTC+7. Tree: SYT-31 > TTYT-HD > KKB-HD (Khoa Khám bệnh,
demo) > PK-NOI1 (s1), PK-NHI (s2); TTYT-HD > K-NHI-T (Khoa Nhi, made here) > PK-NHI-T (s3); SYT-31 > TTYT-X >
PK-X1 (s4, a clinic under the TTYT without a department).

KKB-HD  p1 account made D0, linked at TTYT-HD D1: s1 app made D0, slot D1 08:00, came, called after 10 min
        p2 account made 01/2026, not linked: s1 web made D0, slot D1 08:15, no-show
        p3 no account: s2 phone made D0, slot D2 09:00, came, called after 30 min
        p4 account made 01/2026, linked then unlinked D2: walk-in at s1 D2 10:00, called after 20 min
        p5 account made 01/2026, linked at TTYT-X only: s1 desk made D1, slot D2 11:00, came, called after 40 min
        p6 no account: s1 phone made 30/10 (before the range), slot D1 09:00, came, called after 5 min
        p7 no account: s1 booking made and due in October: not in the range
K-NHI-T p1: s3 app made D1, slot D3, still requested
TTYT-X  p5: s4 phone made D0, slot D1 08:00, came, called after 15 min
Reminders: KKB-HD SMS delivered 800 đ (p1), ZNS delivered 300 đ (p2), ZNS fell back (300 đ) + its SMS 800 đ
(p3); not counted: a failed SMS, one from October, a booking notice. TTYT-X: SMS delivered 800 đ (p5).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from health_f0.appointments.models import Appointment, Service
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.facilities.services import facility_save
from health_f0.his.models import HisLink
from health_f0.notifications.models import OutboxMessage
from health_f0.notifications.selectors import outbox_cost_by_channel
from health_f0.patients.models import Patient
from health_f0.reports.appointments import departments, selectors
from health_f0.reports.appointments.departments import DEPARTMENT, HOSPITAL, TOTAL

D0, D1, D2, D3 = (date(2026, 11, 2) + timedelta(days=i) for i in range(4))
PAGE = "/bao-cao/lich-hen/theo-khoa/"
XLSX = "/bao-cao/lich-hen/theo-khoa/xlsx/"
RANGE = {"from": "02/11/2026", "to": "05/11/2026"}
_numbers = count(1)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=UTC) - timedelta(hours=7)


@dataclass
class Dataset:
    s1: Service
    s2: Service
    s3: Service
    s4: Service
    ttyt: Facility
    ttyt_x: Facility
    province: Facility
    kkb: Facility
    nhi: Facility


def _facility(kind: str, code: str, name: str, parent: Facility) -> Facility:
    return facility_save(facility=Facility(kind=kind, code=code, name=name, parent=parent, province_code=31))


def _patient(*, joined: datetime | None = None) -> Patient:
    n = next(_numbers)
    account = None
    if joined is not None:
        account = get_user_model().objects.create_user(username=f"dept-{n}", password=None)
        get_user_model().objects.filter(pk=account.pk).update(date_joined=joined)
    return Patient.objects.create(
        full_name=f"Người bệnh khoa {n}",
        date_of_birth=date(1970, 1, 1),
        sex="male",
        phone=f"+8491{n:07d}",
        province_code=31,
        ward_code=10510,
        facility=Facility.objects.get(code="TYT-10510"),
        account=account,
    )


def _link(patient: Patient, hospital: Facility, when: datetime, unlinked: datetime | None = None) -> None:
    HisLink.objects.create(
        patient=patient,
        facility=hospital,
        his_patient_id=f"BN{next(_numbers):06d}",
        linked_at=when,
        active=unlinked is None,
        active_marker=True if unlinked is None else None,
        unlinked_at=unlinked,
    )


def _book(
    service: Service,
    patient: Patient,
    *,
    made: datetime,
    slot: datetime,
    channel: str,
    status: str,
    waited: int | None = None,
    is_walk_in: bool = False,
) -> Appointment:
    came = status in ("checked_in", "completed")
    appointment = Appointment.objects.create(
        patient=patient,
        service=service,
        facility=service.facility,
        slot_start=slot,
        slot_end=slot + timedelta(minutes=15),
        channel=channel,
        status=status,
        check_in_code=f"D{next(_numbers):07d}",
        is_walk_in=is_walk_in,
        checked_in_at=slot if came else None,
        called_at=slot + timedelta(minutes=waited) if came and waited is not None else None,
        queue_date=(slot + timedelta(hours=7)).date() if came else None,
        queue_number=next(_numbers) if came else None,
    )
    Appointment.objects.filter(pk=appointment.pk).update(created_at=made)
    return appointment


def _message(
    appointment: Appointment,
    *,
    channel: str,
    status: str,
    cost: int,
    when: datetime,
    kind: str = "appointment_reminder",
    fallback_for: OutboxMessage | None = None,
) -> OutboxMessage:
    message = OutboxMessage.objects.create(
        kind=kind,
        channel=channel,
        to=appointment.patient.phone,
        body="Nhac lich hen",
        status=status,
        cost_vnd=cost,
        facility=appointment.facility,
        subject_ref=f"appointment:{appointment.pk}",
        fallback_for=fallback_for,
    )
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=when)
    return message


@pytest.fixture
def data(demo: Any, settings: Any) -> Dataset:
    settings.DEPARTMENT_LINK_TARGETS = {"K-NHI-T": 0.9}
    province = Facility.objects.get(code="SYT-31")
    ttyt = Facility.objects.get(code="TTYT-HD")
    kkb = Facility.objects.get(code="KKB-HD")
    nhi = _facility("department", "K-NHI-T", "Khoa Nhi", ttyt)
    ttyt_x = _facility("ttyt", "TTYT-X", "Trung tâm Y tế khu vực Kim Thành", province)

    def service(room: Facility, code: str, name: str) -> Service:
        return Service.objects.create(facility=room, code=code, name=name, capacity_per_slot=3)

    s1 = service(Facility.objects.get(code="PK-NOI1"), "d-noi", "Khám Nội (khoa)")
    s2 = service(Facility.objects.get(code="PK-NHI"), "d-nhi", "Khám Nhi (khoa)")
    s3 = service(_facility("clinic_room", "PK-NHI-T", "Phòng khám Nhi 2", nhi), "d-nhi2", "Khám Nhi 2")
    s4 = service(
        _facility("clinic_room", "PK-X1", "Phòng khám Kim Thành 1", ttyt_x), "d-kt", "Khám Kim Thành"
    )

    before = datetime(2026, 1, 1, tzinfo=UTC)
    p1 = _patient(joined=at(D0, 7))
    p2 = _patient(joined=before)
    p3 = _patient()
    p4 = _patient(joined=before)
    p5 = _patient(joined=before)
    p6 = _patient()
    p7 = _patient()
    _link(p1, ttyt, at(D1, 12))
    _link(p4, ttyt, before, unlinked=at(D2, 12))
    _link(p5, ttyt_x, before)

    a1 = _book(s1, p1, made=at(D0, 8), slot=at(D1, 8), channel="app", status="completed", waited=10)
    a2 = _book(s1, p2, made=at(D0, 9), slot=at(D1, 8, 15), channel="web", status="no_show")
    a3 = _book(s2, p3, made=at(D0, 10), slot=at(D2, 9), channel="phone", status="completed", waited=30)
    _book(
        s1,
        p4,
        made=at(D2, 10),
        slot=at(D2, 10),
        channel="desk",
        status="checked_in",
        waited=20,
        is_walk_in=True,
    )
    _book(s1, p5, made=at(D1, 7), slot=at(D2, 11), channel="desk", status="completed", waited=40)
    _book(
        s1, p6, made=at(date(2026, 10, 30), 9), slot=at(D1, 9), channel="phone", status="completed", waited=5
    )
    old = _book(
        s1,
        p7,
        made=at(date(2026, 10, 1), 9),
        slot=at(date(2026, 10, 2), 9),
        channel="app",
        status="completed",
    )
    _book(s3, p1, made=at(D1, 9), slot=at(D3, 8), channel="app", status="requested")
    a5x = _book(s4, p5, made=at(D0, 11), slot=at(D1, 8), channel="phone", status="completed", waited=15)

    _message(a1, channel="sms", status="delivered", cost=800, when=at(D0, 8, 5))
    _message(a2, channel="zns", status="delivered", cost=300, when=at(D0, 9, 5))
    zns = _message(a3, channel="zns", status="fell_back", cost=300, when=at(D1, 10))
    _message(a3, channel="sms", status="sent", cost=800, when=at(D1, 10, 15), fallback_for=zns)
    _message(a2, channel="sms", status="dead", cost=800, when=at(D1, 11))
    _message(old, channel="sms", status="delivered", cost=800, when=at(date(2026, 10, 1), 9))
    _message(a1, channel="sms", status="delivered", cost=800, when=at(D0, 8, 1), kind="appointment")
    _message(a5x, channel="sms", status="delivered", cost=800, when=at(D0, 11, 5))
    return Dataset(s1, s2, s3, s4, ttyt, ttyt_x, province, kkb, nhi)


def _report(user: Any, **kwargs: Any) -> departments.DepartmentReport:
    return departments.department_report(user=user, date_from=D0, date_to=D3, **kwargs)


def _rows(report: departments.DepartmentReport) -> dict[tuple[str, str], departments.DepartmentRow]:
    rows = [*report.rows, *([report.total] if report.total else [])]
    return {(row.level, row.code): row for row in rows}


def test_department_figures_totals_and_targets(persona: Any, data: Dataset) -> None:
    report = _report(persona("syt.lanhdao"))
    rows = _rows(report)
    assert [(row.level, row.code) for row in report.rows] == [
        (DEPARTMENT, "KKB-HD"),
        (DEPARTMENT, "K-NHI-T"),
        (HOSPITAL, "TTYT-HD"),
        (DEPARTMENT, "TTYT-X"),
        (HOSPITAL, "TTYT-X"),
    ]
    kkb = rows[(DEPARTMENT, "KKB-HD")]
    f = kkb.figures
    assert (f.patients, f.accounts, f.new_accounts, f.linked) == (6, 4, 1, 1)
    assert f.link_share == 0.25 and kkb.link_target == 0.8 and kkb.link_target_met is False
    assert (f.booked_app, f.booked_web, f.booked_phone, f.booked_desk, f.walk_ins) == (1, 1, 1, 1, 1)
    assert (f.visits, f.visits_app, f.app_share) == (5, 1, 0.2)
    assert (f.came, f.no_show, f.no_show_rate) == (4, 1, 0.2)
    assert (f.waited, f.wait_median_minutes, f.wait_p90_minutes) == (5, 20.0, 40.0)
    assert (f.sms_messages, f.sms_cost_vnd, f.zns_messages, f.zns_cost_vnd, f.zns_fell_back) == (
        2,
        1600,
        2,
        600,
        1,
    )
    assert f.reminder_cost_vnd == 2200

    nhi = rows[(DEPARTMENT, "K-NHI-T")]
    assert (nhi.figures.patients, nhi.figures.accounts, nhi.figures.new_accounts, nhi.figures.linked) == (
        1,
        1,
        1,
        1,
    )
    assert nhi.link_target == 0.9 and nhi.link_target_met is True
    assert nhi.figures.booked_app == 1 and nhi.figures.visits == 0 and nhi.figures.app_share is None

    # The hospital's total counts p1 once although two of its departments saw them.
    hd = rows[(HOSPITAL, "TTYT-HD")].figures
    assert (hd.patients, hd.accounts, hd.new_accounts, hd.linked) == (6, 4, 1, 1)
    assert (hd.booked_app, hd.visits, hd.waited, hd.wait_median_minutes) == (2, 5, 5, 20.0)

    outside = rows[(DEPARTMENT, "TTYT-X")]
    assert outside.no_department and outside.name.startswith("Không thuộc khoa")
    assert (outside.figures.patients, outside.figures.linked, outside.figures.link_share) == (1, 1, 1.0)
    assert outside.figures.wait_median_minutes == 15.0

    total = rows[(TOTAL, "SYT-31")]
    t = total.figures
    assert total.name == "Tổng: Sở Y tế thành phố Hải Phòng"
    assert (t.patients, t.accounts, t.new_accounts, t.linked) == (7, 5, 1, 2)
    assert (t.waited, t.wait_median_minutes, t.wait_p90_minutes) == (6, 17.5, 40.0)
    assert (t.sms_messages, t.sms_cost_vnd, t.zns_messages, t.zns_cost_vnd) == (3, 2400, 2, 600)


def test_figures_agree_with_the_appointment_report_and_the_outbox(persona: Any, data: Dataset) -> None:
    user = persona("syt.lanhdao")
    total = _report(user).total
    assert total is not None
    period = selectors.appointment_report(user=user, date_from=D0, date_to=D3).period
    t = total.figures
    assert (t.booked_app, t.booked_web, t.booked_phone, t.booked_desk) == (
        period.booked_app,
        period.booked_web,
        period.booked_phone,
        period.booked_desk,
    )
    assert (t.visits, t.visits_app, t.walk_ins, t.came, t.no_show) == (
        period.visits,
        period.visits_app,
        period.walk_ins,
        period.came,
        period.no_show,
    )
    start, end = at(D0, 0), at(D3 + timedelta(days=1), 0)
    costs = {
        c.channel: (c.messages, c.cost_vnd)
        for c in outbox_cost_by_channel(
            OutboxMessage.objects.filter(
                kind="appointment_reminder",
                status__in=departments.BILLED_STATUSES,
                created_at__gte=start,
                created_at__lt=end,
            )
        )
    }
    assert costs == {"sms": (t.sms_messages, t.sms_cost_vnd), "zns": (t.zns_messages, t.zns_cost_vnd)}


@pytest.mark.parametrize("username", ["ttyt.lanhdao", "datlich"])
def test_ttyt_roles_see_their_subtree_only(client: Any, persona: Any, data: Dataset, username: str) -> None:
    report = _report(persona(username))
    assert {row.code for row in report.rows} == {"KKB-HD", "K-NHI-T", "TTYT-HD"}
    assert report.total is not None and report.total.code == "TTYT-HD"
    assert [row.level for row in report.table_rows] == [DEPARTMENT, DEPARTMENT, HOSPITAL]
    assert report.total.figures.patients == 6
    client.force_login(persona(username))
    response = client.get(PAGE, RANGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Khoa Khám bệnh" in html and "Khoa Nhi" in html and "Kim Thành" not in html
    # Another TTYT is "not found", on the page and the export.
    for url in (PAGE, XLSX):
        refused = client.get(url, {**RANGE, "facility": data.ttyt_x.pk})
        assert refused.status_code == 400 and b"Kim Th" not in refused.content


def test_manager_narrows_to_a_department(persona: Any, data: Dataset) -> None:
    report = _report(persona("syt.lanhdao"), facility_id=data.kkb.pk)
    # No hospital row (only part of it is in the report); the total is the department's, shown as a row.
    assert [(row.level, row.code) for row in report.table_rows] == [(DEPARTMENT, "KKB-HD"), (TOTAL, "KKB-HD")]
    # The link that counts is still the hospital's.
    assert report.rows[0].figures.linked == 1 and report.total is not None
    assert report.total.figures.linked == 1 and report.total.figures.patients == 6


@pytest.mark.parametrize(
    "username", ["thanhdong.nv", "thanhdong.truong", "tiepdon", "lienket.his", "bacsi.dieutri"]
)
def test_other_roles_are_refused(client: Any, persona: Any, data: Dataset, username: str) -> None:
    client.force_login(persona(username))
    assert client.get(PAGE, RANGE).status_code == 403
    assert client.get(XLSX, RANGE).status_code == 403
    assert not AuditLog.objects.filter(verb="export_appointment_department_report").exists()


def test_anonymous_goes_to_the_desk_login(client: Any, data: Dataset) -> None:
    for url in (PAGE, XLSX):
        response = client.get(url, RANGE)
        assert response.status_code == 302 and "/desk/login/" in response["Location"]


def test_bad_dates_are_a_clear_400(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(PAGE, {"from": "31/02/2026", "to": "05/11/2026"})
    assert response.status_code == 400 and "dd/mm/yyyy" in response.content.decode()
    assert client.get(XLSX, {"from": "05/11/2026", "to": "01/11/2026"}).status_code == 400


def test_page_formats_numbers_dates_and_money(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("syt.lanhdao"))
    html = client.get(PAGE, RANGE).content.decode()
    assert "từ 02/11/2026 đến 05/11/2026 (4 ngày)" in html
    assert "2.200\u00a0đ" in html and "3.000\u00a0đ" in html  # KKB-HD's and the province's reminder cost
    assert "25,0 %" in html and "≥ 90 %" in html and "Chưa đạt" in html
    assert "Tổng Trung tâm Y tế khu vực Hải Dương" in html and "Tổng: Sở Y tế thành phố Hải Phòng" in html
    assert "/bao-cao/lich-hen/theo-khoa/xlsx/?from=02%2F11%2F2026" in html


def test_xlsx_export_rows_formats_and_audit(client: Any, persona: Any, data: Dataset) -> None:
    manager = persona("ttyt.lanhdao")
    client.force_login(manager)
    response = client.get(XLSX, RANGE)
    assert response.status_code == 200
    assert 'filename="bao-cao-lich-hen-theo-khoa-02112026-05112026.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Theo khoa", "Ghi chú"]
    sheet = workbook["Theo khoa"]
    header = [cell.value for cell in sheet[1]]
    assert header[:5] == ["Cấp", "Mã", "Khoa", "Bệnh viện/TTYT", "Người bệnh của khoa"]
    assert [row[1].value for row in sheet.iter_rows(min_row=2)] == ["KKB-HD", "K-NHI-T", "TTYT-HD"]
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=2)}  # the TTYT's total is the scope's
    kkb = dict(zip(header, rows["KKB-HD"], strict=True))
    assert kkb["Tỷ lệ liên kết HIS"].value == 0.25 and kkb["Tỷ lệ liên kết HIS"].number_format == "0.0%"
    assert kkb["Chỉ tiêu liên kết HIS"].value == 0.8 and kkb["Đạt chỉ tiêu liên kết"].value == "Chưa đạt"
    assert kkb["Chi phí SMS (đồng)"].value == 1600 and kkb["Chi phí SMS (đồng)"].number_format == "#,##0"
    assert kkb["Tổng chi phí tin nhắc (đồng)"].value == 2200
    assert kkb["Chờ gọi số: P90 (phút)"].value == 40.0
    assert any("Chờ gọi số" in str(row[0].value) for row in workbook["Ghi chú"].iter_rows())
    audit = AuditLog.objects.get(verb="export_appointment_department_report")
    assert audit.actor == manager and audit.action == AuditLog.Action.EXPORT
    assert audit.data == {
        "report": "lich-hen-theo-khoa",
        "from": "2026-11-02",
        "to": "2026-11-05",
        "departments": 2,
        "format": "xlsx",
    }


def test_a_scope_without_services_is_an_empty_report(persona: Any, demo: Any) -> None:
    report = _report(persona("syt.lanhdao"))
    assert report.rows == [] and report.total is not None and report.total.figures.patients == 0


def test_query_count_does_not_grow_with_departments_services_or_days(persona: Any, data: Dataset) -> None:
    user = persona("syt.lanhdao")
    _report(user)  # warm the per-user scope cache
    user = persona("syt.lanhdao")
    with CaptureQueriesContext(connection) as first:
        _report(user)
    assert len(first.captured_queries) <= 16
    for i in range(3):
        department = _facility("department", f"K-MORE-{i}", f"Khoa thêm {i}", data.ttyt)
        room = _facility("clinic_room", f"PK-MORE-{i}", f"Phòng thêm {i}", department)
        service = Service.objects.create(facility=room, code=f"more-{i}", name=f"Khám thêm {i}")
        _book(
            service,
            _patient(joined=at(D1, 7)),
            made=at(D1, 8),
            slot=at(D2, 8),
            channel="app",
            status="completed",
            waited=7,
        )
    user = persona("syt.lanhdao")
    with CaptureQueriesContext(connection) as second:
        report = departments.department_report(user=user, date_from=D0 - timedelta(days=90), date_to=D3)
    assert len(second.captured_queries) == len(first.captured_queries)
    assert len(report.departments) == 6
