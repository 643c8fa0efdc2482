"""/lich-su's rows and a declaration's answers are written in Python (www.monitoring_views.history_items and
answers_writer, issue 11), no longer by history.html's loop and _declaration_values.html: the markup is what
those templates drew, byte for byte, in Vietnamese and English, escaping included (kept below as they were,
rendered by the portal's own Jinja2 environment)."""

from __future__ import annotations

import json
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from django.template.defaultfilters import date as date_filter
from django.utils import timezone, translation
from jinja2 import DictLoader

from health_f0.core.keyset import Keyset
from health_f0.monitoring import selectors as monitoring
from health_f0.monitoring.models import AlertLevel, Declaration, Episode
from health_f0.monitoring.sql.declarations import HISTORY_TEXT_FIELDS
from health_f0.patients.models import Patient
from health_f0.www import selectors
from health_f0.www.jinja import environment
from health_f0.www.monitoring_views import (
    _number_markup,
    answers_writer,
    history_answers_writer,
    history_items,
    json_value,
)
from tests.www.test_list_pages import add_declarations, hung, portal  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db

# history.html's loop and _declaration_values.html as they were before they became Python (commit 591f846).
OLD_LOOP = """<ol class="history-list">{% for row in rows %}{% set d = row.declaration %}
  <li class="card history-item history-{{ d.alert_level }}">
    <h3><time datetime="{{ row.iso }}">{{ row.day }} <span class="time">{{ row.time }}</span></time></h3>
    <p class="history-flags"><span class="badge badge-{{ d.alert_level }}">{{ row.level }}</span>{% if d.late %} \
<span class="flag-late">{{ _("khai báo muộn") }}</span>{% endif %}</p>
    {% if d.reasons %}<ul class="reasons">{% for reason in d.reasons %}<li>{{ reason }}</li>{% endfor %}</ul>\
{% endif %}
    {% include "values.html" %}
  </li>{% endfor %}
</ol>"""
OLD_VALUES = """{% if row.values %}<dl class="values">{% for item in row.values %}
  <div><dt>{{ item.label }}</dt><dd>{{ item.value }}</dd></div>{% endfor %}
</dl>{% endif %}
{% if row.symptoms %}<p class="symptoms"><span class="muted">{{ _("Biểu hiện:") }}</span> {% for s in row.symptoms %}\
<span class="symptom{% if s.danger %} symptom-danger{% endif %}">{% if s.danger %}<span aria-hidden="true">⚠ </span>\
{% endif %}{{ s.label }}</span>{% if not loop.last %}, {% endif %}{% endfor %}</p>{% else %}\
<p class="symptoms muted">{{ _("Không có biểu hiện nào được chọn.") }}</p>{% endif %}
{% if row.note %}<p class="note"><span class="muted">{{ _("Ghi chú:") }}</span> {{ row.note }}</p>{% endif %}
"""
OLD = environment(loader=DictLoader({"loop.html": OLD_LOOP, "values.html": OLD_VALUES}))

ODD = "<b>\"Tom\" & 'Jerry'</b>"


@pytest.fixture
def episode(hung: Patient) -> Episode:  # noqa: F811
    """Declarations with every kind of answer the page shows: numbers as ints, floats and text (a comma, an
    unparsable value), symptoms with a danger sign and an unknown code, a note and reasons with markup in them,
    late ones, an unknown level, none of the answers."""
    episode = add_declarations(hung, 9)
    rows = list(Declaration.objects.filter(episode=episode).order_by("id"))
    answers: list[dict[str, Any]] = [
        {"temperature": 36.8, "spo2": 97, "pulse": "88", "symptoms": ["cough", "shortness_of_breath"]},
        {"temperature": "37,5", "spo2": "97.0", "breathing_rate": 20.0, "note": ODD},
        {"temperature": 38, "spo2": 93, "symptoms": ["chest_pain", "no-such<code>", "fatigue"], "note": "ok"},
        {"temperature": "abc", "bp_systolic": 120, "bp_diastolic": 80, "symptoms": []},
        {},
        {"temperature": 36.85, "spo2": 100, "symptoms": "cough", "note": ""},
        {"temperature": 0.0, "spo2": -0.0, "pulse": True},
        {"temperature": 1e21, "spo2": 99.5},
    ]
    for i, row in enumerate(rows):
        row.answers = answers[i % len(answers)]
        row.reasons = [ODD, "SpO2 93% dưới 94%"] if i % 3 == 0 else []
        row.late = i % 2 == 1
        row.alert_level = ["none", "watch", "urgent", "emergency", "odd<level>"][i % 5]
    Declaration.objects.bulk_update(rows, ["answers", "reasons", "late", "alert_level"])
    return episode


