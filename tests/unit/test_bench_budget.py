"""The bench's per-hop figures from the budget's histograms (``vitalstream.bench.budget``)."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from schemas import timing
from vitalstream.bench import budget


def exposition(stage_values: dict[str, list[float]], e2e: list[float]) -> str:
    registry = CollectorRegistry()
    stages = Histogram(timing.STAGE_METRIC, "h", ["stage"], buckets=timing.LATENCY_BUCKETS, registry=registry)
    end_to_end = Histogram(timing.END_TO_END_METRIC, "h", buckets=timing.LATENCY_BUCKETS, registry=registry)
    for stage, values in stage_values.items():
        for v in values:
            stages.labels(stage).observe(v)
    for v in e2e:
        end_to_end.observe(v)
    return generate_latest(registry).decode()


def test_report_counts_only_what_happened_between_the_scrapes() -> None:
    before = budget.parse(exposition({"score": [9.0] * 50}, []))
    after = budget.parse(exposition({"score": [9.0] * 50 + [0.012] * 100}, [0.3] * 100))
    got = budget.report(before, after)
    assert got["score"]["count"] == 100
    assert 10.0 <= got["score"]["p50_ms"] <= 15.0 and got["score"]["p99_ms"] <= 15.0
    assert got["end_to_end"]["count"] == 100 and 250.0 <= got["end_to_end"]["p99_ms"] <= 300.0
    assert got["sink"] == {"count": 0, "p50_ms": None, "p99_ms": None}


def test_quantile_interpolates_inside_a_bucket_and_stops_at_the_last_bound() -> None:
    assert budget.quantile({0.01: 0.0, 0.02: 10.0, float("inf"): 10.0}, 0.5) == pytest.approx(0.015)
    assert budget.quantile({10.0: 0.0, float("inf"): 4.0}, 0.99) == 10.0
    assert budget.quantile({float("inf"): 0.0}, 0.5) is None


def test_an_unreachable_service_is_left_out() -> None:
    assert budget.scrape(["http://127.0.0.1:9/metrics"], timeout_s=0.5) == {}


def test_benchmarks_md_shows_each_hop_beside_accept_to_visible() -> None:
    from vitalstream.bench.report import _budget_table

    e2e = {"p50_ms": 380.0, "p99_ms": 800.0, "budget": budget.report({}, budget.parse(exposition({}, [0.3])))}
    text = "\n".join(_budget_table(e2e))
    assert "p99 800 ms" in text
    assert "| end_to_end | vs.t.accepted → committed in PostgreSQL | 1 |" in text
    assert "| score | vs.t.normalized → vs.t.scored | 0 | not measured | not measured |" in text
    assert _budget_table({"p50_ms": 1.0}) == []


def test_benchmarks_md_shows_the_live_hops_alone_and_beside_a_backfill() -> None:
    from vitalstream.bench.report import _backfill_budget_table

    alone = budget.report({}, budget.parse(exposition({}, [0.3])))
    beside = budget.report({}, budget.parse(exposition({}, [0.3, 2.0])))
    lane = {"end_to_end": {"count": 5000, "p50_ms": 900.0, "p99_ms": 4000.0}}
    commits = {"count": 40, "p50_ms": 12.5, "p99_ms": 980.0}
    bf = {
        "idle": {"budget": alone},
        "with_backfill": {"budget": beside, "backfill_budget": lane, "sink_commits": commits},
    }
    text = "\n".join(_backfill_budget_table(bf))
    assert (
        "| (the sink's transactions: write + commit of one batch) | not measured | not measured | 12.5 | 980 |" in text
    )
    assert "5,000 of them committed during the live window" in text and "p99 4,000 ms" in text
    lane["end_to_end"]["p99_ms"] = 10_000.0
    assert "p99 ≥ 10,000 ms (the buckets' top)" in "\n".join(_backfill_budget_table(bf))
    assert text.count("| end_to_end |") == 1
    assert _backfill_budget_table({"idle": {}}) == []


def test_one_histogram_between_two_scrapes() -> None:
    then = {0.01: 1.0, 0.1: 2.0, math.inf: 2.0}
    now = {0.01: 1.0, 0.1: 12.0, math.inf: 13.0}
    got = budget.summary(then, now)
    assert got["count"] == 11 and 10 < got["p50_ms"] <= 100 and got["p99_ms"] == 100.0
    assert budget.pages(["http://127.0.0.1:9/metrics"], timeout_s=0.5) == {}
    assert budget.histogram("", "x") == {}
