"""Server-rendered SVG charts of the home-care report: patients under monitoring per day, and alerts per day
stacked by level."""

from __future__ import annotations

from datetime import date

from health_f0.monitoring.models import AlertLevel
from health_f0.reports.common.charts import Chart, Point, frame, stack
from health_f0.reports.homecare.selectors import DayFigures

LEVEL_COLOURS = {"watch": "#eab308", "urgent": "#f97316", "emergency": "#b91c1c"}


def active_chart(days: list[date], totals: dict[date, DayFigures]) -> Chart:
    """A line of patients under monitoring per day."""
    values = [totals.get(day, DayFigures()).active for day in days]
    chart, slot, scale = frame(days, max(values, default=0))
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
    chart, slot, scale = frame(days, max((f.alerts for f in figures), default=0))
    for index, (day, f) in enumerate(zip(days, figures, strict=True)):
        parts = (
            (f.alerts_watch, AlertLevel.WATCH),
            (f.alerts_urgent, AlertLevel.URGENT),
            (f.alerts_emergency, AlertLevel.EMERGENCY),
        )
        stack(
            chart,
            index=index,
            slot=slot,
            scale=scale,
            day=day,
            parts=[(count, LEVEL_COLOURS[level], AlertLevel(level).label) for count, level in parts],
        )
    return chart
