"""The e2e rate sweep's figures (pure): the rates asked for, the knee, the targets, the stage that holds them.

``vitalstream bench e2e --rates R,R,…`` measures accept → visible at each rate in turn
(:func:`vitalstream.bench.e2e.bench_e2e_sweep`); this module turns the points into verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KNEE_P99_MS = 1000.0
"""The knee: the highest rate whose p99 stays under this (and every lower rate's too)."""
TARGET_RATE = 250
TARGET_P50_MS = 50.0
TARGET_P99_MS = 250.0
TARGET_KNEE = 1000
MAX_RATE = 20_000
HOPS = ("accept", "normalize", "score", "sink")
"""The budget's hops (``bench.budget``), in pipeline order."""
MAIN_BEFORE = {100: (388, 812), 250: (375, 682), 500: (670, 1191), 750: (5973, 8390)}
"""p50/p99 ms measured on main before the issue-15 tuning (the issue's table), for comparison."""
EARLIER_DESIGN_S = 300.0
"""The seeds' design: a materialized view refreshed every 5 minutes, so a value waited up to 300 s."""


class RatesError(ValueError):
    """``--rates`` is not a list of positive whole rates."""


def parse_rates(text: str) -> tuple[int, ...]:
    """``"100,250,500"`` → ``(100, 250, 500)``: sorted, without repeats."""
    rates: set[int] = set()
    for part in text.split(","):
        word = part.strip()
        if not word.isdigit() or not 0 < int(word) <= MAX_RATE:
            raise RatesError(
                f"--rates takes whole webhook rates from 1 to {MAX_RATE:,} separated by commas "
                f"(like 100,250,500), not {text!r}"
            )
        rates.add(int(word))
    return tuple(sorted(rates))


def within(point: dict[str, Any], limit_ms: float = KNEE_P99_MS) -> bool:
    """Every accepted webhook became visible and the p99 stayed under ``limit_ms``."""
    p99 = point.get("p99_ms")
    return bool(point.get("accepted")) and point.get("not_visible") == 0 and p99 is not None and p99 < limit_ms


def knee(points: Sequence[dict[str, Any]], limit_ms: float = KNEE_P99_MS) -> int | None:
    """The highest rate whose p99 stays under ``limit_ms``, as does every lower rate's; None if the lowest does not."""
    best: int | None = None
    for point in sorted(points, key=lambda p: p["rate"]):
        if not within(point, limit_ms):
            break
        best = int(point["rate"])
    return best


def holding_stage(budget: dict[str, Any] | None, quantile: str = "p99_ms") -> str | None:
    """The hop with the largest share of the ``quantile`` (where the time goes); None without a budget."""
    figures = {hop: (budget or {}).get(hop, {}).get(quantile) for hop in HOPS}
    measured = {hop: value for hop, value in figures.items() if value is not None}
    return max(measured, key=lambda hop: measured[hop]) if measured else None


def at_rate(points: Sequence[dict[str, Any]], rate: int) -> dict[str, Any] | None:
    return next((p for p in points if p["rate"] == rate), None)


def _target(value: float | None, limit: float, budget: dict[str, Any] | None, quantile: str) -> dict[str, Any]:
    met = None if value is None else bool(value <= limit)
    held_by = holding_stage(budget, quantile) if met is False else None
    return {"value": value, "target": limit, "met": met, "held_by": held_by}


def verdicts(points: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Each sweep target: its figure, whether it is met (None: not measured) and, when missed, the hop holding it."""
    at = at_rate(points, TARGET_RATE) or {}
    k = knee(points)
    beyond = next((p for p in sorted(points, key=lambda p: p["rate"]) if not within(p)), None)
    if k is not None and k >= TARGET_KNEE:
        knee_met: bool | None = True
    else:  # unknown when every rate swept stayed under the limit but none reached the target
        knee_met = False if beyond is not None else None
    return {
        "p50_ms_at_250": _target(at.get("p50_ms"), TARGET_P50_MS, at.get("budget"), "p50_ms"),
        "p99_ms_at_250": _target(at.get("p99_ms"), TARGET_P99_MS, at.get("budget"), "p99_ms"),
        "knee_per_s": {
            "value": k,
            "target": TARGET_KNEE,
            "met": knee_met,
            "held_by": holding_stage(beyond.get("budget")) if beyond is not None and knee_met is False else None,
        },
    }
