"""Small server-rendered SVG charts for the history page: no JavaScript, no chart library.

The geometry is computed here and each chart's `<figure>` written out (`Chart.figure`, as the template
_chart.html drew it; SVG coordinates need a decimal point whatever the language); the table under the charts
gets its numbers as text in the page's language (`table_body`), as Django's templates showed them, since the
Jinja2 page does not localize numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from operator import itemgetter
from typing import Any, NamedTuple

from django.utils import formats, timezone
from markupsafe import Markup, escape

from health_f0.core.memo import Memo
from health_f0.monitoring.selectors import decimal_text
from health_f0.www.jinja import ESCAPES
from health_f0.www.jinja import kept_gettext as _
from health_f0.www.selectors import ChartReading

WIDTH = 340
HEIGHT = 150
LEFT, RIGHT, TOP, BOTTOM = 36, 10, 12, 24


def local_minute(at: datetime, zone: tzinfo, *, year: bool) -> str:
    """`at` in `zone` as "24/11/2026 07:05" (year) or "24/11 07:05": strftime's "%d/%m/%Y %H:%M" and "%d/%m
    %H:%M", cut from the ISO text (a third of strftime's cost; the same digits for years 1000-9999)."""
    local = at.astimezone(zone)
    iso = local.isoformat()
    if not year:
        return f"{iso[8:10]}/{iso[5:7]} {iso[11:16]}"
    if local.year < 1000:
        return f"{local:%d/%m/%Y %H:%M}"
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]} {iso[11:16]}"


def local_isos(moments: Iterable[datetime]) -> list[str]:
    """Each moment's ISO text in the active time zone (timezone.localtime's): worked out once per reading for
    both charts, their summaries and the table (series_chart's Reading.local, table_rows' `local`)."""
    zone = timezone.get_current_timezone()
    return [at.astimezone(zone).isoformat() for at in moments]


def _minute_with_year(iso: str, at: datetime, zone: tzinfo) -> str:
    """local_minute(at, zone, year=True) from `at`'s local ISO text."""
    if iso[0] == "0":  # a year before 1000: strftime writes it without the ISO text's leading zeros
        return local_minute(at, zone, year=True)
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]} {iso[11:16]}"


def table_body(readings: Sequence[ChartReading], local: Sequence[str]) -> Markup:
    """The charts' table's body rows, in one pass (issue 11; tests/www/chart_reference.py keeps the readable
    form it is tested equal to: a row's values as Django's `{{ value }}` showed them, each escaped): the time
    and SpO2 are digits by construction (a local ISO text's, an integer's) and the temperature a decimal's
    digits and the language's separator, so nothing in them is escaped."""
    separator = formats.get_format("DECIMAL_SEPARATOR")
    zone = timezone.get_current_timezone()
    return Markup(  # noqa: S704 - digits, the separator and the catalogue-free units
        "".join(
            [
                f'<tr><th scope="row">'
                f"{_minute_with_year(iso, r.submitted_at, zone) if iso[0] == '0' else f'{iso[8:10]}/{iso[5:7]}/{iso[:4]} {iso[11:16]}'}"
                f"</th><td>{'—' if r.spo2 is None else f'{r.spo2}%'}</td>"
                f"<td>{'—' if r.temperature is None else f'{r.temperature:f}'.replace('.', separator) + ' °C'}</td></tr>"
                for r, iso in zip(readings, local, strict=True)
            ]
        )
    )


_AT = itemgetter(0)
_SECOND = timedelta(seconds=1)
_new_point = tuple.__new__
_VALUE = itemgetter(1)


class Reading(NamedTuple):
    at: datetime
    value: Decimal
    local: str = ""  # `at`'s ISO text in the active time zone (local_isos), when the caller has it


