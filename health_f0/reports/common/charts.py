"""The frame of the reports' server-rendered SVG charts (no JavaScript): geometry computed here, drawn by the
template; each family draws its own series on it."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

WIDTH = 600
HEIGHT = 230
LEFT, RIGHT, TOP, BOTTOM = 44, 10, 14, 34


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


def nice_max(value: int) -> int:
    """A round axis maximum at or above value (1, 2, 5 x 10^n)."""
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.floor(math.log10(value)))
    for step in (1, 2, 5, 10):
        if step * magnitude >= value:
            return step * magnitude
    return 10 * magnitude


def frame(days: list[date], maximum: int) -> tuple[Chart, float, float]:
    chart = Chart()
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top
    slot = plot_w / max(len(days), 1)
    top = nice_max(maximum)
    scale = plot_h / top
    for i in range(5):
        value = top * i // 4
        chart.ticks.append(Tick(y=chart.plot_bottom - value * scale, label=f"{value:,}".replace(",", ".")))
    every = max(1, math.ceil(len(days) / 12))
    for index, day in enumerate(days):
        if index % every == 0:
            chart.x_labels.append(XLabel(x=chart.left + slot * (index + 0.5), label=f"{day:%d/%m}"))
    return chart, slot, scale


def stack(
    chart: Chart, *, index: int, slot: float, scale: float, day: date, parts: Iterable[tuple[int, str, Any]]
) -> None:
    """Day `index`'s bar: its parts (count, colour, label) stacked from the bottom, empty parts left out."""
    width = max(slot * 0.7, 1.0)
    x = chart.left + slot * index + (slot - width) / 2
    base = float(chart.plot_bottom)
    for count, colour, label in parts:
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
                colour=colour,
                label=f"{day:%d/%m/%Y} — {label}: {count}",
            )
        )


def broken_line(points: Iterable[Point | None]) -> tuple[list[Point], list[str]]:
    """A line's points and its polyline segments: a day without a value (None) breaks the line."""
    kept: list[Point] = []
    segments: list[str] = []
    segment: list[str] = []
    for point in points:
        if point is None:
            if segment:
                segments.append(" ".join(segment))
            segment = []
            continue
        kept.append(point)
        segment.append(f"{point.x:.1f},{point.y:.1f}")
    if segment:
        segments.append(" ".join(segment))
    return kept, segments
