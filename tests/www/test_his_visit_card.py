"""A visit's card on /ho-so-kham and its printed summary, built in Python (issue 11: www.his_rows.VisitRow.card),
writes the HTML the templates it replaced wrote (www/his_visit.html with its bill partial and
www/his_lab_table.html, as they were at 591f846), in both languages, for every kind of visit: dated on one day or
several, without a time or an end, with or without a department, diagnosis, ICD-10 code, bill (due with a
gateway, due without one, paid) and results (some more than shown), and values that need escaping."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.template import engines
from django.utils import translation
from jinja2 import ChoiceLoader, DictLoader

from health_f0.www.his_rows import (
    LabGroup,
    PortalFacility,
    PortalLabReport,
    PortalLabResult,
    PortalPlace,
    PortalVisit,
    VisitRow,
    lab_list,
    lab_row,
    link_items,
    visit_cards,
)

# The templates as they were.
OLD_VISIT = '{% set v = row.visit %}<li class="card visit-item">\n  <h3>{% if v.admitted_at %}<time datetime="{{ v.admitted_at|date(\'c\') }}">{{ v.admitted_at|date("d/m/Y") }}</time>{% if not row.same_day %} – <time datetime="{{ v.discharged_at|date(\'c\') }}">{{ v.discharged_at|date("d/m/Y") }}</time>{% endif %}{% else %}{{ _("Chưa rõ ngày") }}{% endif %}</h3>\n  <p class="visit-meta muted">{{ v.facility.name }}{% if v.department_label %} · {{ v.department_label }}{% endif %}</p>\n  {% if v.diagnosis_text or v.icd10 %}<p class="diagnosis">{{ _("Chẩn đoán:") }} {{ v.diagnosis_text }}{% if v.icd10 %} <span class="icd" title="{{ _(\'Mã bệnh ICD-10\') }}"><span class="visually-hidden">{{ _("mã ICD-10") }} </span>{{ v.icd10 }}</span>{% endif %}</p>{% endif %}\n  {% set bill = row.bill_view %}{% include "www/_pay_visit_bill.html" %}\n  {% if row.results %}{% set caption %}{{ _("Kết quả xét nghiệm ngày %(when)s")|fmt(when=v.admitted_at|date("d/m/Y")) }}{% endset %}{% set results = row.results %}{% include "www/his_lab_table.html" %}{% if row.more_results %}<p><a href="{{ url(\'www:his_lab_results\') }}">{{ _("Xem tất cả kết quả xét nghiệm") }}</a></p>{% endif %}\n  {% else %}<p class="muted">{{ _("Không có kết quả xét nghiệm trong lượt khám này.") }}</p>{% endif %}\n</li>\n'
OLD_TABLE = '<table class="lab-table">\n  <caption>{{ caption }}</caption>\n  <thead><tr><th scope="col">{{ _("Chỉ số") }}</th><th scope="col">{{ _("Kết quả") }}</th><th scope="col">{{ _("Khoảng tham chiếu") }}</th></tr></thead>\n  <tbody>{% for row in results %}\n    {{ row.table_row }}{% endfor %}\n  </tbody>\n</table>\n'

WHEN = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # the next day in Vietnam
FACILITY = PortalFacility(pk=1, name='Trung tâm Y tế "Hải Dương" <khu vực> & Co', path="0001/")


def _visit(n: int, **fields: Any) -> PortalVisit:
    values: dict[str, Any] = {
        "pk": n,
        "public_id": uuid.UUID(int=n),
        "department_code": "K01",
        "department_name": "Khoa Nội <tổng hợp>",
        "admitted_at": WHEN,
        "discharged_at": WHEN,
        "diagnosis_text": "Tăng huyết áp 'vô căn' & \"khác\"",
        "icd10": "I10",
        "bill_total": None,
        "bill_insurance": None,
        "bill_patient": None,
        "facility_id": FACILITY.pk,
        "facility": FACILITY,
    }
    values.update(fields)
    return PortalVisit(**values)


def _result(n: int, **fields: Any) -> Any:
    values: dict[str, Any] = {
        "pk": n,
        "name": f"Chỉ số <{n}>",
        "value": "",
        "value_number": Decimal("7.8"),
        "unit": "mmol/L",
        "reference_low": Decimal("3.9"),
        "reference_high": Decimal("6.4"),
        "reference_text": "",
        "flag": "H",
        "conclusion": "",
        "observed_at": None,
        "report_id": None,
        "report": None,
        "facility": PortalPlace(),
        "visit": None,
    }
    values.update(fields)
    return lab_row(PortalLabResult(**values))


class Paid:
    pk = 1


def _rows() -> list[VisitRow]:
    results = [
        _result(1),
        _result(2, flag="N", value="Âm tính", value_number=None, conclusion="Ổn & <b>tốt</b>"),
    ]
    return [
        VisitRow(visit=_visit(1), results=results, more_results=True),
        VisitRow(
            visit=_visit(
                2,
                discharged_at=datetime(2026, 6, 4, 2, 0, tzinfo=UTC),
                department_code="",
                department_name="",
                icd10="",
                bill_total=250_000,
                bill_insurance=200_000,
                bill_patient=50_000,
            ),
            results=results[:1],
            bill=(None, True),
        ),
        VisitRow(
            visit=_visit(3, admitted_at=None, discharged_at=None, diagnosis_text="", bill_patient=40_000),
            results=[],
            bill=(Paid(), True),
        ),
        VisitRow(
            visit=_visit(4, diagnosis_text="", icd10="", bill_patient=10_000, department_name="Khám bệnh"),
            results=results,
            bill=(None, False),
        ),
        VisitRow(visit=_visit(5, discharged_at=None), results=[]),
        VisitRow(visit=_visit(6, admitted_at=None, discharged_at=None), results=results[1:]),
    ]


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_card_is_the_old_templates_html(language: str) -> None:
    env = engines["jinja2"].env  # type: ignore[attr-defined]
    old = env.overlay(
        loader=ChoiceLoader(
            [DictLoader({"www/his_visit.html": OLD_VISIT, "www/his_lab_table.html": OLD_TABLE}), env.loader]
        )
    )
    page = '<ol>{% for row in rows %}{% include "www/his_visit.html" %}\n{% endfor %}</ol>'
    with translation.override(language):
        rows = _rows()
        before = old.from_string(page).render({"rows": rows})
        after = env.from_string(page).render({"rows": rows})
    assert after == before
    with translation.override(language):
        assert f"<ol>{visit_cards(rows)}</ol>" == before  # the page's cards, written at once
    for text in (
        "visit-bill",
        "Chưa rõ ngày" if language == "vi" else "<h3>",
        " – <time",
        "lab-table",
        "&lt;",
    ):
        assert text in after


# /ket-qua-xet-nghiem: a lab report's time in its heading (www/his_lab_results.html), as it was and as it is.
OLD_REPORT_TIME = (
    "{% set rep = group.report %}{% set when = rep.issued_at or rep.effective_at %}{% if when %}"
    '<time datetime="{{ when|date(\'c\') }}">{{ _("Trả kết quả ngày %(day)s")|fmt(day=when|date("d/m/Y")) }}'
    "</time> · {% endif %}"
)
# The list's loop as www/his_lab_results.html wrote it at f953cdc (www.his_rows.lab_list writes it now).
OLD_LAB_LIST = '<ol class="lab-list">{% for group in groups %}{% if group.report %}{% set rep = group.report %}{% set first = group.rows[0].result %}\n  <li class="card lab-report">\n    <h2>{{ rep.name }}</h2>\n    <p class="muted">{% set when = group.when %}{% if when %}<time datetime="{{ when[0] }}">{{ _("Trả kết quả ngày %(day)s")|fmt(day=when[1]) }}</time> · {% endif %}{{ first.facility.name }}{% if first.visit and first.visit.department_label %} · {{ first.visit.department_label }}{% endif %}</p>\n    {% if rep.is_preliminary %}<p><strong>{{ _("Kết quả sơ bộ: phòng xét nghiệm có thể còn bổ sung hoặc sửa.") }}</strong></p>{% endif %}\n    {% if rep.conclusion %}<p class="report-conclusion">{{ _("Kết luận: %(text)s")|fmt(text=rep.conclusion) }}</p>{% endif %}\n    <ol class="lab-list report-results">{% for row in group.rows %}\n  {{ row.item_nested }}{% endfor %}\n    </ol>\n  </li>{% else %}{% for row in group.rows %}\n  {{ row.item_card }}{% endfor %}{% endif %}{% endfor %}\n</ol>'


@pytest.mark.parametrize("language", ["vi", "en"])
def test_a_reports_time_is_written_as_before(language: str) -> None:
    env = engines["jinja2"].env  # type: ignore[attr-defined]
    old, new = (
        env.from_string(OLD_REPORT_TIME),
        env.from_string(
            '{% set when = group.when %}{% if when %}<time datetime="{{ when[0] }}">'
            '{{ _("Trả kết quả ngày %(day)s")|fmt(day=when[1]) }}</time> · {% endif %}'
        ),
    )
    later = datetime(2026, 6, 3, 1, 0, tzinfo=UTC)
    with translation.override(language):
        for issued, effective in ((WHEN, later), (None, later), (None, None), (WHEN, None)):
            report = PortalLabReport(
                pk=1,
                name="Công thức máu",
                status="final",
                issued_at=issued,
                effective_at=effective,
                conclusion="",
            )
            group = LabGroup(report=report, rows=[])
            assert new.render({"group": group}) == old.render({"group": group}), (issued, effective)
        dated = LabGroup(report=replace(report, issued_at=WHEN), rows=[])
        assert "02/06/2026" in str(new.render({"group": dated}))  # the next day in Vietnam


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_lab_list_is_the_old_templates_html(language: str) -> None:
    """lab_list writes what the page's loop wrote: reports issued, effective only or undated, preliminary or
    final, with a conclusion or none, with or without a department; results without a report; values that need
    escaping."""
    env = engines["jinja2"].env  # type: ignore[attr-defined]
    later = datetime(2026, 6, 3, 1, 0, tzinfo=UTC)
    place = PortalPlace(name='Bệnh viện "A" <B> & C')
    ward = PortalPlace(department_label="Khoa <Nội> 'tổng hợp'")

    def report(pk: int, **fields: Any) -> PortalLabReport:
        values: dict[str, Any] = {
            "pk": pk,
            "name": f"Công thức máu <{pk}> & 'x'",
            "status": "final",
            "issued_at": WHEN,
            "effective_at": later,
            "conclusion": "",
        }
        values.update(fields)
        return PortalLabReport(**values)

    reports = [
        report(1, conclusion='Bình thường <b>"ổn"</b>'),
        report(2, issued_at=None, status="preliminary"),
        report(3, issued_at=None, effective_at=None),
    ]
    with translation.override(language):
        groups = [
            LabGroup(
                report=reports[0],
                rows=[
                    _result(1, report=reports[0], report_id=1, facility=place, visit=ward, observed_at=WHEN),
                    _result(2, report=reports[0], report_id=1, facility=place, visit=ward, flag="N"),
                ],
            ),
            LabGroup(
                report=None, rows=[_result(3, facility=place, observed_at=later), _result(4, facility=place)]
            ),
            LabGroup(report=reports[1], rows=[_result(5, report=reports[1], report_id=2, facility=place)]),
            LabGroup(
                report=reports[2],
                rows=[_result(6, report=reports[2], report_id=3, facility=place, visit=ward)],
            ),
        ]
        before = env.from_string(OLD_LAB_LIST).render({"groups": groups})
        after = f'<ol class="lab-list">{lab_list(groups)}\n</ol>'
    assert after == before
    for text in ("report-conclusion", "&lt;Nội&gt;", "report-results", "card lab-item", "<time"):
        assert text in after


# /lien-ket-ho-so's list as www/his_links.html wrote it at f953cdc (www.his_rows.link_items writes its items now).
OLD_LINK_LIST = '<ul class="link-list">{% for row in overview %}\n  <li class="card link-item link-{{ row.state }}">\n    <h3>{{ row.facility.name }}</h3>\n    {% if row.state == "linked" %}\n    <p><span class="badge badge-none">{{ _("Đã liên kết") }}</span></p>\n    <dl class="details">\n      <div><dt>{{ _("Liên kết từ ngày") }}</dt><dd>{{ row.link.linked_at|date("d/m/Y") }}</dd></div>\n      <div><dt>{{ _("Mã người bệnh tại bệnh viện") }}</dt><dd class="code">{{ row.link.linked_code }}</dd></div>\n      {% if row.link.his_full_name %}<div><dt>{{ _("Hồ sơ tại bệnh viện mang tên") }}</dt><dd>{{ row.link.his_full_name }}{% if row.link.his_date_of_birth %}, {{ _("sinh ngày %(born)s")|fmt(born=row.link.his_date_of_birth|date("d/m/Y")) }}{% endif %}</dd></div>{% endif %}\n    </dl>\n    {% if "unlink" in row.actions %}<p><a href="{{ url(\'www:his_unlink\', row.link.public_id) }}">{{ _("Huỷ liên kết") }}<span class="visually-hidden"> — {{ row.facility.name }}</span></a></p>{% endif %}\n    {% elif row.state == "waiting" %}\n    <p><span class="badge badge-watch">{{ _("Đang chờ bệnh viện kiểm tra") }}</span></p>\n    <dl class="details">\n      <div><dt>{{ _("Gửi yêu cầu ngày") }}</dt><dd>{{ row.request.created_at|date("d/m/Y") }}</dd></div>\n      <div><dt>{{ _("Mã bạn đã khai để tra cứu") }}</dt><dd>{{ identifier_labels.get(row.request.identifier_type, row.request.identifier_type) }}: <span class="code">{{ row.request.identifier }}</span></dd></div>\n    </dl>\n    <p>{{ _("Cán bộ bệnh viện sẽ đối chiếu thông tin và nhắn tin cho bạn. Muốn nhanh hơn, hãy in phiếu đề nghị (hoặc mở trên điện thoại) và đưa cho quầy tiếp đón khi đến khám.") }}</p>\n    <p><a class="button button-secondary" href="{{ url(\'www:his_link_form\', row.request.public_id) }}" download>{{ _("Tải phiếu đề nghị liên kết (PDF)") }}</a></p>\n    {% elif row.state == "rejected" %}\n    <p><span class="badge badge-urgent">{{ _("Chưa được chấp nhận") }}</span></p>\n    <p>{{ _("Ngày %(when)s, bệnh viện trả lời:")|fmt(when=row.request.decided_at|date("d/m/Y")) }} <strong>{{ row.request.reason }}</strong></p>\n    <p class="muted">{{ _("Bạn có thể kiểm tra lại mã và gửi yêu cầu mới ở bên dưới.") }}</p>\n    {% elif row.state == "unlinked" %}\n    <p><span class="badge badge-muted">{{ _("Đã huỷ liên kết") }}</span></p>\n    {% else %}\n    <p><span class="badge badge-muted">{{ _("Chưa liên kết") }}</span></p>\n    {% endif %}\n  </li>{% endfor %}\n</ul>'


@pytest.mark.parametrize("language", ["vi", "en"])
def test_the_link_items_are_the_old_templates_html(language: str) -> None:
    """link_items writes what the page's loop wrote for every state (linked with or without the HIS's name and
    birth date and the unlink action, waiting, rejected with or without a decision time, unlinked, none), with
    values that need escaping."""
    from datetime import date

    from health_f0.facilities.models import Facility
    from health_f0.his.models import HisLink, HisLinkRequest, IdentifierType
    from health_f0.his.selectors import LinkOverview
    from health_f0.www.jinja import choice_labels, urls_for

    env = engines["jinja2"].env  # type: ignore[attr-defined]
    hospital = Facility(pk=7, name="Bệnh viện \"A\" <B> & 'C'")

    def link(**fields: Any) -> HisLink:
        values: dict[str, Any] = {
            "pk": 1,
            "public_id": uuid.UUID(int=11),
            "his_patient_id": "BN<1>",
            "his_code": "",
            "his_full_name": "Nguyễn Văn <A>",
            "his_date_of_birth": date(1980, 2, 3),
            "linked_at": WHEN,
        }
        values.update(fields)
        return HisLink(**values)

    def request(status: str, **fields: Any) -> HisLinkRequest:
        values: dict[str, Any] = {
            "pk": 2,
            "public_id": uuid.UUID(int=12),
            "status": status,
            "identifier_type": "bhyt",
            "identifier": "DN<47>",
            "created_at": WHEN,
            "decided_at": WHEN,
            "reason": "Không khớp <tên> & 'ngày sinh'",
        }
        values.update(fields)
        return HisLinkRequest(**values)

    overview = [
        LinkOverview(facility=hospital, link=link(), request=None, actions=("unlink",)),
        LinkOverview(facility=hospital, link=link(his_code="MA-1", his_date_of_birth=None), request=None),
        LinkOverview(facility=hospital, link=link(his_full_name=""), request=request("linked")),
        LinkOverview(facility=hospital, link=None, request=request("requested")),
        LinkOverview(facility=hospital, link=None, request=request("needs_review", identifier_type="other")),
        LinkOverview(facility=hospital, link=None, request=request("rejected")),
        LinkOverview(facility=hospital, link=None, request=request("rejected", decided_at=None)),
        LinkOverview(facility=hospital, link=None, request=request("unlinked")),
        LinkOverview(facility=hospital, link=None, request=None),
    ]
    with translation.override(language):
        labels = choice_labels(IdentifierType)
        url = urls_for("/", None, "health_f0.urls")
        before = env.from_string(OLD_LINK_LIST).render(
            {"overview": overview, "identifier_labels": labels, "url": url}
        )
        after = f'<ul class="link-list">{link_items(overview, labels, url)}\n</ul>'
    assert after == before
    for state in ("linked", "waiting", "rejected", "unlinked", "none"):
        assert f"link-item link-{state}" in after
    assert "&lt;tên&gt;" in after and "/huy" in after and "phieu-lien-ket.pdf" in after