# What series_chart reads of a reading, by position: a Reading, or a plain (at, value, local) tuple, whose value
# may be an int (an SpO2: equal to its Decimal in every comparison, sum and hash, and written the same by
# decimal_text), which the history page builds without a NamedTuple or a Decimal per reading (issue 11).
ReadingLike = tuple[datetime, Any, str]


class Point(NamedTuple):
    x: str
    y: str
    text: str
    alert: bool


class Tick(NamedTuple):
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
    y_ticks: tuple[Tick, ...]
    x_ticks: tuple[Tick, ...]
    threshold: Tick | None
    plot_left: str
    plot_right: str
    plot_top: str
    plot_bottom: str
    summary: str
    axes: Markup  # the grid, the threshold and the days (_axes)

    @property
    def empty(self) -> bool:
        return not self.points

    @property
    def circles(self) -> Markup:
        """The points' markup, as _chart.html's loop drew it: a few hundred strings that are digits by
        construction were escaped one by one there (issue 11); the point's text is escaped here."""
        return Markup(  # noqa: S704 - coordinates are digits (_f), the text is escaped
            "".join(
                [
                    f'<circle class="pt{" pt-alert" if p.alert else ""}" cx="{p.x}" cy="{p.y}" '
                    f'r="{5 if p.alert else 4}"><title>{p.text.translate(ESCAPES)}</title></circle>\n    '
                    for p in self.points
                ]
            )
        )

    @property
    def figure(self) -> Markup:
        """The chart's `<figure>`, as _chart.html drew it (an include and some twenty escaped outputs a chart
        there: issue 11): its key, title, unit, line and summary escaped here, the axes and points as they are."""
        key = escape(self.key)
        summary = escape(self.summary)
        polyline = (
            f'<polyline class="series" points="{escape(self.line)}"/>\n    ' if len(self.points) > 1 else ""
        )
        return Markup(  # noqa: S704 - every value is escaped, the axes and circles are markup
            f'<figure class="chart">\n  <figcaption id="chart-{key}-title">{escape(self.title)} '
            f"({escape(self.unit.replace(' ', ''))})</figcaption>\n"
            f'  <svg viewBox="0 0 {self.width} {self.height}" role="img" aria-labelledby="chart-{key}-title '
            f'chart-{key}-desc" focusable="false" preserveAspectRatio="xMidYMid meet">\n'
            f'    <desc id="chart-{key}-desc">{summary}</desc>\n'
            f"    {self.axes}{polyline}{self.circles}\n  </svg>\n"
            f'  <p class="chart-note" aria-hidden="true">{summary}</p>\n</figure>'
        )


def figures(charts: Sequence[Chart]) -> Markup:
    """history.html's charts, as its loop of _chart.html's includes drew them."""
    return Markup("".join([f"{chart.figure}\n  " for chart in charts]))  # noqa: S704 - Chart.figure's markup


def _f(value: float) -> str:
    return f"{value:.1f}"


PLOT_W = WIDTH - LEFT - RIGHT
PLOT_H = HEIGHT - TOP - BOTTOM
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = _f(LEFT), _f(WIDTH - RIGHT), _f(TOP), _f(HEIGHT - BOTTOM)

Axes = tuple[tuple[Tick, ...], tuple[Tick, ...], Tick | None, Markup]
# A chart's axes by its scale and days: the same few on every page (SpO2 88-100 %, 35-40 °C, an episode's two
# weeks). A pure function of the key (what any page would draw for it), so sharing it between accounts shares
# no one's data; bounded, emptied when it grows past _AXES_KEPT.
_AXES_KEPT = 256
_axes_drawn: Memo[tuple[Decimal, Decimal, Decimal, Decimal | None, date, date], Axes] = Memo(_AXES_KEPT)


