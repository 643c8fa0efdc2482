"""Server-rendered SVG charts (no JavaScript): geometry computed here, drawn by the template."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from health_f0.monitoring.models import AlertLevel
from health_f0.reports.selectors import DayFigures

WIDTH = 600
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 34

LEVEL_COLOURS = {"watch": "#eab308", "urgent": "#f97316", "emergency": "#b91c1c"}


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class XLabel:
    x: float
    label: str


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_right: int = WIDTH - RIGHT
    plot_bottom: int = HEIGHT - BOTTOM
    ticks: list[Tick] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    points: list[Point] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


def _nice_max(value: int) -> int:
    """A round axis maximum at or above value (1, 2, 5 x 10^n)."""
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def _frame(days: list[date], maximum: int) -> tuple[Chart, float, float]:
    chart = Chart()
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    slot = plot_w / max(len(days), 1)
    top = _nice_max(maximum)
    scale = plot_h / top
    for i in range(5):
        value = top * i // 4
        chart.ticks.append(Tick(y=chart.plot_bottom - value * scale, label=f"{value:,}".replace(",", ".")))
    every = max(1, math.ceil(len(days) / 12))
    for index, day in enumerate(days):
        if index % every == 0:
            chart.x_labels.append(XLabel(x=chart.left + slot * (index + 0.5), label=f"{day:%d/%m}"))
    return chart, slot, scale


def active_chart(days: list[date], totals: dict[date, DayFigures]) -> Chart:
    """A line of patients under monitoring per day."""
    values = [totals.get(day, DayFigures()).active for day in days]
    chart, slot, scale = _frame(days, max(values, default=0))
    chart.points = [
        Point(
            x=chart.left + slot * (index + 0.5),
            y=chart.plot_bottom - value * scale,
            label=f"{day:%d/%m/%Y}: {value}",
        )
        for index, (day, value) in enumerate(zip(days, values, strict=True))
    ]
    return chart


def alerts_chart(days: list[date], totals: dict[date, DayFigures]) -> Chart:
    """Alerts per day, stacked by level (watch at the bottom, emergency on top)."""
    figures = [totals.get(day, DayFigures()) for day in days]
    chart, slot, scale = _frame(days, max((f.alerts for f in figures), default=0))
    width = max(slot * 0.7, 1.0)
    for index, (day, f) in enumerate(zip(days, figures, strict=True)):
        x = chart.left + slot * index + (slot - width) / 2
        base = float(chart.plot_bottom)
        for level, count in (
            ("watch", f.alerts_watch),
            ("urgent", f.alerts_urgent),
            ("emergency", f.alerts_emergency),
        ):
            if not count:
                continue
            height = count * scale
            base -= height
            chart.bars.append(
                Bar(
                    x=x,
                    y=base,
                    width=width,
                    height=height,
                    colour=LEVEL_COLOURS[level],
                    label=f"{day:%d/%m/%Y} — {AlertLevel(level).label}: {count}",
                )
            )
    return chart
