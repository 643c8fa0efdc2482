"""Server-rendered SVG charts of the appointment report (no JavaScript): bookings per day stacked by
channel, and the share of visits booked through the app against the plan's 5-10% target band."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from health_f0.appointments.models import Channel
from health_f0.reports.appointments.selectors import APP_SHARE_TARGET, CHANNELS, AppointmentFigures
from health_f0.reports.common.charts import Chart, Point, Tick, XLabel, broken_line, nice_max, stack

CHANNEL_COLOURS: dict[str, str] = {
    Channel.APP: "#2563eb",
    Channel.WEB: "#0891b2",
    Channel.PHONE: "#f59e0b",
    Channel.DESK: "#6b7280",
}


@dataclass(frozen=True)
class Band:
    """A horizontal target band (y is the top edge) with its edge lines."""

    y: float
    height: float
    label: str


@dataclass
class TargetChart(Chart):
    bands: list[Band] = field(default_factory=list)
    # Each segment of the line: days without visits break it.
    segments: list[str] = field(default_factory=list)

    @property
    def plot_width(self) -> int:
        return self.plot_right - self.left


def _frame(days: list[date], top: float, label: str = "{:,.0f}") -> tuple[TargetChart, float, float]:
    chart = TargetChart()
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    slot = plot_w / max(len(days), 1)
    scale = plot_h / top
    for i in range(5):
        value = top * i / 4
        chart.ticks.append(
            Tick(y=chart.plot_bottom - value * scale, label=label.format(value).replace(",", "."))
        )
    every = max(1, math.ceil(len(days) / 12))
    for index, day in enumerate(days):
        if index % every == 0:
            chart.x_labels.append(XLabel(x=chart.left + slot * (index + 0.5), label=f"{day:%d/%m}"))
    return chart, slot, scale


def channel_chart(days: list[date], totals: dict[date, AppointmentFigures]) -> TargetChart:
    """Bookings made per day, stacked by channel (app at the bottom)."""
    figures = [totals.get(day, AppointmentFigures()) for day in days]
    chart, slot, scale = _frame(days, nice_max(max((f.booked for f in figures), default=0)))
    labels = dict(Channel.choices)
    for index, (day, f) in enumerate(zip(days, figures, strict=True)):
        parts = [(getattr(f, f"booked_{c}"), CHANNEL_COLOURS[c], labels[c]) for c in CHANNELS]
        stack(chart, index=index, slot=slot, scale=scale, day=day, parts=parts)
    return chart


def app_share_chart(days: list[date], totals: dict[date, AppointmentFigures]) -> TargetChart:
    """Share of visits booked through the app per day (a line; days without visits leave a gap), over the
    plan's target band."""
    shares = [totals.get(day, AppointmentFigures()).app_share for day in days]
    highest = max((s for s in shares if s is not None), default=0.0)
    # Percent axis: at least 20 % so the 5-10 % band is readable, else a round step above the maximum.
    top = max(0.2, math.ceil(highest * 10) / 10)
    chart, slot, scale = _frame(days, top, "{:.0%}")
    chart.ticks = [Tick(y=t.y, label=t.label.replace(".", ",").replace("%", " %")) for t in chart.ticks]
    low, high = APP_SHARE_TARGET
    chart.bands.append(
        Band(
            y=chart.plot_bottom - high * scale,
            height=(high - low) * scale,
            label=_("Chỉ tiêu %(low)s–%(high)s %% lượt khám đặt qua ứng dụng")
            % {"low": round(low * 100), "high": round(high * 100)},
        )
    )
    chart.points, chart.segments = broken_line(
        None
        if share is None
        else Point(
            x=chart.left + slot * (index + 0.5),
            y=chart.plot_bottom - share * scale,
            label=f"{day:%d/%m/%Y}: {share * 100:.1f} %".replace(".", ","),
        )
        for index, (day, share) in enumerate(zip(days, shares, strict=True))
    )
    return chart