def old_rows(rows: list[dict[str, Any]]) -> list[SimpleNamespace]:
    """What the view handed history.html: each declaration, its answers (declaration_views), its time as
    Django's `date` filter wrote it and its level's label."""
    declarations = [
        Declaration(**{**row, **{f: json.loads(row[f]) for f in HISTORY_TEXT_FIELDS}}) for row in rows
    ]
    labels = dict(AlertLevel.choices)
    shown = []
    for view in monitoring.declaration_views(declarations):
        d = view.declaration
        at = timezone.localtime(d.submitted_at)
        shown.append(
            SimpleNamespace(
                declaration=d,
                values=view.values,
                symptoms=view.symptoms,
                note=view.note,
                day=date_filter(at, "d/m/Y"),
                time=date_filter(at, "H:i"),
                iso=date_filter(at, "c"),
                level=str(labels.get(d.alert_level, d.alert_level)),
            )
        )
    return shown


@pytest.mark.parametrize("language", ["vi", "en"])
def test_history_items_are_what_the_template_drew(episode: Episode, language: str) -> None:
    rows = (
        selectors.declaration_history(episode=episode)
        .keyset_page(Keyset(selectors.HISTORY_ORDER), size=50, cursor=None)
        .items
    )
    assert len(rows) == 10
    with translation.override(language):
        new = f'<ol class="history-list">{history_items(rows)}\n</ol>'
        old = OLD.get_template("loop.html").render({"rows": old_rows(rows)})
    assert new == old
    assert "&lt;b&gt;&#34;Tom&#34; &amp; &#39;Jerry&#39;&lt;/b&gt;" in new
    assert "symptom-danger" in new and "odd&lt;level&gt;" in new and 'class="note"' in new


@pytest.mark.parametrize("language", ["vi", "en"])
def test_answers_writer_is_what_the_partial_drew(episode: Episode, language: str) -> None:
    declarations = list(Declaration.objects.filter(episode=episode).order_by("id"))
    with translation.override(language):
        write = answers_writer()
        for view in monitoring.declaration_views(declarations):
            old = OLD.get_template("values.html").render({"row": view})
            assert write(view.values, view.symptoms, view.note) == old


def test_a_page_in_another_time_zone_shows_its_local_times(episode: Episode) -> None:
    rows = (
        selectors.declaration_history(episode=episode)
        .keyset_page(Keyset(selectors.HISTORY_ORDER), size=3, cursor=None)
        .items
    )
    for zone in ("UTC", "America/St_Johns", "Asia/Ho_Chi_Minh"):
        with timezone.override(zone):
            new = f'<ol class="history-list">{history_items(rows)}\n</ol>'
            assert new == OLD.get_template("loop.html").render({"rows": old_rows(rows)})


@pytest.mark.parametrize("language", ["vi", "en"])
def test_history_answers_are_answers_writer_s(episode: Episode, language: str) -> None:
    """history_answers_writer writes what answers_writer wrote of answer_parts' parts, the first time and from
    its memo of numbers' markup (twice, and after the memo is emptied)."""
    declarations = list(Declaration.objects.filter(episode=episode).order_by("id"))
    versions = [d.questionnaire_id for d in declarations]
    with translation.override(language):
        parts, write = monitoring.answer_parts(versions), answers_writer()
        for _ in range(2):
            fused = history_answers_writer(versions)
            for d in declarations:
                assert fused(d.questionnaire_id, d.answers) == write(*parts(d.questionnaire_id, d.answers))
        _number_markup.clear()
        for d in declarations:
            new = history_answers_writer(versions)(d.questionnaire_id, d.answers)
            assert new == write(*parts(d.questionnaire_id, d.answers))
    # -0.0 equals 0.0 but is written "-0": neither is kept, so neither is answered for the other
    assert not [key for key in _number_markup if key[3] is float and key[4] == 0]


