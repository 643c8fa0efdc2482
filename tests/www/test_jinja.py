"""The portal's Jinja2 environment (health_f0/www/jinja.py): escaping, `|fmt`, dates, and the bridge that
draws a Jinja2 partial inside a Django template."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.template import engines
from django.test import RequestFactory
from django.utils import translation

from health_f0.www.jinja import date_filter


def render(source: str, **context: object) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_values_are_escaped_and_translated_text_takes_values_escaped() -> None:
    assert render("{{ v }}", v="<b>") == "&lt;b&gt;"
    with translation.override("vi"):
        out = render('{{ _("sinh năm %(year)s")|fmt(year=y) }}', y="<script>")
    assert out == "sinh năm &lt;script&gt;"
    with translation.override("en"):
        assert render('{{ _("Trang sau") }}') == "Next page"


def test_fmt_takes_a_value_named_text() -> None:
    """The catalogue has "%(text)s" placeholders ("Kết luận: %(text)s" on /ket-qua-xet-nghiem): fmt's own
    argument must not take that name."""
    with translation.override("vi"):
        out = render('{{ _("Kết luận: %(text)s")|fmt(text=t) }}', t="<b>Đường huyết cao.</b>")
    assert out == "Kết luận: &lt;b&gt;Đường huyết cao.&lt;/b&gt;"


def test_fmt_refuses_text_that_is_not_from_the_catalogue() -> None:
    """A value of the page's data must never be treated as markup."""
    with pytest.raises(TypeError):
        render("{{ v|fmt(x=1) }}", v="<img src=x onerror=alert(1)> %(x)s")


def test_dates_are_shown_in_the_local_time_zone() -> None:
    moment = datetime(2026, 12, 5, 17, 30, tzinfo=UTC)  # 00:30 on the 6th in Hanoi
    assert date_filter(moment, "d/m/Y H:i") == "06/12/2026 00:30"
    assert date_filter(date(2026, 1, 2)) == "02/01/2026"
    assert date_filter(None) == ""
    assert render('{{ d|date("Y") }}', d=date(1950, 3, 4)) == "1950"


def test_a_django_template_draws_a_jinja_partial_with_its_context() -> None:
    request = RequestFactory().get("/")
    out = (
        engines["django"]
        .from_string('{% load jinja %}{% jinja "www/_pager_notice.html" %}')
        .render({"pager": {"notice": "<Chú ý>"}}, request)
    )
    assert '<div class="notice notice-info" role="status"><p>&lt;Chú ý&gt;</p></div>' in out


def test_translated_text_is_the_templates_own_markup_as_in_django_templates() -> None:
    """`{% translate %}` of a Django template does not escape the catalogue's text; neither does `_()`."""
    with translation.override("en"):
        assert "Today's deadline" in render(
            '{{ _("Đã quá hạn hôm nay — vẫn khai báo được, khai báo sẽ được ghi là muộn.") }}'
        )


@pytest.mark.parametrize("language", ["vi", "en"])
def test_kept_gettext_and_choice_labels_answer_what_django_answers(language: str) -> None:
    """www.jinja.kept_gettext is gettext per language; choice_labels is get_FOO_display for every choice (the
    value itself for any other), and both keep only msgids and choices, never a page's data."""
    from django.db.models import Choices
    from django.utils.translation import gettext

    from health_f0.monitoring.models import AlertLevel, Episode, EpisodeStatus
    from health_f0.www.jinja import _choice_labels, _kept_texts, choice_labels, kept_gettext

    with translation.override(language):
        for message in ("Biểu hiện:", "khai báo muộn", "%(value)s lúc %(when)s", "SpO2"):
            assert kept_gettext(message) == gettext(message) and type(kept_gettext(message)) is str
        for value, _label in EpisodeStatus.choices:
            assert choice_labels(EpisodeStatus)[value] == Episode(status=value).get_status_display()
        assert choice_labels(EpisodeStatus).get("odd", "odd") == Episode(status="odd").get_status_display()
        assert set(choice_labels(AlertLevel)) == set(AlertLevel.values)
    assert all(isinstance(message, str) and lang in ("vi", "en", None) for lang, message in _kept_texts)
    assert all(issubclass(choices, Choices) for choices, _lang in _choice_labels)  # classes, no data
    with translation.override("en"):
        english = kept_gettext("khai báo muộn")
    with translation.override("vi"):
        assert kept_gettext("khai báo muộn") == "khai báo muộn" != english


def test_the_date_filters_short_way_for_a_day_is_dateformats() -> None:
    """date_filter writes a date's "d/m/Y" and "Y" itself: what Django's dateformat writes, years < 1000 too."""
    from django.utils import dateformat

    for day in (date(2026, 12, 7), date(1, 1, 1), date(999, 3, 4), date(2000, 10, 31), date(9999, 12, 31)):
        for fmt in ("d/m/Y", "Y"):
            assert date_filter(day, fmt) == dateformat.format(day, fmt), (day, fmt)


def test_the_date_filters_short_way_for_a_moment_is_djangos() -> None:
    """date_filter writes an aware datetime's "H:i", "d/m/Y" and "H:i d/m/Y" itself: what localtime and
    dateformat write, in the active time zone, years < 1000 too; a naive one still goes through dateformat."""
    from zoneinfo import ZoneInfo

    from django.utils import dateformat, timezone

    moments = [
        datetime(2026, 12, 5, 17, 30, tzinfo=UTC),
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 30, tzinfo=ZoneInfo("Europe/Paris")),
        datetime(1, 1, 2, 0, 0, tzinfo=UTC),
    ]
    for zone in ("Asia/Ho_Chi_Minh", "UTC", "America/New_York"):
        with timezone.override(zone):
            for moment in moments:
                for fmt in ("H:i", "d/m/Y", "H:i d/m/Y", "Y", "c"):
                    expected = dateformat.format(timezone.localtime(moment), fmt)
                    assert date_filter(moment, fmt) == expected, (zone, moment, fmt)
    for clock in (time(0, 0), time(7, 5, 59), time(23, 59, 59, 999999), time(12, 30, tzinfo=UTC)):
        assert date_filter(clock, "H:i") == dateformat.time_format(clock, "H:i"), clock
    naive = datetime(2026, 12, 5, 17, 30)
    assert date_filter(naive, "H:i d/m/Y") == dateformat.format(naive, "H:i d/m/Y") == "17:30 05/12/2026"


@pytest.mark.parametrize(
    "text",
    [
        "Sinh năm %(year)s, %(name)s",
        "%(name)s đạt 100%% mục tiêu",
        "Còn %(limit)d lượt",
        "%(name)-8s|",
        "Không có giá trị",
    ],
)
def test_fmt_writes_what_markups_own_formatting_writes(text: str) -> None:
    """fmt's short way (only "%(name)s" fills) gives Markup's own `%` text and class; other conversions take
    Markup's way."""
    from markupsafe import Markup, escape

    from health_f0.www.jinja import Translated, fmt

    values = {
        "year": 1950,
        "name": "<b>Lê 'A' & \"B\"</b>",
        "limit": 3,
    }
    for name in (values["name"], Markup("<i>x</i>"), 7, None):
        given = {**values, "name": name}
        expected = Markup.__mod__(Translated(text), {key: escape(value) for key, value in given.items()})
        out = fmt(Translated(text), **given)
        assert out == expected and type(out) is type(expected) is Translated, (text, name)
