"""The lab rows the portal builds in Python (issue 11: www/his_rows.LabRow.table_row, item_card, item_nested)
write the HTML the per-row templates they replace wrote, in both languages, for every kind of row."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Engine
from django.utils import translation

from health_f0.facilities.models import Facility
from health_f0.his.models import HisLabReport, HisLabResult, HisVisit
from health_f0.patients.models import Patient
from health_f0.www.his_rows import lab_row

pytestmark = pytest.mark.django_db

# The templates as they were (www/his_lab_item.html, and the row of www/his_lab_table.html).
OLD_ITEM = '{% load i18n %}{% with r=row.result %}<li class="{% if not nested %}card {% endif %}lab-item{% if row.out_of_range %} row-out{% endif %}">\n    <h3>{{ r.name }}</h3>\n    <p class="lab-value">{{ row.value }}{% if r.unit %} {{ r.unit }}{% endif %}{% if row.flag_label %} <span class="flag {{ row.flag_class }}">{% if row.flag_symbol %}<span aria-hidden="true">{{ row.flag_symbol }} </span>{% endif %}{{ row.flag_label }}{% if row.result.flag == "H" or row.result.flag == "L" %}<span class="visually-hidden"> — {% translate "ngoài khoảng tham chiếu" %}</span> ({{ row.result.flag }}){% endif %}</span>{% endif %}</p>\n    {% if row.reference %}<p class="muted">{% blocktranslate with ref=row.reference %}Khoảng tham chiếu: {{ ref }}{% endblocktranslate %}</p>{% endif %}\n    {% if r.conclusion %}<p>{{ r.conclusion }}</p>{% endif %}\n    {% if not nested %}<p class="muted">{% if r.observed_at %}<time datetime="{{ r.observed_at|date:\'c\' }}">{{ r.observed_at|date:"d/m/Y" }}</time> · {% endif %}{{ r.facility.name }}{% if r.visit and r.visit.department_label %} · {{ r.visit.department_label }}{% endif %}</p>{% endif %}\n  </li>{% endwith %}\n'
OLD_TABLE_ROW = '{% load i18n %}<tr{% if row.out_of_range %} class="row-out"{% endif %}><th scope="row">{{ row.result.name }}</th>\n      <td><span class="value">{{ row.value }}{% if row.result.unit %} {{ row.result.unit }}{% endif %}</span>{% if row.flag_label %} <span class="flag {{ row.flag_class }}">{% if row.flag_symbol %}<span aria-hidden="true">{{ row.flag_symbol }} </span>{% endif %}{{ row.flag_label }}{% if row.result.flag == "H" or row.result.flag == "L" %}<span class="visually-hidden"> — {% translate "ngoài khoảng tham chiếu" %}</span> ({{ row.result.flag }}){% endif %}</span>{% endif %}{% if row.result.conclusion %}<br><span class="muted">{{ row.result.conclusion }}</span>{% endif %}</td>\n      <td class="ref">{{ row.reference|default:"—" }}</td></tr>'


def _results(patient: Patient, facility: Facility) -> list[HisLabResult]:
    visit = HisVisit.objects.create(
        patient=patient, facility=facility, source="xml", external_id="V-HTML", department_code="K01"
    )
    report = HisLabReport.objects.create(
        patient=patient, facility=facility, source="fhir", external_id="R-HTML", name="Công thức máu"
    )
    when = datetime(2026, 6, 1, 20, 30, tzinfo=UTC)  # the next day in Vietnam
    kinds: list[dict[str, Any]] = [
        {
            "value_number": Decimal("7.8"),
            "unit": "mmol/L",
            "flag": "H",
            "reference_low": Decimal("3.9"),
            "reference_high": Decimal("6.4"),
            "observed_at": when,
            "visit": visit,
        },
        {
            "value": "Âm tính",
            "flag": "N",
            "conclusion": "Không thấy <b>bất thường</b> & ổn",
            "report": report,
        },
        {"value": "", "flag": "", "reference_text": '< 5 "mg"', "unit": "mg/dL"},
        {
            "value_number": Decimal("0.5"),
            "flag": "L",
            "reference_high": Decimal("1"),
            "observed_at": when,
            "name": "Tên <i>lạ</i> 'x'",
        },
        {"value": "12", "flag": "X"},
    ]
    rows = []
    for n, fields in enumerate(kinds):
        fields.setdefault("name", f"Chỉ số {n}")
        rows.append(
            HisLabResult.objects.create(
                patient=patient, facility=facility, source="fhir", external_id=f"HTML-{n}", **fields
            )
        )
    return list(
        HisLabResult.objects.filter(external_id__startswith="HTML-").select_related(
            "visit", "facility", "report"
        )
    )


@pytest.mark.parametrize("language", ["vi", "en"])
def test_python_built_rows_write_the_old_templates_html(demo: Any, language: str) -> None:
    patient = Patient.objects.get(account__username="bn0000001")
    facility = Facility.objects.get(code="TTYT-HD")
    engine = Engine.get_default()
    item, table_row = engine.from_string(OLD_ITEM), engine.from_string(OLD_TABLE_ROW)
    with translation.override(language):
        for result in _results(patient, facility):
            row = lab_row(result)
            assert row.table_row == table_row.render(Context({"row": row}))
            assert row.item_card == item.render(Context({"row": row, "nested": False}))
            assert row.item_nested == item.render(Context({"row": row, "nested": True}))


@pytest.mark.parametrize("language", ["vi", "en"])
def test_decimal_text_writes_what_number_format_wrote(language: str) -> None:
    from django.utils import formats

    from health_f0.his.selectors import decimal_text

    values = [
        "7.8000",
        "100.0000",
        "0.0500",
        "-0.5000",
        "0",
        "-0.0000",
        "1234567.1250",
        "99999999.9999",
        "1E+2",
    ]
    with translation.override(language):
        for raw in values:
            plain = format(Decimal(raw).normalize(), "f")
            expected = str(formats.number_format(Decimal(plain), use_l10n=True, force_grouping=False))
            assert decimal_text(Decimal(raw)) == expected, raw


def test_the_rows_escape_is_htmls() -> None:
    """his_rows.escape (one str.translate) writes what html.escape(str(x)) writes, quotes included."""
    import html

    from health_f0.www.his_rows import escape

    for text in [
        "<b>\"x\" & 'y'</b>",
        "&amp;",
        "&&<<>>",
        "plain",
        "",
        "Âm tính ≤ 5",
        7.8,
        None,
        "'\"&<>" * 3,
    ]:
        assert escape(text) == html.escape(str(text)), text