@pytest.mark.parametrize(
    "text",
    [
        '{"temperature": "37.0", "spo2": "95", "symptoms": ["fatigue"]}',
        '{"a":1}',
        "[]",
        '["SpO2 95% \u2264 96%", "<b>"]',
        '"text"',
        "1e400",
        "NaN",
        "null",
        ' {"a": 1}',
        '{"a": 1} ',
        '{"a": 1}{"b": 2}',
        "[1] x",
        "",
        "not json",
        '{"a": ',
        '"\ud800"',
        "\ufeff[]",
        None,
    ],
)
def test_json_values_are_the_json_field_s(text: str | None) -> None:
    """The history's answers and reasons, read as text (monitoring/sql/declarations.HISTORY_TEXT_FIELDS), are
    what the JSONField's converter gives: the same value, or the text where it is not JSON."""
    field = Declaration._meta.get_field("answers")
    expected = field.from_db_value(text, None, None)  # type: ignore[union-attr]
    got = json_value(text)
    assert got == expected or (got != got and expected != expected)  # NaN is not equal to itself
    assert type(got) is type(expected)


def test_number_texts_are_decimal_text_s() -> None:
    for value, decimals in [
        (36.8, 1), ("36,8", 1), ("36.85", 1), (97, None), (97.0, None), ("97.50", None), (True, None),
        (0.0, 1), (-0.0, 1), (-0.0, None), (1e21, None), (float("nan"), 1), ("abc", 0), (120, 0), (99.5, 0),
    ]:  # fmt: skip
        for _ in range(2):  # the second time from the memo
            assert monitoring.number_text(value, decimals) == monitoring.decimal_text(value, decimals), value


def test_declaration_result_page_shows_the_answers(portal: Any, episode: Episode) -> None:  # noqa: F811
    declaration = Declaration.objects.filter(episode=episode, answers__note=ODD).first()
    assert declaration is not None
    page = portal.get(f"/khai-bao/ket-qua/{declaration.public_id}").content.decode()
    (view,) = monitoring.declaration_views([declaration])
    with translation.override("vi"):
        assert OLD.get_template("values.html").render({"row": view}) in page


def test_history_page_is_unchanged_around_the_rows(portal: Any, episode: Episode) -> None:  # noqa: F811
    page = portal.get("/lich-su").content.decode()
    assert page.count('class="card history-item') == 10
    assert '<ol class="history-list">\n  <li class="card history-item' in page
    assert "</li>\n</ol>" in page


# _chart.html's loops as they were before the axes became one string (commit 591f846).
OLD_AXES = """{% for t in chart.y_ticks %}<line class="grid" x1="{{ chart.plot_left }}" x2="{{ chart.plot_right }}" \
y1="{{ t.pos }}" y2="{{ t.pos }}"/><text class="tick" x="{{ chart.plot_left }}" dx="-5" y="{{ t.pos }}" dy="4" \
text-anchor="end">{{ t.label }}</text>
    {% endfor %}{% if chart.threshold %}<line class="threshold" x1="{{ chart.plot_left }}" \
x2="{{ chart.plot_right }}" y1="{{ chart.threshold.pos }}" y2="{{ chart.threshold.pos }}"/>
    {% endif %}{% for t in chart.x_ticks %}<text class="tick" x="{{ t.pos }}" y="{{ chart.plot_bottom }}" dy="16" \
text-anchor="middle">{{ t.label }}</text>
    {% endfor %}"""


