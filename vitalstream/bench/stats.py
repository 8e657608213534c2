"""Percentiles, latency summaries and the scenario rating (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

RATINGS = ((200.0, "excellent"), (500.0, "good"), (1000.0, "fair"))


def percentile(values: Sequence[float], q: float, *, presorted: bool = False) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = values if presorted else sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(len(ordered), rank) - 1])


def summary(values: Sequence[float], digits: int = 2) -> dict[str, float | None]:
    """min/avg/p50/p95/p99/max of ``values`` (None when empty)."""
    if not values:
        return dict.fromkeys(("min", "avg", "p50", "p95", "p99", "max"))
    ordered = sorted(values)
    out = {
        "min": ordered[0],
        "avg": sum(ordered) / len(ordered),
        "p50": percentile(ordered, 50, presorted=True),
        "p95": percentile(ordered, 95, presorted=True),
        "p99": percentile(ordered, 99, presorted=True),
        "max": ordered[-1],
    }
    return {k: round(v, digits) for k, v in out.items()}


def rating(p95_ms: float | None) -> str:
    """p95 < 200 ms excellent, < 500 good, < 1,000 fair, else poor."""
    if p95_ms is None or math.isnan(p95_ms):
        return "poor"
    for limit, name in RATINGS:
        if p95_ms < limit:
            return name
    return "poor"