def _axes(
    low: Decimal, high: Decimal, step: Decimal, threshold: Decimal | None, first_day: date, last_day: date
) -> Axes:
    """The y ticks from `low` to `high`, the x ticks of the days, the threshold's line if it is on the scale,
    and their markup, as _chart.html's loops drew them (each value escaped there one by one: issue 11);
    positions are digits by construction (_f), the labels are escaped here."""
    key = (low, high, step, threshold, first_day, last_day)
    found = _axes_drawn.get(key)
    if found is not None:
        return found

    def y_of(value: Decimal) -> str:
        return _f(TOP + PLOT_H * float((high - value) / (high - low)))

    y_ticks: list[Tick] = []
    tick = low
    while tick <= high:
        y_ticks.append(Tick(y_of(tick), decimal_text(tick, 0)))
        tick += step
    days = (last_day - first_day).days + 1
    every = 1 if days <= 8 else 2 if days <= 16 else 7
    x_ticks = [
        Tick(_f(LEFT + PLOT_W * (i + 0.5) / days), f"{first_day + timedelta(days=i):%d/%m}")
        for i in range(0, days, every)
    ]
    line = (
        Tick(y_of(threshold), decimal_text(threshold, 0))
        if threshold is not None and low <= threshold <= high
        else None
    )
    left, right, bottom = PLOT_LEFT, PLOT_RIGHT, PLOT_BOTTOM
    parts = [
        f'<line class="grid" x1="{left}" x2="{right}" y1="{t.pos}" y2="{t.pos}"/><text class="tick" '
        f'x="{left}" dx="-5" y="{t.pos}" dy="4" text-anchor="end">{escape(t.label)}</text>\n    '
        for t in y_ticks
    ]
    if line is not None:
        parts.append(
            f'<line class="threshold" x1="{left}" x2="{right}" y1="{line.pos}" y2="{line.pos}"/>\n    '
        )
    parts += [
        f'<text class="tick" x="{t.pos}" y="{bottom}" dy="16" text-anchor="middle">{escape(t.label)}</text>\n    '
        for t in x_ticks
    ]
    found = (tuple(y_ticks), tuple(x_ticks), line, Markup("".join(parts)))  # noqa: S704 - digits and escaped labels
    _axes_drawn.keep(key, found)
    return found


# A reading's height on the chart, its text and whether it alerts, by (its value, the scale's low and high, the
# decimals shown, the unit, the threshold, whether below it alerts): a pure function of the key (equal Decimals
# give the same height, text and alert), so sharing it between pages shares no one's data. Bounded, emptied when
# it grows past _SHOWN_KEPT.
_SHOWN_KEPT = 4096
_shown_values: Memo[
    tuple[Decimal, Decimal, Decimal, int, str, Decimal | None, bool], tuple[str, str, bool]
] = Memo(_SHOWN_KEPT)