@pytest.mark.parametrize("days", [1, 8, 9, 16, 17, 40])
@pytest.mark.parametrize("values", [[], [97], [80, 97, 101], [93, 95, 99, 100]])
def test_chart_axes_are_what_the_template_drew(days: int, values: list[int]) -> None:
    from datetime import date, timedelta
    from decimal import Decimal

    from health_f0.www.charts import Reading, series_chart

    first = date(2026, 11, 20)
    start = timezone.make_aware(datetime(2026, 11, 20, 8, 0))
    readings = [Reading(start + timedelta(hours=7 * i), Decimal(v)) for i, v in enumerate(values)]
    for threshold in (Decimal(96), Decimal(60), None):
        charts = [
            series_chart(
                key="spo2",
                title="SpO2",
                unit="%",
                readings=readings,
                first_day=first,
                last_day=first + timedelta(days=days - 1),
                low=Decimal(88),
                high=Decimal(100),
                step=Decimal(2),
                threshold=threshold,
                alert_when_below=True,
                decimals=0,
            )
            for _ in range(2)  # the second from the memo
        ]
        for chart in charts:
            assert chart.axes == OLD.from_string(OLD_AXES).render({"chart": chart})
        assert charts[0] == charts[1]


def test_chart_points_are_the_same_from_the_memo() -> None:
    """series_chart's heights, texts and alerts kept by value and scale (charts._shown_values) are what it works
    out afresh: for equal Decimals written differently, for scales widened to show a reading, and for each
    chart's unit, decimals and threshold."""
    from datetime import date, timedelta
    from decimal import Decimal

    from health_f0.www import charts

    first = date(2026, 11, 20)
    start = timezone.make_aware(datetime(2026, 11, 20, 8, 0))
    spo2 = ["97", "97.0", "96", "80", "101", "93"]
    temperature = ["36.8", "36.80", "38", "38.0", "41.2", "34.5"]

    def draw() -> list[Any]:
        drawn = []
        for values, unit, low, high, step, threshold, below, decimals in (
            (spo2, "%", 88, 100, 2, 96, True, 0),
            (temperature, " °C", 35, 40, 1, 38, False, 1),
            (temperature, " °C", 35, 40, 1, None, False, 1),
        ):
            for count in (1, 3, len(values)):
                readings = [
                    charts.Reading(start + timedelta(hours=7 * i), Decimal(v))
                    for i, v in enumerate(values[:count])
                ]
                drawn.append(
                    charts.series_chart(
                        key="k",
                        title="T",
                        unit=unit,
                        readings=readings,
                        first_day=first,
                        last_day=first + timedelta(days=3),
                        low=Decimal(low),
                        high=Decimal(high),
                        step=Decimal(step),
                        threshold=None if threshold is None else Decimal(threshold),
                        alert_when_below=below,
                        decimals=decimals,
                    )
                )
        return drawn

    charts._shown_values.clear()
    fresh = draw()
    assert draw() == fresh  # from the memo
    for chart in fresh:
        for point in chart.points:
            value = point.text.split(": ")[1].removesuffix(chart.unit)
            assert value in {"97", "96", "80", "101", "93", "36,8", "38,0", "41,2", "34,5"}
    assert [p.alert for p in fresh[2].points] == [False, False, True, True, False, True]


# _chart.html and history.html's loop of its includes, as they were before the figure was written in Python.
OLD_CHART = """<figure class="chart">
  <figcaption id="chart-{{ chart.key }}-title">{{ chart.title }} ({{ chart.unit|replace(" ", "") }})</figcaption>
  <svg viewBox="0 0 {{ chart.width }} {{ chart.height }}" role="img" \
aria-labelledby="chart-{{ chart.key }}-title chart-{{ chart.key }}-desc" focusable="false" \
preserveAspectRatio="xMidYMid meet">
    <desc id="chart-{{ chart.key }}-desc">{{ chart.summary }}</desc>
    {{ chart.axes }}{% if chart.points|length > 1 %}<polyline class="series" points="{{ chart.line }}"/>
    {% endif %}{{ chart.circles }}
  </svg>
  <p class="chart-note" aria-hidden="true">{{ chart.summary }}</p>
</figure>
"""
OLD_CHARTS = """{% for chart in charts %}{% include "chart.html" %}
  {% endfor %}"""


