"""Report pages and the XLSX export: access by persona, figures shown, bad input, audit, constant queries."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from health_f0.core.models import AuditLog

from .conftest import D0, D1, D3

PAGE = "/bao-cao/theo-doi-tai-nha/"
XLSX = "/bao-cao/theo-doi-tai-nha/xlsx/"
RANGE = {"from": "02/11/2026", "to": "05/11/2026"}


def test_urls_are_mounted():
    assert reverse("reports:index") == "/bao-cao/"
    assert reverse("reports:home_care") == PAGE
    assert reverse("reports:home_care_xlsx") == XLSX


def test_anonymous_is_sent_to_the_desk_login(client, db):
    for url in ("/bao-cao/", PAGE, XLSX):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/desk/login/")


@pytest.mark.parametrize("username", ["thanhdong.nv", "bacsi.dieutri", "datlich", "tiepdon", "bn0000001"])
def test_staff_without_a_report_role_and_patients_get_403(client, persona, username):
    client.force_login(persona(username))
    for url in ("/bao-cao/", PAGE, XLSX):
        response = client.get(url, RANGE)
        assert response.status_code == 403
        assert "Bạn không có quyền xem báo cáo" in response.content.decode()
    assert not AuditLog.objects.filter(action=AuditLog.Action.EXPORT).exists()


def test_index_links_to_the_report_in_the_desk_look(client, persona):
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get("/bao-cao/")
    html = response.content.decode()
    assert response.status_code == 200
    assert PAGE in html and "Theo dõi F0 tại nhà" in html
    assert 'id="nav-sidebar"' in html or "sidebar" in html  # the unfold desk chrome


def test_default_range_is_the_last_14_days(client, persona):
    client.force_login(persona("thanhdong.truong"))
    response = client.get(PAGE)
    assert response.status_code == 200
    report = response.context["report"]
    assert len(report.days) == 14 and report.date_to == timezone.localdate()
    assert response.context["form_to"] == f"{timezone.localdate():%d/%m/%Y}"


def test_station_head_sees_only_their_station(client, persona, dataset):
    client.force_login(persona("thanhdong.truong"))
    response = client.get(PAGE, RANGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Trạm Y tế phường Thành Đông" in html
    assert "Lê Thanh Nghị" not in html
    assert "Trung tâm Y tế theo ngày" not in html
    # Asking for another station looks like a missing one: 400 with a Vietnamese message.
    response = client.get(PAGE, {**RANGE, "facility": dataset.station_b.pk})
    assert response.status_code == 400
    assert "Không tìm thấy cơ sở trong phạm vi" in response.content.decode()
    assert client.get(XLSX, {**RANGE, "facility": dataset.station_b.pk}).status_code == 400


def test_ttyt_manager_sees_both_stations_and_the_roll_up(client, persona, dataset):
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(PAGE, RANGE)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Trạm Y tế phường Thành Đông" in html and "Lê Thanh Nghị" in html
    assert "Trung tâm Y tế theo ngày" in html and "Toàn tỉnh" not in html
    # The chart is inline SVG with an accessible table alternative; no script, no CDN.
    assert html.count("<svg") == 2 and 'role="img"' in html
    assert "Xem số liệu của biểu đồ dạng bảng" in html
    assert '<script src="http' not in html and "cdn" not in html.lower()
    # The roll-up row for D1: 5 active, 80,0 % declared, 75,0 % on time, median 20,0 minutes.
    section = html[html.index('data-level="ttyt"') : html.index('data-level="station"')]
    row = section[section.index("03/11/2026") :].split("</tr>")[0]
    cells = [c.split(">", 1)[1].split("<")[0].strip() for c in row.split("<td")[1:]]
    assert cells == ["5", "1", "0", "1", "0", "4", "80,0 %", "75,0 %", "1", "2", "1", "1", "20,0"]


def test_manager_sees_province_and_can_narrow_to_a_station(client, persona, dataset):
    client.force_login(persona("syt.lanhdao"))
    html = client.get(PAGE, RANGE).content.decode()
    assert "Toàn tỉnh (Sở Y tế) theo ngày" in html and "Trung tâm Y tế theo ngày" in html
    response = client.get(PAGE, {**RANGE, "facility": dataset.station_b.pk})
    assert response.status_code == 200
    assert [u.code for u in response.context["report"].units["station"]] == ["TYT-10532"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "31/02/2026", "to": "05/11/2026"}, "không hợp lệ"),
        ({"from": "2026-11-02", "to": "05/11/2026"}, "dd/mm/yyyy"),
        ({"from": "abc", "to": "<script>"}, "không hợp lệ"),
        ({"from": "05/11/2026", "to": "02/11/2026"}, "phải trước hoặc trùng"),
        ({"from": "01/01/2025", "to": "05/11/2026"}, "366 ngày"),
        ({"from": "01/11/2026", "to": "01/01/2099"}, "không được sau hôm nay"),
        ({"from": "02/11/2026", "to": "05/11/2026", "facility": "x1"}, "Không tìm thấy cơ sở"),
        ({"from": "02/11/2026", "to": "05/11/2026", "facility": "99999999"}, "Không tìm thấy cơ sở"),
    ],
)
def test_bad_input_is_a_400_page_in_vietnamese(client, persona, params, message):
    client.force_login(persona("syt.lanhdao"))
    for url in (PAGE, XLSX):
        response = client.get(url, params)
        assert response.status_code == 400
        html = response.content.decode()
        assert message in html and "Không thể lập báo cáo" in html
        assert "<script>" not in html.split("</head>")[-1].split("Không thể lập")[1][:2000]


def test_page_query_count_does_not_grow_with_days(client, persona, dataset, django_assert_max_num_queries):
    client.force_login(persona("syt.lanhdao"))
    client.get(PAGE, RANGE)  # warm the session and caches
    with django_assert_max_num_queries(40) as one_day:
        assert client.get(PAGE, {"from": "02/11/2026", "to": "02/11/2026"}).status_code == 200
    with django_assert_max_num_queries(len(one_day.captured_queries)):
        assert client.get(PAGE, {"from": "01/01/2026", "to": "05/11/2026"}).status_code == 200


def test_xlsx_export_values_headers_formats_and_audit(client, persona, dataset):
    manager = persona("ttyt.lanhdao")
    client.force_login(manager)
    response = client.get(XLSX, RANGE)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert 'filename="bao-cao-theo-doi-02112026-05112026.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["Trạm y tế theo ngày", "TTYT theo ngày", "Sở Y tế theo ngày"]
    stations = workbook["Trạm y tế theo ngày"]
    header = [c.value for c in stations[1]]
    assert header[:4] == ["Mã đơn vị", "Tên đơn vị", "Ngày", "Đang theo dõi"]
    assert "Tỷ lệ khai báo" in header and "Trung vị thời gian xử lý (phút)" in header
    col = {name: index for index, name in enumerate(header)}
    rows = {(r[0].value, r[2].value.date()): r for r in stations.iter_rows(min_row=2)}
    a_d1 = rows[("TYT-10510", D1)]
    assert a_d1[col["Ngày"]].number_format == "dd/mm/yyyy"
    assert isinstance(a_d1[col["Ngày"]].value, datetime)
    assert a_d1[col["Đang theo dõi"]].value == 4
    assert a_d1[col["Chuyển viện"]].value == 1
    assert a_d1[col["Tỷ lệ khai báo"]].value == pytest.approx(0.75)
    assert a_d1[col["Tỷ lệ khai báo"]].number_format == "0.0%"
    assert a_d1[col["Tỷ lệ đúng hạn"]].value == pytest.approx(2 / 3)
    assert a_d1[col["Trung vị thời gian xử lý (phút)"]].value == 10.0
    assert rows[("TYT-10532", D0)][col["Tỷ lệ đúng hạn"]].value == 0
    assert rows[("TYT-10537", D3)][col["Tỷ lệ khai báo"]].value is None
    ttyt = list(workbook["TTYT theo ngày"].iter_rows(min_row=2, values_only=True))
    assert [(r[0], r[2].date(), r[3]) for r in ttyt] == [
        ("TTYT-HD", D0, 4),
        ("TTYT-HD", D1, 5),
        ("TTYT-HD", D1.replace(day=4), 5),
        ("TTYT-HD", D3, 4),
    ]
    assert ttyt[1][col["Trung vị thời gian xử lý (phút)"]] == 20.0
    assert ttyt[0][col["Tỷ lệ đúng hạn"]] == pytest.approx(2 / 3)
    # The TTYT manager does not see the whole province: the sheet has headers only.
    assert workbook["Sở Y tế theo ngày"].max_row == 1
    audit = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert audit.actor == manager and audit.facility == dataset.ttyt
    assert (audit.target_type, audit.target_id) == ("facilities.facility", str(dataset.ttyt.pk))
    assert audit.data["from"] == D0.isoformat() and audit.data["to"] == D3.isoformat()


def test_station_head_export_is_audited_against_the_station(client, persona, dataset):
    head = persona("thanhdong.truong")
    client.force_login(head)
    response = client.get(XLSX, RANGE)
    assert response.status_code == 200
    workbook = load_workbook(io.BytesIO(response.content))
    codes = {r[0] for r in workbook["Trạm y tế theo ngày"].iter_rows(min_row=2, values_only=True)}
    assert codes == {"TYT-10510"}
    audit = AuditLog.objects.get(action=AuditLog.Action.EXPORT)
    assert audit.facility == dataset.station_a and audit.actor == head
