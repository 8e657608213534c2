"""Pure parts of ``vitalstream bench api``."""

from __future__ import annotations

from typing import Any

from vitalstream.bench.api_bench import RATES, best_round


def _round(p99_at: dict[int, float]) -> list[dict[str, Any]]:
    return [{"offered_per_s": rate, "latency_ms": {"p99": p99}} for rate, p99 in p99_at.items()]


def test_each_side_is_judged_by_its_round_with_the_lower_p99_at_the_top_rate() -> None:
    first = _round({RATES[0]: 3.0, RATES[-1]: 40.0})
    second = _round({RATES[0]: 9.0, RATES[-1]: 12.0})
    assert best_round([first, second]) is second
    assert best_round([second, first]) is second
    assert best_round([_round({RATES[0]: 1.0}), first]) is first, "a round that lost its top rate counts as worst"
    assert best_round([]) == []