@pytest.mark.parametrize("count", [0, 1, 2, 5])
def test_chart_figures_are_what_the_template_drew(count: int) -> None:
    from dataclasses import replace
    from datetime import date, timedelta
    from decimal import Decimal

    from health_f0.www.charts import Reading, figures, series_chart

    old = environment(loader=DictLoader({"chart.html": OLD_CHART, "charts.html": OLD_CHARTS}))
    first = date(2026, 11, 20)
    start = timezone.make_aware(datetime(2026, 11, 20, 8, 0))
    readings = [Reading(start + timedelta(hours=9 * i), Decimal(94 + i)) for i in range(count)]
    chart = series_chart(
        key="spo2",
        title="SpO2",
        unit=" °C",
        readings=readings,
        first_day=first,
        last_day=first + timedelta(days=4),
        low=Decimal(88),
        high=Decimal(100),
        step=Decimal(2),
        threshold=Decimal(96),
        alert_when_below=True,
        decimals=0,
    )
    odd = replace(chart, key='k"<&>', title=ODD, unit=" <u> ", summary=ODD)
    for charts in ([chart], [chart, odd], [odd, chart, chart]):
        assert figures(charts) == old.get_template("charts.html").render({"charts": charts})


def test_history_texts_are_each_language_s() -> None:
    """The page's catalogue strings, looked up once per language (monitoring_views._history_texts), are what
    gettext and get_status_display answer in the active language, whichever language asked first."""
    from django.utils.translation import gettext

    from health_f0.monitoring.models import EpisodeStatus
    from health_f0.www.charts import summary_texts
    from health_f0.www.monitoring_views import _HISTORY_TEXTS, _history_texts

    _HISTORY_TEXTS.clear()
    for language in ("en", "vi", "en"):
        with translation.override(language):
            texts = _history_texts()
            assert texts.symptoms_title == gettext("Biểu hiện:")
            assert texts.note_title == gettext("Ghi chú:")
            assert gettext("khai báo muộn") in texts.late
            assert gettext("Không có biểu hiện nào được chọn.") in texts.no_symptoms
            assert (texts.spo2, texts.temperature) == (gettext("SpO2"), gettext("Nhiệt độ"))
            assert texts.summary == summary_texts()
            assert texts.summary.at_when == gettext("%(value)s lúc %(when)s")
            assert texts.episode_status == {value: str(label) for value, label in EpisodeStatus.choices}
            assert texts.levels == {value: (value, str(label)) for value, label in AlertLevel.choices}
    with translation.override("en"):
        assert _history_texts().note_title != _HISTORY_TEXTS["vi"].note_title  # both languages kept apart


# history.html's three `|fmt` lines, as they were before history() filled them in.
OLD_LINES = """<p class="lead">{{ _("Người bệnh: <strong>%(name)s</strong> (sinh năm %(year)s)")|fmt(\
name=patient.full_name, year=patient.date_of_birth|date("Y")) }}</p>
<p>{{ _("Đợt theo dõi từ %(start)s — %(status)s.")|fmt(start=episode.start_date|date("d/m/Y"), status=status) }}
<p class="help">{{ _("Đường đứt nét là ngưỡng cần báo nhân viên y tế (SpO2 từ 96%% trở xuống, sốt từ 38 °C). \
Điểm màu đỏ là lần đo vượt ngưỡng.")|fmt() }}</p>"""


