"""Chart geometry for server-rendered inline SVG (pure: no I/O, no templates).

The templates draw what these functions compute, so a chart needs no script and no
external library, and works air-gapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

LEVELS = ("excellent", "good", "fair", "poor")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    x: float
    y: float
    width: float
    height: float
    css: str


@dataclass(frozen=True)
class Chart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    maximum: float


def bar_chart(
    items: Sequence[tuple[str, float]], width: float = 480, height: float = 160, gap: float = 8, css: str = "bar"
) -> Chart:
    """Vertical bars scaled to the largest value (an empty or all-zero chart has flat bars)."""
    maximum = max((v for _, v in items), default=0.0)
    n = max(len(items), 1)
    bar_w = max((width - gap * (n + 1)) / n, 1.0)
    plot_h = height - 20  # room for labels below
    bars = []
    for i, (label, value) in enumerate(items):
        h = plot_h * value / maximum if maximum > 0 else 0.0
        x = gap + i * (bar_w + gap)
        bars.append(Bar(label, value, round(x, 1), round(plot_h - h, 1), round(bar_w, 1), round(h, 1), css))
    return Chart(width, height, tuple(bars), maximum)


def level_chart(counts: dict[str, int], width: float = 480, height: float = 160) -> Chart:
    """The confidence-level distribution, one bar per level, each in its level's colour."""
    chart = bar_chart([(level, float(counts.get(level, 0))) for level in LEVELS], width, height)
    bars = tuple(Bar(b.label, b.value, b.x, b.y, b.width, b.height, f"bar level-{b.label}") for b in chart.bars)
    return Chart(chart.width, chart.height, bars, chart.maximum)


@dataclass(frozen=True)
class Line:
    points: str
    dots: tuple[tuple[float, float, str, float], ...]
    width: float
    height: float
    low: float
    high: float


def line_chart(
    values: Sequence[tuple[str, float]], width: float = 480, height: float = 120, low: float = 0, high: float = 100
) -> Line:
    """A polyline over evenly spaced points, y between ``low`` and ``high`` (values clamped)."""
    pad = 6.0
    n = len(values)
    span = (high - low) or 1.0
    dots = []
    for i, (label, value) in enumerate(values):
        x = pad + (width - 2 * pad) * (i / (n - 1) if n > 1 else 0.5)
        clamped = min(max(value, low), high)
        y = pad + (height - 2 * pad) * (1 - (clamped - low) / span)
        dots.append((round(x, 1), round(y, 1), label, value))
    return Line(" ".join(f"{x},{y}" for x, y, _, _ in dots), tuple(dots), width, height, low, high)
