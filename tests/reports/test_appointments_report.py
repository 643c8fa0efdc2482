"""Managers' appointment report: figures per service per day and their roll-ups, access by persona, the XLSX
export with its audit row, bad input, and a query count that does not grow with days or services.

Range D0..D3 = 02/11/2026 (Monday) .. 05/11/2026, local time UTC+7. Services: S1 Khám Nội (PK-NOI1), S2
Khám Nhi (PK-NHI), both under TTYT-HD; S3 at a second TTYT (TTYT-X) of the same Sở Y tế.

S1  a1 app,   made D0 08:00, desk confirmed after 30 min, slot D1 08:00, came (checked in D1)
    a2 app,   made D0 09:00, confirmed after 90 min,       slot D1 08:15, no-show
    a3 web,   made D0 10:00, confirmed after 10 min,       slot D2 09:00, came
    a4 phone, made D0 11:00 (desk booking, confirmed at once), re-exam, slot D1 09:00, came
    a5 desk,  made D1 07:00, re-exam, slot D2 08:00, no-show; the patient walks in at S1 on D3 (w2): adhered
    a6 app,   made D1 08:00, declined by the desk
    a7 app,   made D1 09:00, still requested (slot D3)
    a8 desk,  made D1 10:00, re-exam, slot D2 10:00, no-show, never came back
    w1 walk-in received D1; w2 walk-in (a5's patient) received D3 09:00
S2  b1 app,   made D0 12:00, confirmed after 20 min, slot D1 10:00, came
S3  c1 phone, made D0 13:00, slot D1 09:00, came
SMS: a1 booking notice delivered D0; a1 reminder sent D0; b1 reminder delivered D0; a2 reminder failed D0
(not counted); c1 reminder delivered D0 (TTYT-X).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from health_f0.appointments.models import Appointment, ScheduleTemplate, Service
from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility
from health_f0.facilities.services import facility_save
from health_f0.notifications.models import OutboxMessage
from health_f0.patients.models import Patient
from health_f0.reports.appointments import selectors

D0, D1, D2, D3 = (date(2026, 11, 2) + timedelta(days=i) for i in range(4))
PAGE = "/bao-cao/lich-hen/"
XLSX = "/bao-cao/lich-hen/xlsx/"
RANGE = {"from": "02/11/2026", "to": "05/11/2026"}
_numbers = count(1)


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), tzinfo=UTC) - timedelta(hours=7)


@dataclass
class Dataset:
    s1: Service
    s2: Service
    s3: Service
    ttyt: Facility
    ttyt_x: Facility
    province: Facility
    desk: Any


def _service(facility: Facility, code: str, name: str) -> Service:
    service = Service.objects.create(facility=facility, code=code, name=name, capacity_per_slot=3)
    ScheduleTemplate.objects.create(service=service, weekday=0, start_time=time(7), end_time=time(11))
    return service


def _patient(station: Facility) -> Patient:
    n = next(_numbers)
    return Patient.objects.create(
        full_name=f"Người bệnh {n}",
        date_of_birth=date(1960, 1, 1),
        sex="female",
        phone=f"+8490{n:07d}",
        province_code=31,
        ward_code=10510,
        facility=station,
    )


def _book(
    service: Service,
    patient: Patient,
    *,
    made: datetime,
    slot: datetime,
    channel: str,
    status: str,
    confirmed_after: int | None = None,
    confirmed_by: Any = None,
    is_reexam: bool = False,
    is_walk_in: bool = False,
    cancel_source: str = "",
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
        check_in_code=f"T{next(_numbers):07d}",
        confirmed_at=made + timedelta(minutes=confirmed_after) if confirmed_after is not None else None,
        confirmed_by=confirmed_by,
        is_reexam=is_reexam,
        is_walk_in=is_walk_in,
        cancel_source=cancel_source,
        checked_in_at=slot if came else None,
        queue_date=(slot + timedelta(hours=7)).date() if came else None,
        queue_number=next(_numbers) if came else None,
    )
    Appointment.objects.filter(pk=appointment.pk).update(created_at=made)
    return appointment


def _sms(appointment: Appointment, kind: str, status: str, when: datetime) -> None:
    message = OutboxMessage.objects.create(
        kind=kind,
        to=appointment.patient.phone,
        body="Lich hen",
        status=status,
        facility=appointment.facility,
        subject_ref=f"appointment:{appointment.pk}",
    )
    OutboxMessage.objects.filter(pk=message.pk).update(created_at=when)


@pytest.fixture
def data(demo: Any, persona: Any) -> Dataset:
    call_command("load_appointments_demo", verbosity=0)
    province = Facility.objects.get(code="SYT-31")
    ttyt = Facility.objects.get(code="TTYT-HD")
    ttyt_x = facility_save(
        facility=Facility(
            kind="ttyt",
            code="TTYT-X",
            name="Trung tâm Y tế khu vực Kim Thành",
            parent=province,
            province_code=31,
        )
    )
    room_x = facility_save(
        facility=Facility(
            kind="clinic_room", code="PK-X1", name="Phòng khám Kim Thành 1", parent=ttyt_x, province_code=31
        )
    )
    station = Facility.objects.get(code="TYT-10510")
    s1 = _service(Facility.objects.get(code="PK-NOI1"), "r-noi", "Khám Nội (báo cáo)")
    s2 = _service(Facility.objects.get(code="PK-NHI"), "r-nhi", "Khám Nhi (báo cáo)")
    s3 = _service(room_x, "r-kt", "Khám Nội Kim Thành")
    desk = persona("datlich")

    a1 = _book(
        s1,
        _patient(station),
        made=at(D0, 8),
        slot=at(D1, 8),
        channel="app",
        status="completed",
        confirmed_after=30,
        confirmed_by=desk,
    )
    a2 = _book(
        s1,
        _patient(station),
        made=at(D0, 9),
        slot=at(D1, 8, 15),
        channel="app",
        status="no_show",
        confirmed_after=90,
        confirmed_by=desk,
    )
    _book(
        s1,
        _patient(station),
        made=at(D0, 10),
        slot=at(D2, 9),
        channel="web",
        status="checked_in",
        confirmed_after=10,
        confirmed_by=desk,
    )
    _book(
        s1,
        _patient(station),
        made=at(D0, 11),
        slot=at(D1, 9),
        channel="phone",
        status="completed",
        confirmed_after=0,
        confirmed_by=desk,
        is_reexam=True,
    )
    p5 = _patient(station)
    _book(
        s1,
        p5,
        made=at(D1, 7),
        slot=at(D2, 8),
        channel="desk",
        status="no_show",
        confirmed_after=0,
        confirmed_by=desk,
        is_reexam=True,
    )
    _book(
        s1,
        _patient(station),
        made=at(D1, 8),
        slot=at(D3, 8),
        channel="app",
        status="cancelled",
        cancel_source="declined",
    )
    _book(s1, _patient(station), made=at(D1, 9), slot=at(D3, 8, 30), channel="app", status="requested")
    _book(
        s1,
        _patient(station),
        made=at(D1, 10),
        slot=at(D2, 10),
        channel="desk",
        status="no_show",
        confirmed_after=0,
        confirmed_by=desk,
        is_reexam=True,
    )
    _book(
        s1,
        _patient(station),
        made=at(D1, 9, 30),
        slot=at(D1, 9, 30),
        channel="desk",
        status="completed",
        is_walk_in=True,
    )
    _book(s1, p5, made=at(D3, 9), slot=at(D3, 9), channel="desk", status="checked_in", is_walk_in=True)
    b1 = _book(
        s2,
        _patient(station),
        made=at(D0, 12),
        slot=at(D1, 10),
        channel="app",
        status="completed",
        confirmed_after=20,
        confirmed_by=desk,
    )
    c1 = _book(
        s3,
        _patient(station),
        made=at(D0, 13),
        slot=at(D1, 9),
        channel="phone",
        status="completed",
        confirmed_after=0,
        confirmed_by=desk,
    )

    _sms(a1, "appointment", "delivered", at(D0, 8, 1))
    _sms(a1, "appointment_reminder", "sent", at(D0, 20))
    _sms(b1, "appointment_reminder", "delivered", at(D0, 20))
    _sms(a2, "appointment_reminder", "failed", at(D0, 20))
    _sms(c1, "appointment_reminder", "delivered", at(D0, 20))
    return Dataset(s1=s1, s2=s2, s3=s3, ttyt=ttyt, ttyt_x=ttyt_x, province=province, desk=desk)


def _report(user: Any, **kwargs: Any) -> selectors.AppointmentReport:
    return selectors.appointment_report(user=user, date_from=D0, date_to=D3, **kwargs)


# --- Figures ----------------------------------------------------------------------------------------


def test_service_figures_per_day(persona, data):
    report = _report(persona("ttyt.lanhdao"))
    codes = [u.code for u in report.units["service"]]
    assert {"r-noi", "r-nhi", "kham-noi"} <= set(codes) and "r-kt" not in codes
    s1 = report.figures["service"]
    d0, d1, d2, d3 = (s1[(data.s1.pk, day)] for day in (D0, D1, D2, D3))
    assert (d0.booked_app, d0.booked_web, d0.booked_phone, d0.booked_desk) == (2, 1, 1, 0)
    assert (d0.confirmed, d0.median_confirm_minutes) == (3, 30.0)  # 10, 30, 90
    assert (d1.booked_app, d1.booked_desk, d1.declined, d1.confirmed) == (2, 2, 1, 0)
    assert (d1.visits, d1.visits_app, d1.walk_ins) == (3, 1, 1)
    assert d1.app_share == pytest.approx(1 / 3)
    assert (d1.came, d1.no_show, d1.reexam_due, d1.reexam_came) == (2, 1, 1, 1)
    assert d1.no_show_rate == pytest.approx(1 / 3)
    # D2: a3 came; a5 missed but walked in on D3 (inside the window); a8 never came back.
    assert (d2.visits, d2.visits_app, d2.came, d2.no_show) == (1, 0, 1, 2)
    assert (d2.reexam_due, d2.reexam_came, d2.reexam_adherence) == (2, 1, 0.5)
    assert (d3.visits, d3.walk_ins, d3.app_share) == (1, 1, 0.0)
    assert (d0.notices_sent, d0.notices_delivered, d0.reminders_sent, d0.reminders_delivered) == (1, 1, 1, 0)
    assert s1[(data.s2.pk, D0)].reminders_delivered == 1


def test_roll_ups_recompute_rates_and_medians(persona, data):
    report = _report(persona("syt.lanhdao"))
    ttyt = report.figures["ttyt"]
    assert [u.code for u in report.units["ttyt"]] == ["TTYT-HD", "TTYT-X"]
    hd_d0, hd_d1 = ttyt[(data.ttyt.pk, D0)], ttyt[(data.ttyt.pk, D1)]
    assert (hd_d0.booked_app, hd_d0.confirmed) == (3, 4)
    assert hd_d0.median_confirm_minutes == 25.0  # 10, 20, 30, 90: the mean of the middle two
    assert (hd_d1.visits, hd_d1.visits_app, hd_d1.app_share) == (4, 2, 0.5)
    assert (hd_d0.reminders_sent, hd_d0.reminders_delivered) == (2, 1)
    province_d1 = report.figures["province"][(data.province.pk, D1)]
    assert (province_d1.visits, province_d1.visits_app, province_d1.came) == (5, 2, 4)
    assert report.figures["province"][(data.province.pk, D0)].reminders_sent == 3
    assert report.period.visits == 7 and report.period.median_confirm_minutes == 25.0


def test_booking_desk_sees_its_ttyt_only(persona, data):
    report = _report(persona("datlich"))
    assert [u.code for u in report.units["ttyt"]] == ["TTYT-HD"]
    assert report.units["province"] == []
    assert "r-kt" not in {u.code for u in report.units["service"]}
    with pytest.raises(LookupError):
        _report(persona("datlich"), facility_id=data.ttyt_x.pk)


def test_narrowing_to_a_clinic_room(persona, data):
    report = _report(persona("syt.lanhdao"), facility_id=data.s2.facility_id)
    assert [u.code for u in report.units["service"]] == ["kham-nhi", "r-nhi"]
    assert report.units["ttyt"] == [] and report.period.visits == 1


# --- Pages ------------------------------------------------------------------------------------------


def test_urls_are_mounted():
    assert reverse("reports:appointments") == PAGE
    assert reverse("reports:appointments_xlsx") == XLSX


def test_anonymous_goes_to_the_desk_login(client, db):
    for url in (PAGE, XLSX):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/desk/login/")


@pytest.mark.parametrize(
    "username", ["thanhdong.nv", "thanhdong.truong", "bacsi.dieutri", "tiepdon", "bn0000001"]
)
def test_other_roles_and_patients_get_403(client, persona, username):
    client.force_login(persona(username))
    for url in (PAGE, XLSX):
        response = client.get(url, RANGE)
        assert response.status_code == 403
        assert "Bạn không có quyền xem báo cáo lịch hẹn" in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_index_shows_the_card_only_to_those_who_may_open_it(client, persona):
    client.force_login(persona("ttyt.lanhdao"))
    html = client.get("/bao-cao/").content.decode()
    assert PAGE in html and "Lịch hẹn khám" in html
    client.force_login(persona("thanhdong.truong"))
    html = client.get("/bao-cao/").content.decode()
    assert PAGE not in html


def test_page_shows_figures_charts_and_target(client, persona, data):
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(PAGE, RANGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Báo cáo lịch hẹn khám" in html and "Trung tâm Y tế theo ngày" in html
    assert "Toàn tỉnh" not in html
    assert html.count("<svg") == 2 and 'class="rp-target"' in html and "Chỉ tiêu 5–10 %" in html
    assert '<script src="http' not in html and "cdn" not in html.lower()
    section = html[html.index('data-level="ttyt"') : html.index('data-level="service"')]
    row = section[section.index("03/11/2026") :].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<")[0].strip() for c in row.split("<td")[1:]]
    # D1 at TTYT-HD: app 2, web 0, phone 0, desk 2, visits 4, app share 50 %, confirmed 0, median —,
    # no-show 1 of 4 known, re-exam 1/1, no reminders.
    assert cells == ["2", "0", "0", "2", "4", "50,0 %", "0", "—", "1", "25,0 %", "100,0 %", "0", "0"]
    summary = html[html.index('data-kpi="app-share"') :].split("</div>")[0]
    assert "33,3 %" in summary and "— đạt</span>" in summary  # 2 of 6 visits, target 5-10 % met


def test_booking_desk_opens_the_page_and_cannot_ask_for_another_ttyt(client, persona, data):
    client.force_login(persona("datlich"))
    assert client.get(PAGE, RANGE).status_code == 200
    for url in (PAGE, XLSX):
        response = client.get(url, {**RANGE, "facility": data.ttyt_x.pk})
        assert response.status_code == 400
        assert "Không tìm thấy cơ sở trong phạm vi" in response.content.decode()


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "31/02/2026", "to": "05/11/2026"}, "không hợp lệ"),
        ({"from": "2026-11-02", "to": "05/11/2026"}, "dd/mm/yyyy"),
        ({"from": "05/11/2026", "to": "02/11/2026"}, "phải trước hoặc trùng"),
        ({"from": "02/11/2026", "to": "05/11/2026", "facility": "abc"}, "Không tìm thấy cơ sở"),
    ],
)
def test_bad_input_is_a_400_in_vietnamese(client, persona, params, message):
    client.force_login(persona("syt.lanhdao"))
    for url in (PAGE, XLSX):
        response = client.get(url, params)
        assert response.status_code == 400
        assert message in response.content.decode()


def test_query_count_does_not_grow_with_days_or_services(
    client, persona, data, django_assert_max_num_queries
):
    client.force_login(persona("syt.lanhdao"))
    client.get(PAGE, RANGE)  # warm the session
    with django_assert_max_num_queries(40) as one_day:
        assert client.get(PAGE, {"from": "02/11/2026", "to": "02/11/2026"}).status_code == 200
    baseline = len(one_day.captured_queries)
    for i in range(5):
        _service(data.s1.facility, f"more-{i}", f"Khám thêm {i}")
    with django_assert_max_num_queries(baseline):
        assert client.get(PAGE, {"from": "01/01/2026", "to": "05/11/2026"}).status_code == 200


def test_selector_runs_a_constant_number_of_queries(persona, data, django_assert_num_queries):
    user = persona("syt.lanhdao")
    _report(user)  # warm the per-user scope cache
    user = persona("syt.lanhdao")
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as first:
        _report(user)
    user = persona("syt.lanhdao")
    for i in range(3):
        _service(data.s2.facility, f"extra-{i}", f"Khám bổ sung {i}")
    with django_assert_num_queries(len(first.captured_queries)):
        selectors.appointment_report(user=user, date_from=D0 - timedelta(days=60), date_to=D3)


def test_xlsx_export_headers_dates_formats_and_audit(client, persona, data):
    manager = persona("ttyt.lanhdao")
    client.force_login(manager)
    response = client.get(XLSX, RANGE)
    assert response.status_code == 200
    assert 'filename="bao-cao-lich-hen-02112026-05112026.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Dịch vụ theo ngày",
        "TTYT theo ngày",
        "Sở Y tế theo ngày",
        "Dịch vụ cả kỳ",
        "Ghi chú",
    ]
    sheet = workbook["Dịch vụ theo ngày"]
    header = [c.value for c in sheet[1]]
    col = {name: i for i, name in enumerate(header)}
    assert header[:4] == ["Mã", "Tên", "Phòng khám/khoa", "Ngày"]
    rows = {(r[0].value, r[3].value.date()): r for r in sheet.iter_rows(min_row=2)}
    s1_d1 = rows[("r-noi", D1)]
    assert s1_d1[col["Ngày"]].number_format == "dd/mm/yyyy"
    assert s1_d1[col["Lượt khám (đã tiếp đón)"]].value == 3
    assert s1_d1[col["Tỷ lệ khám đặt qua ứng dụng"]].value == pytest.approx(1 / 3)
    assert s1_d1[col["Tỷ lệ khám đặt qua ứng dụng"]].number_format == "0.0%"
    assert s1_d1[col["Tỷ lệ không đến"]].number_format == "0.0%"
    assert rows[("r-noi", D0)][col["Trung vị thời gian xác nhận (phút)"]].value == 30.0
    assert rows[("r-noi", D2)][col["Tỷ lệ tái khám đúng hẹn"]].value == 0.5
    assert rows[("r-noi", D0)][col["Tin nhắc lịch đã gửi"]].value == 1
    assert "r-kt" not in {key[0] for key in rows}
    ttyt = list(workbook["TTYT theo ngày"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[3].date()) for r in ttyt] == [("TTYT-HD", day) for day in (D0, D1, D2, D3)]
    assert workbook["Sở Y tế theo ngày"].max_row == 1
    audit = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert (
        audit.actor == manager and audit.facility == data.ttyt and audit.verb == "export_appointment_report"
    )
    assert audit.data["from"] == D0.isoformat() and audit.data["report"] == "lich-hen"
