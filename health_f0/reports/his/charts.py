"""Server-rendered SVG chart of the HIS linking report (no JavaScript): the share of visiting patients who are
linked, per day, with the plan's 80% target as a dashed line."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from django.utils.translation import gettext as _

from health_f0.reports.common.charts import Chart, Point, Tick, XLabel, broken_line
from health_f0.reports.his.selectors import ShareFigures


@dataclass
class ShareChart(Chart):
    target_y: float = 0.0
    target_label: str = ""
    # Days without visiting patients break the line.
    segments: list[str] = field(default_factory=list)


def share_chart(days: list[date], by_day: dict[date, ShareFigures], target: float) -> ShareChart:
    """Linked share per day on a 0-100 % axis; the target line across."""
    chart = ShareChart()
    plot_h = chart.plot_bottom - chart.top
    slot = (chart.plot_right - chart.left) / max(len(days), 1)
    for i in range(5):
        value = i / 4
        chart.ticks.append(Tick(y=chart.plot_bottom - value * plot_h, label=f"{round(value * 100)} %"))
    every = max(1, math.ceil(len(days) / 12))
    for index, day in enumerate(days):
        if index % every == 0:
            chart.x_labels.append(XLabel(x=chart.left + slot * (index + 0.5), label=f"{day:%d/%m}"))
    chart.target_y = chart.plot_bottom - target * plot_h
    chart.target_label = _("Chỉ tiêu %(n)s %%") % {"n": round(target * 100)}
    figures = [by_day.get(day, ShareFigures()) for day in days]
    chart.points, chart.segments = broken_line(
        None
        if f.share is None
        else Point(
            x=chart.left + slot * (index + 0.5),
            y=chart.plot_bottom - f.share * plot_h,
            label=f"{day:%d/%m/%Y}: {f.share * 100:.1f} % ({f.linked}/{f.patients})".replace(".", ",", 1),
        )
        for index, (day, f) in enumerate(zip(days, figures, strict=True))
    )
    return chart
