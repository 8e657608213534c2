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


def test_the_report_lists_every_rounds_p99_at_the_top_rate_for_both_sides() -> None:
    from vitalstream.bench.report import _api_rounds_line

    api_rounds = [_round({RATES[0]: 3.0, RATES[-1]: 24.5}), _round({RATES[0]: 2.0, RATES[-1]: 8.6})]
    ceiling_rounds = [_round({RATES[0]: 1.0, RATES[-1]: 13.7}), _round({RATES[0]: 1.0})]
    api_rounds[0][-1]["steal_pct"] = 3.5
    line = _api_rounds_line(
        {"api_points": best_round(api_rounds), "api_rounds": api_rounds, "ceiling_rounds": ceiling_rounds}
    )
    assert line[-1] == (
        f"p99 at {RATES[-1]:,}/s in every round (the table shows each side's best; in brackets the machine's CPU "
        "steal time during the round): API 24.5 ms (3.5 % steal), 8.6 ms; ceiling 13.7 ms, not measured."
    )
    assert _api_rounds_line({"api_points": []}) == []
