"""The sink's latency-budget collector (``sinks.metrics.LatencyBudget``) against the exposition format."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from schemas import timing
from sinks.metrics import LatencyBudget
from vitalstream.bench import budget


def test_rows_hops_are_exported_as_prometheus_histograms() -> None:
    collector = LatencyBudget()
    registry = CollectorRegistry()
    registry.register(collector)
    stamped = [(timing.ACCEPTED, b"1000"), (timing.NORMALIZED, b"1040"), (timing.SCORED, b"1100")]
    collector.observe([stamped, stamped, [(timing.SCORED, b"1150")], None], committed_ms=1200)
    text = generate_latest(registry).decode()
    assert f'{timing.STAGE_METRIC}_count{{lane="live",stage="sink"}} 3.0' in text
    assert f'{timing.STAGE_METRIC}_sum{{lane="live",stage="sink"}} 0.25' in text
    assert f'{timing.STAGE_METRIC}_count{{lane="live",stage="normalize"}} 2.0' in text
    assert f'{timing.END_TO_END_METRIC}_sum{{lane="live"}} 0.4' in text
    # a value on a bound counts in that bucket (le = "less than or equal")
    assert f'{timing.STAGE_METRIC}_bucket{{lane="live",le="0.03",stage="sink"}} 0.0' in text
    assert f'{timing.STAGE_METRIC}_bucket{{lane="live",le="0.05",stage="sink"}} 1.0' in text
    assert f'{timing.STAGE_METRIC}_bucket{{lane="live",le="0.075",stage="sink"}} 1.0' in text
    assert f'{timing.STAGE_METRIC}_bucket{{lane="live",le="0.1",stage="sink"}} 3.0' in text
    got = budget.report({}, budget.parse(text))
    assert got["score"]["count"] == 2 and got["end_to_end"]["count"] == 2


def test_backfill_rows_are_counted_apart_from_live_ones() -> None:
    collector = LatencyBudget()
    registry = CollectorRegistry()
    registry.register(collector)
    live = [(timing.ACCEPTED, b"1000"), (timing.NORMALIZED, b"1010"), (timing.SCORED, b"1020")]
    history = [(timing.ACCEPTED, b"0"), (timing.NORMALIZED, b"900"), timing.BACKFILL, (timing.SCORED, b"1000")]
    collector.observe([live, history, history], committed_ms=1100)
    text = generate_latest(registry).decode()
    assert f'{timing.END_TO_END_METRIC}_count{{lane="live"}} 1.0' in text
    assert f'{timing.END_TO_END_METRIC}_count{{lane="backfill"}} 2.0' in text
    got = budget.report({}, budget.parse(text))
    assert got["end_to_end"]["count"] == 1 and got["end_to_end"]["p99_ms"] <= 100, "live freshness is live rows only"
    assert budget.report({}, budget.parse(text, lane="backfill"))["end_to_end"]["count"] == 2
