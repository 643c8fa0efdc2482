"""Managers' HIS linking report: exact figures on a small dataset, the 80% target (chart line and per row),
link requests waiting and time to link, import runs with errors, scoping by persona, the XLSX export with its
audit row, and a query count that does not grow with days, departments, requests or runs.

Range D0..D1 = 02/11/2026 .. 03/11/2026 at TTYT-HD (local time UTC+7). Visiting patients (HisVisitSeen):
  D0 K01: a b c d e (linked a b c d)      -> 4/5 = 80 % (meets the target)
  D0 K02: a f       (linked a)            -> 1/2 = 50 %
  D1 K01: a g       (linked a g)          -> 2/2 = 100 %
  day D0: a b c d e f -> 4/6; day D1: 2/2; period: a..g -> 5/7 = 71,4 % (1 more needed for 80 %)
Requests: r1 automatic (D0 08:00, 5 s), r2 by the linker (D0 08:00 -> 12:00, 4 h), r3 (D0 09:00 -> D1 09:00,
24 h), r4 rejected D1, r5 waiting since D1. Median to link 4,0 h (all), 14,0 h (by the linker).
Runs: an XML file on D0 (10 read, 8 imported, 1 duplicate, 1 rejected: LK9 unknown patient) and a failed
FHIR pull on D1. A second hospital (BV-KHAC) has its own visits, request and run, and its own linker.
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
from django.urls import reverse
from openpyxl import load_workbook

from health_f0.core.models import AuditLog
from health_f0.facilities.models import Facility, Membership, Role
from health_f0.his.models import HisLinkRequest, HisVisit, HisVisitSeen, ImportRun
from health_f0.his.tests.conftest import make_patient
from health_f0.reports.his import selectors

pytestmark = pytest.mark.django_db

D0, D1 = date(2026, 11, 2), date(2026, 11, 3)
PAGE = "/bao-cao/lien-ket-his/"
XLSX = "/bao-cao/lien-ket-his/xlsx/"
RANGE = {"from": "02/11/2026", "to": "03/11/2026"}
_ids = count(1)


def at(day: date, hh: int, mm: int = 0, ss: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm, ss), tzinfo=UTC) - timedelta(hours=7)


@dataclass
class Dataset:
    ttyt: Facility
    other: Facility
    other_linker: Any


def seen(facility: Facility, day: date, dept: str, key: str, linked: bool) -> None:
    HisVisitSeen.objects.create(
        facility=facility,
        source="xml",
        external_id=f"LK{next(_ids)}",
        day=day,
        department_code=dept,
        patient_key=key,
        linked=linked,
    )


def request(
    facility: Facility, status: str, created: datetime, decided: datetime | None, **fields: Any
) -> None:
    row = HisLinkRequest.objects.create(
        patient=make_patient(),
        facility=facility,
        identifier_type="bhyt",
        identifier=f"{next(_ids):010d}",
        channel="portal",
        status=status,
        decided_at=decided,
        his_patient_id=fields.pop("his_patient_id", "BN1" if status == "linked" else ""),
        **fields,
    )
    HisLinkRequest.objects.filter(pk=row.pk).update(created_at=created)


def run(facility: Facility, started: datetime, **fields: Any) -> ImportRun:
    return ImportRun.objects.create(facility=facility, started_at=started, finished_at=started, **fields)


@pytest.fixture
def data(demo: Any) -> Dataset:
    ttyt = Facility.objects.get(code="TTYT-HD")
    root = Facility.objects.get(code="SYT-31")
    other = Facility.objects.create(
        kind="hospital", code="BV-KHAC", name="Bệnh viện Đa khoa Khác", parent=root, province_code=31
    )
    other.path = f"{root.path}{other.pk}/"
    other.save(update_fields=["path"])
    user = get_user_model().objects.create_user(username="lienket.bvkhac", is_staff=True)
    Membership.objects.create(user=user, facility=other, role=Role.HIS_LINKER)

    for key, linked in (("a", True), ("b", True), ("c", True), ("d", True), ("e", False)):
        seen(ttyt, D0, "K01", key, linked)
    seen(ttyt, D0, "K02", "a", True)
    seen(ttyt, D0, "K02", "f", False)
    seen(ttyt, D1, "K01", "a", True)
    seen(ttyt, D1, "K01", "g", True)
    for key in ("x", "y", "z"):  # the other hospital: 0/3
        seen(other, D0, "K01", key, False)
    HisVisit.objects.create(
        patient=make_patient(),
        facility=ttyt,
        source="xml",
        external_id="LKNAME",
        department_code="K01",
        department_name="Khoa Khám bệnh",
        admitted_at=at(D0, 8),
    )

    request(ttyt, "linked", at(D0, 8), at(D0, 8, 0, 5), auto_linked=True)
    request(ttyt, "linked", at(D0, 8), at(D0, 12))
    request(ttyt, "linked", at(D0, 9), at(D1, 9))
    request(ttyt, "rejected", at(D0, 10), at(D1, 10), reason="Sai ngày sinh")
    request(ttyt, "needs_review", at(D1, 11), None)
    request(other, "needs_review", at(D0, 7), None)

    run(
        ttyt,
        at(D0, 7),
        source="xml",
        kind="xml_file",
        file_name="GD_0211.xml",
        status="done",
        read_count=10,
        imported_count=8,
        duplicate_count=1,
        rejected_count=1,
        errors=[
            {"record": "LK9", "table": "XML1", "field": "", "reason": "không tìm thấy người bệnh đã liên kết"}
        ],
    )
    run(ttyt, at(D1, 7), source="fhir", kind="fhir_pull", status="failed", failure="HIS chưa phản hồi")
    run(other, at(D0, 7), source="xml", kind="xml_file", file_name="KHAC.xml", status="done", read_count=3)
    return Dataset(ttyt=ttyt, other=other, other_linker=user)


def test_figures_are_exact(persona: Any, data: Dataset) -> None:
    report = selectors.his_link_report(user=persona("ttyt.lanhdao"), date_from=D0, date_to=D1)
    assert report.root == data.ttyt and [f.code for f in report.hospitals] == ["TTYT-HD"]
    assert report.by_department_day[(data.ttyt.pk, "K01", D0)] == selectors.ShareFigures(5, 4)
    assert report.by_department_day[(data.ttyt.pk, "K01", D0)].meets_target is True
    assert report.by_department_day[(data.ttyt.pk, "K02", D0)] == selectors.ShareFigures(2, 1)
    assert report.by_department_day[(data.ttyt.pk, "K01", D1)] == selectors.ShareFigures(2, 2)
    assert report.by_department[(data.ttyt.pk, "K01")] == selectors.ShareFigures(6, 5)
    assert report.by_day == {D0: selectors.ShareFigures(6, 4), D1: selectors.ShareFigures(2, 2)}
    assert report.period == selectors.ShareFigures(7, 5)
    assert round(report.period.share or 0, 4) == 0.7143 and report.period.meets_target is False
    assert report.period.gap == 1
    assert [(d.code, d.label) for d in report.departments] == [("K01", "Khoa Khám bệnh"), ("K02", "K02")]
    assert (report.waiting, report.linked, report.auto_linked, report.rejected) == (1, 3, 1, 1)
    assert (report.median_hours, report.median_hours_manual) == (4.0, 14.0)
    assert report.linked_by_day == {D0: 2, D1: 1}
    assert [r.file_name for r in report.runs] == ["", "GD_0211.xml"]
    assert report.run_totals == {
        "runs": 2,
        "failed": 1,
        "read": 10,
        "imported": 8,
        "duplicates": 1,
        "rejected": 1,
    }


def test_page_shows_figures_target_and_errors(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(PAGE, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "71,4 %" in html and "(5/7)" in html and "chỉ tiêu 80 %" in html and "cần thêm 1 người" in html
    assert 'class="rp-target-line"' in html and "Chỉ tiêu 80 %" in html  # the target line on the chart
    assert "✓ đạt" in html and "✗ chưa đạt (thiếu 1)" in html  # per row, in words
    assert "Khoa Khám bệnh" in html and "80,0 %" in html and "50,0 %" in html
    assert "LK9: không tìm thấy người bệnh đã liên kết" in html and "HIS chưa phản hồi" in html
    assert "Bệnh viện Đa khoa Khác" not in html and "KHAC.xml" not in html


def test_a_linker_sees_their_hospital_only(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("lienket.his"))
    html = client.get(PAGE, RANGE).content.decode()
    assert "71,4 %" in html and "KHAC.xml" not in html
    refused = client.get(PAGE, {**RANGE, "facility": str(data.other.pk)})
    assert refused.status_code == 400 and "Không tìm thấy cơ sở" in refused.content.decode()
    client.force_login(data.other_linker)
    report = selectors.his_link_report(user=data.other_linker, date_from=D0, date_to=D1)
    assert report.period == selectors.ShareFigures(3, 0) and report.waiting == 1
    html = client.get(PAGE, RANGE).content.decode()
    assert "KHAC.xml" in html and "GD_0211.xml" not in html


def test_the_province_manager_sees_both_hospitals(persona: Any, data: Dataset) -> None:
    report = selectors.his_link_report(user=persona("syt.lanhdao"), date_from=D0, date_to=D1)
    assert {f.code for f in report.hospitals} == {"TTYT-HD", "BV-KHAC"} and report.multiple_hospitals
    assert report.period == selectors.ShareFigures(10, 5) and report.waiting == 2
    assert report.by_day[D0] == selectors.ShareFigures(9, 4)


@pytest.mark.parametrize("username", ["thanhdong.nv", "thanhdong.truong", "tiepdon", "bn0000001"])
def test_other_roles_get_403(client: Any, persona: Any, data: Dataset, username: str) -> None:
    client.force_login(persona(username))
    assert client.get(PAGE, RANGE).status_code == 403
    assert client.get(XLSX, RANGE).status_code == 403


def test_anonymous_goes_to_the_desk_login(client: Any, db: Any) -> None:
    response = client.get(PAGE)
    assert response.status_code == 302 and "/desk/login/" in response["Location"]


def test_index_links_the_report_for_managers(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    assert reverse("reports:his_links") in client.get("/bao-cao/").content.decode()


def test_xlsx_opens_with_vietnamese_headers_and_is_audited(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(XLSX, RANGE)
    assert response.status_code == 200
    assert 'filename="bao-cao-lien-ket-his-02112026-03112026.xlsx"' in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == [
        "Theo khoa và ngày",
        "Theo khoa cả kỳ",
        "Theo ngày",
        "Yêu cầu liên kết",
        "Lượt nhập dữ liệu",
        "Lỗi nhập",
        "Ghi chú",
    ]
    rows = list(workbook["Theo khoa và ngày"].iter_rows(values_only=True))
    assert rows[0][:6] == ("Bệnh viện/TTYT", "Mã khoa", "Khoa", "Ngày", "Người bệnh đến khám", "Đã liên kết")
    first = rows[1]
    assert first[1] == "K01" and first[3] == datetime(2026, 11, 2) and first[4:7] == (5, 4, 0.8)
    assert first[8] == "Đạt"
    summary = dict(list(workbook["Yêu cầu liên kết"].iter_rows(values_only=True))[1:])
    assert summary["Yêu cầu đang chờ cán bộ liên kết"] == 1
    assert summary["Trung vị thời gian liên kết do cán bộ duyệt (giờ)"] == 14.0
    errors = list(workbook["Lỗi nhập"].iter_rows(values_only=True))
    assert errors[1][2:] == ("LK9", "XML1", "không tìm thấy người bệnh đã liên kết")
    audit = AuditLog.objects.get(verb="export_his_link_report")
    assert audit.action == "export" and audit.actor.username == "ttyt.lanhdao" and audit.facility == data.ttyt


def test_bad_dates_are_a_400_in_vietnamese(client: Any, persona: Any, data: Dataset) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    response = client.get(PAGE, {"from": "2026-11-02", "to": "03/11/2026"})
    assert response.status_code == 400 and "không hợp lệ" in response.content.decode()


def test_selector_query_count_does_not_grow(
    persona: Any, data: Dataset, django_assert_num_queries: Any
) -> None:
    with CaptureQueriesContext(connection) as first:
        selectors.his_link_report(user=persona("ttyt.lanhdao"), date_from=D0, date_to=D1)
    # More departments, days, requests and runs.
    for day in (D0, D1, D1 + timedelta(days=1)):
        for dept in ("K03", "K04", "K05"):
            seen(data.ttyt, day, dept, f"k{next(_ids)}", True)
    for hour in range(3):
        request(data.ttyt, "linked", at(D1, hour), at(D1, hour + 2))
        run(data.ttyt, at(D1, hour), source="xml", kind="xml_file", status="done")
    with django_assert_num_queries(len(first.captured_queries)):
        selectors.his_link_report(user=persona("ttyt.lanhdao"), date_from=D0, date_to=D1 + timedelta(days=1))


def test_page_query_count_is_constant(
    client: Any, persona: Any, data: Dataset, django_assert_max_num_queries: Any
) -> None:
    client.force_login(persona("ttyt.lanhdao"))
    with CaptureQueriesContext(connection) as first:
        assert client.get(PAGE, RANGE).status_code == 200
    for dept in ("K06", "K07", "K08", "K09"):
        seen(data.ttyt, D0, dept, f"k{next(_ids)}", False)
    for hour in range(4):
        run(data.ttyt, at(D0, hour), source="xml", kind="xml_file", status="done")
    with django_assert_max_num_queries(len(first.captured_queries)):
        assert client.get(PAGE, {"from": "02/11/2026", "to": "04/11/2026"}).status_code == 200
