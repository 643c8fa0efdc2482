"""Small server-rendered SVG charts for the history page: no JavaScript, no chart library.

The geometry is computed here and handed to the template as ready strings (SVG coordinates need a decimal
point whatever the language); the table under the charts gets its numbers as text in the page's language
(`table_rows`), as Django's templates showed them, since the Jinja2 page does not localize numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _
from markupsafe import Markup, escape

from health_f0.monitoring.selectors import decimal_text
from health_f0.www.selectors import ChartReading

WIDTH = 340
HEIGHT = 150
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 12, 24


@dataclass(frozen=True)
class TableRow:
    """One line of the charts' table: the local time ("24/11/2026 07:05") and the temperature as text in
    the page's language ("36,8" / "36.8")."""

    when: str
    spo2: int | None
    temperature: str | None


def table_rows(readings: Sequence[ChartReading]) -> list[TableRow]:
    """The readings as Django's `{{ value }}` showed them: a decimal with the language's separator
    (django.utils.formats.localize; the portal never groups thousands, and a temperature has none). The
    separator and the time zone are looked up once, not per row."""
    separator = formats.get_format("DECIMAL_SEPARATOR")
    zone = timezone.get_current_timezone()
    return [
        TableRow(
            f"{r.submitted_at.astimezone(zone):%d/%m/%Y %H:%M}",
            r.spo2,
            None if r.temperature is None else f"{r.temperature:f}".replace(".", separator),
        )
        for r in readings
    ]


def table_markup(rows: Sequence[TableRow]) -> Markup:
    """The table's body rows, as history.html's loop drew them (three values a row, each escaped there one
    by one: issue 11)."""
    return Markup(  # noqa: S704 - every value is escaped
        "".join(
            f'<tr><th scope="row">{escape(r.when)}</th>'
            f"<td>{'—' if r.spo2 is None else f'{escape(r.spo2)}%'}</td>"
            f"<td>{'—' if r.temperature is None else f'{escape(r.temperature)} °C'}</td></tr>"
            for r in rows
        )
    )


@dataclass(frozen=True)
class Reading:
    at: datetime
    value: Decimal


@dataclass(frozen=True)
class Point:
    x: str
    y: str
    text: str
    alert: bool


@dataclass(frozen=True)
class Tick:
    pos: str
    label: str


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    unit: str
    width: int
    height: int
    points: list[Point]
    line: str
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    threshold: Tick | None
    plot_left: str
    plot_right: str
    plot_top: str
    plot_bottom: str
    summary: str

    @property
    def empty(self) -> bool:
        return not self.points

    @property
    def circles(self) -> Markup:
        """The points' markup, as _chart.html's loop drew it: a few hundred strings that are digits by
        construction were escaped one by one there (issue 11); the point's text is escaped here."""
        return Markup(  # noqa: S704 - coordinates are digits (_f), the text is escaped
            "".join(
                f'<circle class="pt{" pt-alert" if p.alert else ""}" cx="{p.x}" cy="{p.y}" '
                f'r="{5 if p.alert else 4}"><title>{escape(p.text)}</title></circle>\n    '
                for p in self.points
            )
        )


def _f(value: float) -> str:
    return f"{value:.1f}"


def series_chart(
    *,
    key: str,
    title: str,
    unit: str,
    readings: list[Reading],
    first_day: date,
    last_day: date,
    low: Decimal,
    high: Decimal,
    step: Decimal,
    threshold: Decimal | None,
    alert_when_below: bool,
    decimals: int,
) -> Chart:
    """One measure over the episode's days: a polyline, points (alerting ones marked), axes, a threshold."""
    readings = sorted(readings, key=lambda r: r.at)
    values = [r.value for r in readings]
    if values:
        # Widen the scale to show every reading, in whole steps.
        while min(values) < low:
            low -= step
        while max(values) > high:
            high += step
    start = timezone.make_aware(datetime.combine(first_day, time.min))
    end = timezone.make_aware(datetime.combine(last_day + timedelta(days=1), time.min))
    span = (end - start).total_seconds() or 1.0
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x_of(at: datetime) -> float:
        seconds = min(max((at - start).total_seconds(), 0.0), span)
        return LEFT + plot_w * seconds / span

    def y_of(value: Decimal) -> float:
        return TOP + plot_h * float((high - value) / (high - low))

    def alerting(value: Decimal) -> bool:
        if threshold is None:
            return False
        return value <= threshold if alert_when_below else value >= threshold

    zone = timezone.get_current_timezone()  # timezone.localtime's, looked up once for every point
    # A reading's height, text and alert by its value: a chart's hundred readings take a dozen values.
    by_value: dict[Decimal, tuple[str, str, bool]] = {}
    points = []
    for r in readings:
        shown = by_value.get(r.value)
        if shown is None:
            shown = by_value[r.value] = (
                _f(y_of(r.value)),
                f"{decimal_text(r.value, decimals)}{unit}",
                alerting(r.value),
            )
        y, text, alert = shown
        points.append(
            Point(x=_f(x_of(r.at)), y=y, text=f"{r.at.astimezone(zone):%d/%m %H:%M}: {text}", alert=alert)
        )
    y_ticks = []
    tick = low
    while tick <= high:
        y_ticks.append(Tick(_f(y_of(tick)), decimal_text(tick, 0)))
        tick += step
    days = (last_day - first_day).days + 1
    every = 1 if days <= 8 else 2 if days <= 16 else 7
    x_ticks = [
        Tick(_f(LEFT + plot_w * (i + 0.5) / days), f"{first_day + timedelta(days=i):%d/%m}")
        for i in range(0, days, every)
    ]
    return Chart(
        key=key,
        title=title,
        unit=unit,
        width=WIDTH,
        height=HEIGHT,
        points=points,
        line=" ".join(f"{p.x},{p.y}" for p in points),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        threshold=Tick(_f(y_of(threshold)), decimal_text(threshold, 0))
        if threshold is not None and low <= threshold <= high
        else None,
        plot_left=_f(LEFT),
        plot_right=_f(WIDTH - RIGHT),
        plot_top=_f(TOP),
        plot_bottom=_f(HEIGHT - BOTTOM),
        summary=_summary(title, unit, readings, decimals, alert_when_below),
    )


def _summary(title: str, unit: str, readings: list[Reading], decimals: int, low_is_bad: bool) -> str:
    """The chart in one sentence, for screen readers (the table under the chart has every value)."""
    if not readings:
        return _("%(title)s: chưa có lần đo nào.") % {"title": title}
    worst = min(readings, key=lambda r: r.value) if low_is_bad else max(readings, key=lambda r: r.value)
    last = readings[-1]

    def fmt(r: Reading) -> str:
        return _("%(value)s lúc %(when)s") % {
            "value": decimal_text(r.value, decimals) + unit,
            "when": f"{timezone.localtime(r.at):%H:%M %d/%m}",
        }

    if low_is_bad:
        text = _("%(title)s: %(count)s lần đo, thấp nhất %(worst)s, gần nhất %(last)s.")
    else:
        text = _("%(title)s: %(count)s lần đo, cao nhất %(worst)s, gần nhất %(last)s.")
    return text % {"title": title, "count": len(readings), "worst": fmt(worst), "last": fmt(last)}