@pytest.mark.parametrize("language", ["vi", "en"])
def test_history_lines_are_what_fmt_wrote(
    portal: Any,  # noqa: F811
    hung: Patient,  # noqa: F811
    episode: Episode,
    language: str,
) -> None:
    hung.full_name = ODD
    Patient.objects.filter(pk=hung.pk).update(full_name=ODD)
    episode.refresh_from_db()
    portal.cookies["django_language"] = language
    page = portal.get("/lich-su", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    with translation.override(language):
        status = episode.get_status_display()
        old = OLD.from_string(OLD_LINES).render({"patient": hung, "episode": episode, "status": status})
    lead, line, chart_help = old.split("\n")
    assert lead in page and "&lt;b&gt;&#34;Tom&#34;" in lead
    assert line in page and chart_help in page and "96%" in chart_help


@pytest.mark.parametrize("language", ["vi", "en"])
def test_table_body_is_table_markup_of_table_rows(language: str) -> None:
    """charts.table_body writes what table_markup wrote of table_rows: in each language and time zone, with a
    reading without SpO2 or temperature and one before the year 1000."""
    from datetime import UTC, date
    from decimal import Decimal

    from health_f0.www.charts import local_isos, table_body
    from health_f0.www.selectors import ChartReading
    from tests.www.chart_reference import table_markup, table_rows

    readings = [
        ChartReading(datetime(2026, 11, 24, 0, 5, tzinfo=UTC), date(2026, 11, 24), 97, Decimal("36.8")),
        ChartReading(datetime(2026, 11, 23, 23, 59, tzinfo=UTC), date(2026, 11, 24), None, Decimal("38.0")),
        ChartReading(datetime(2026, 11, 23, 12, 0, tzinfo=UTC), date(2026, 11, 23), 88, None),
        ChartReading(datetime(2026, 1, 1, 0, 0, tzinfo=UTC), date(2026, 1, 1), 100, Decimal("40")),
        ChartReading(datetime(999, 3, 4, 5, 6, tzinfo=UTC), date(999, 3, 4), 95, Decimal("35.5")),
    ]
    with translation.override(language):
        for zone in ("UTC", "America/St_Johns", "Asia/Ho_Chi_Minh"):
            with timezone.override(zone):
                local = local_isos(r.submitted_at for r in readings)
                body = table_body(readings, local)
                assert body == table_markup(table_rows(readings, local))
                assert body == table_markup(table_rows(readings))


def test_answers_plan_follows_the_questions_it_was_made_from() -> None:
    """history_answers_writer's plan of a version is made again from a re-read list of its questions
    (monitoring._shown_questions' process cache), never answered from an older list's."""
    from health_f0.www.monitoring_views import _answers_plan

    def question(label: str) -> monitoring.ShownQuestion:
        options = {"cough": {"code": "cough", "vi": label, "danger": label == "Khó thở"}}
        return monitoring.ShownQuestion("symptoms", "multi", "Biểu hiện", "", None, options)

    first, second = [question("Ho")], [question("Khó thở")]
    assert _answers_plan(-1, first)[0][3] == {"cough": '<span class="symptom">Ho</span>'}
    assert _answers_plan(-1, first) is _answers_plan(-1, first)
    assert _answers_plan(-1, second)[0][3] == {
        "cough": '<span class="symptom symptom-danger"><span aria-hidden="true">⚠ </span>Khó thở</span>'
    }


@pytest.mark.parametrize("language", ["vi", "en"])
def test_history_answers_of_odd_shapes_are_answers_writer_s(episode: Episode, language: str) -> None:
    """Answers the fast path does not take (not a JSON object) or takes oddly (a choice's code that is a
    number, a label that is not text) are written as answer_parts and answers_writer wrote them."""
    declarations = list(Declaration.objects.filter(episode=episode).order_by("id"))
    version = declarations[0].questionnaire_id
    odd: list[Any] = [
        {"symptoms": [1, "cough", "cough"], "note": 5, "spo2": "95"},
        {"symptoms": None, "note": "", "temperature": None},
        {"symptoms": "no-such", "pulse": 0},
    ]
    with translation.override(language):
        parts, write = monitoring.answer_parts([version]), answers_writer()
        fused = history_answers_writer([version])
        for answers in odd:
            assert fused(version, answers) == write(*parts(version, answers))
        for answers in ([], "text"):
            with pytest.raises(AttributeError):
                fused(version, answers)
            with pytest.raises(AttributeError):
                parts(version, answers)


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "UTC", "America/St_Johns"])
def test_history_charts_are_the_decimal_readings_charts(zone: str) -> None:
    """The view hands series_chart plain (at, value, local) tuples with SpO2 as the int it is read as
    (monitoring_views._history_charts); the charts are those of Reading NamedTuples with Decimal values, as it
    built them before: the same points, heights, texts, alerts, line, scale and summary, including readings
    before the first day and after the last, and values off the scale."""
    from datetime import UTC, date, timedelta
    from decimal import Decimal

    from health_f0.www import charts
    from health_f0.www.monitoring_views import _history_charts, _history_texts
    from health_f0.www.selectors import ChartReading

    start = datetime(2026, 11, 20, 1, 7, 33, 123456, tzinfo=UTC)
    spo2 = [97, 96, None, 80, 101, 93, 88, 100, 95, 99]
    temperature = ["36.8", None, "38.0", "41.2", "34.5", "37.5", "38.0", None, "36.6", "39.9"]
    readings = [
        ChartReading(
            start + timedelta(hours=11 * i - 30, seconds=i),
            date(2026, 11, 20),
            s,
            None if t is None else Decimal(t),
        )
        for i, (s, t) in enumerate(zip(spo2, temperature, strict=True))
    ][::-1]
    episode = SimpleNamespace(
        start_date=date(2026, 11, 20), expected_end_date=date(2026, 11, 23), status="completed"
    )
    with timezone.override(zone):
        local = charts.local_isos(r.submitted_at for r in readings)
        texts = _history_texts()
        for _ in range(2):  # the second time from the memo of shown values
            new = _history_charts(episode, readings, local, texts, newest=date(2026, 11, 24))
            old = [
                charts.series_chart(
                    key=chart.key,
                    title=chart.title,
                    unit=chart.unit,
                    readings=[
                        charts.Reading(r.submitted_at, Decimal(getattr(r, chart.key)), iso)
                        for r, iso in zip(readings, local, strict=True)
                        if getattr(r, chart.key) is not None
                    ],
                    first_day=date(2026, 11, 20),  # the episode's start (the readings' local dates)
                    last_day=date(2026, 11, 24),
                    low=Decimal(low),
                    high=Decimal(high),
                    step=Decimal(step),
                    threshold=Decimal(threshold),
                    alert_when_below=chart.key == "spo2",
                    decimals=0 if chart.key == "spo2" else 1,
                    texts=texts.summary,
                )
                for chart, (low, high, step, threshold) in zip(
                    new, [(88, 100, 2, 96), (35, 40, 1, 38)], strict=True
                )
            ]
            assert new == old
            assert charts.figures(new) == charts.figures(old)
            assert all(type(p) is charts.Point for chart in new for p in chart.points)
    # a reading's x: its seconds from the first day's start, as timedelta.total_seconds() gave them
    for micro in (0, 1, 999_999, 86_400_000_001, -1, -86_400_000_001, 123_456_789_012_345):
        delta = timedelta(microseconds=micro)
        assert delta / charts._SECOND == delta.total_seconds()