def series_chart(
    *,
    key: str,
    title: str,
    unit: str,
    readings: Sequence[ReadingLike],
    first_day: date,
    last_day: date,
    low: Decimal,
    high: Decimal,
    step: Decimal,
    threshold: Decimal | None,
    alert_when_below: bool,
    decimals: int,
    texts: SummaryTexts | None = None,
) -> Chart:
    """One measure over the episode's days: a polyline, points (alerting ones marked), axes, a threshold;
    `texts`: its summary's catalogue strings (summary_texts), when the caller has them."""
    readings = sorted(readings, key=_AT)
    values = [r[1] for r in readings]
    if values:
        # Widen the scale to show every reading, in whole steps.
        while min(values) < low:
            low -= step
        while max(values) > high:
            high += step
    zone = timezone.get_current_timezone()  # timezone.localtime's, looked up once for every point
    # timezone.make_aware's (a ZoneInfo is attached as it is)
    start = datetime.combine(first_day, time.min, tzinfo=zone)
    end = datetime.combine(last_day + timedelta(days=1), time.min, tzinfo=zone)
    span = (end - start).total_seconds() or 1.0
    # The same moment in UTC, the readings' own zone: their difference is then plain arithmetic, without a
    # ZoneInfo offset looked up per point (the same timedelta whatever the zones).
    start_utc = start.astimezone(UTC)

    def y_of(value: Decimal) -> float:
        return TOP + PLOT_H * float((high - value) / (high - low))

    def alerting(value: Decimal) -> bool:
        if threshold is None:
            return False
        return value <= threshold if alert_when_below else value >= threshold

    # A reading's height, text and alert by its value and the chart's scale (_shown_values): a chart's hundred
    # readings take a dozen values, the same on every page.
    kept = _shown_values
    points = []
    for at, value, local in readings:
        scaled = (value, low, high, decimals, unit, threshold, alert_when_below)
        shown = kept.get(scaled)
        if shown is None:
            shown = kept.keep(
                scaled, (_f(y_of(value)), f"{decimal_text(value, decimals)}{unit}", alerting(value))
            )
        y, text, alert = shown
        # The point's x (its time within the days shown) and local_minute(at, zone, year=False), written out:
        # four calls a point, not ten.
        seconds = (at - start_utc) / _SECOND  # total_seconds()'s float (the same division), without a call
        x = LEFT + PLOT_W * (0.0 if seconds < 0.0 else span if seconds > span else seconds) / span
        iso = local or at.astimezone(zone).isoformat()
        minute = f"{iso[8:10]}/{iso[5:7]} {iso[11:16]}"
        # Point(...), without the NamedTuple's Python-level __new__
        points.append(_new_point(Point, (f"{x:.1f}", y, f"{minute}: {text}", alert)))
    y_ticks, x_ticks, threshold_tick, axes = _axes(low, high, step, threshold, first_day, last_day)
    return Chart(
        key=key,
        title=title,
        unit=unit,
        width=WIDTH,
        height=HEIGHT,
        points=points,
        line=" ".join([f"{p.x},{p.y}" for p in points]),
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        threshold=threshold_tick,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_RIGHT,
        plot_top=PLOT_TOP,
        plot_bottom=PLOT_BOTTOM,
        summary=_summary(title, unit, readings, decimals, alert_when_below, zone, texts or summary_texts()),
        axes=axes,
    )


class SummaryTexts(NamedTuple):
    """_summary's catalogue strings in one language."""

    none: str
    at_when: str
    lowest: str
    highest: str


def summary_texts() -> SummaryTexts:
    """_summary's catalogue strings in the active language (a page that draws two charts looks them up once:
    www.monitoring_views._history_texts)."""
    return SummaryTexts(
        _("%(title)s: chưa có lần đo nào."),
        _("%(value)s lúc %(when)s"),
        _("%(title)s: %(count)s lần đo, thấp nhất %(worst)s, gần nhất %(last)s."),
        _("%(title)s: %(count)s lần đo, cao nhất %(worst)s, gần nhất %(last)s."),
    )


def _summary(
    title: str,
    unit: str,
    readings: list[ReadingLike],
    decimals: int,
    low_is_bad: bool,
    zone: tzinfo,
    texts: SummaryTexts,
) -> str:
    """The chart in one sentence, for screen readers (the table under the chart has every value)."""
    if not readings:
        return texts.none % {"title": title}
    # attrgetter, not a lambda: a C call for each reading (the first of equal values either way)
    worst = min(readings, key=_VALUE) if low_is_bad else max(readings, key=_VALUE)
    last = readings[-1]

    at_when = texts.at_when

    def fmt(r: ReadingLike) -> str:
        # f"{timezone.localtime(at):%H:%M %d/%m}", cut from the local ISO text
        at, value, local = r
        iso = local or at.astimezone(zone).isoformat()
        return at_when % {
            "value": decimal_text(value, decimals) + unit,
            "when": f"{iso[11:16]} {iso[8:10]}/{iso[5:7]}",
        }

    text = texts.lowest if low_is_bad else texts.highest
    return text % {"title": title, "count": len(readings), "worst": fmt(worst), "last": fmt(last)}