def test_history_head_is_the_pager_style_include() -> None:
    """history.html writes www/_pager_style.html's style out instead of including it: the same text."""
    from pathlib import Path

    from django.template import engines

    env = engines["jinja2"].env  # type: ignore[attr-defined]
    folder = Path(__file__).resolve().parents[2] / "health_f0" / "www" / "jinja2" / "www"
    source = (folder / "history.html").read_text()
    included = env.from_string('{% include "www/_pager_style.html" %}').render({})
    assert "{% block head %}" + included + "{% endblock %}" in source


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "America/St_Johns"])
def test_history_items_with_the_view_s_iso_texts(episode: Episode, zone: str) -> None:
    """history_items given the rows' local ISO texts (the view works them out once for the rows, the charts and
    the table) writes what it writes on its own; a year before 1000 (an ISO text with a leading zero) is still
    written by strftime, as before."""
    from datetime import UTC

    from health_f0.www.charts import local_isos

    rows = (
        selectors.declaration_history(episode=episode)
        .keyset_page(Keyset(selectors.HISTORY_ORDER), size=50, cursor=None)
        .items
    )
    old = [{**row, "submitted_at": datetime(999, 3, 4, 5, 6, tzinfo=UTC)} for row in rows[:2]]
    with timezone.override(zone):
        for page in (rows, old + rows):
            isos = local_isos([row["submitted_at"] for row in page])
            assert history_items(page, isos=isos) == history_items(page)
        at = timezone.localtime(old[0]["submitted_at"])
        assert f'{at:%d/%m/%Y} <span class="time">{at:%H:%M}</span>' in history_items(old)
