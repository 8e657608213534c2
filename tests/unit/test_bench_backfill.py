"""Smoke test of ``vitalstream bench backfill``'s code (no stack, nothing timed)."""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.records import RawWebhook
from streams.normalize import normalizer_for, parse_body
from vitalstream.bench import CHOICES, report
from vitalstream.bench.backfill_bench import FULL, QUICK, verdict
from vitalstream.bench.freshness import by_slice
from vitalstream.bench.payloads import heart_rate_chunk
from vitalstream.bench.runner import ORDER


def test_the_plans_meet_the_issue() -> None:
    assert FULL.chunks * FULL.chunk_mb >= 100  # at least 100 MB of chunks
    assert QUICK.chunks * QUICK.chunk_mb <= 5 and QUICK.duration_s <= 10  # small enough for a smoke run
    assert "backfill" in CHOICES and "backfill" in ORDER


def test_a_chunk_is_about_its_size_and_normalizes_to_its_samples() -> None:
    body, samples = heart_rate_chunk("u-1", 256 * 1024, seed=3)
    assert 0.8 * 256 * 1024 < len(body) < 1.25 * 256 * 1024
    assert heart_rate_chunk("u-1", 256 * 1024, seed=3)[0] == body  # reproducible
    raw = RawWebhook(event_id="e", source="terra", received_at=datetime.now(UTC), idempotency_key="e", body=body)
    result = normalizer_for("terra", {})(raw, parse_body(body))
    assert len([o for o in result.observations if o.metric == "heart_rate"]) == samples


def test_verdict() -> None:
    assert verdict(100.0, 140.0, 0) == {"p99_ratio": 1.4, "target": {"p99_ratio_max": 1.5}, "target_met": True}
    assert verdict(100.0, 160.0, 0)["target_met"] is False
    over = verdict(184.4, 277.4, 0)  # 1.504: shown as 1.5, judged unrounded
    assert (over["p99_ratio"], over["target_met"]) == (1.5, False)
    headline = {"backfill_idle_p99_ms": 184.4, "backfill_live_p99_ms": 277.4, "backfill_p99_ratio": 1.5}
    assert report._backfill_met(headline) is False
    assert verdict(100.0, 120.0, 3)["target_met"] is False  # a live event never seen fails it
    assert verdict(None, 120.0, 0) == {"p99_ratio": None, "target": {"p99_ratio_max": 1.5}, "target_met": False}
    keys = report.headline({"backfill": {"idle_p99_ms": 10, "backfill_p99_ms": 12, "p99_ratio": 1.2}})
    assert (keys["backfill_idle_p99_ms"], keys["backfill_live_p99_ms"], keys["backfill_p99_ratio"]) == (10, 12, 1.2)


def test_freshness_by_slice_puts_each_event_in_the_slice_of_its_accept() -> None:
    accepted = [(0, 100.0), (1, 104.0), (2, 110.5), (3, 111.0), (4, 125.0)]
    seen = {0: 100.05, 1: 104.2, 2: 111.5, 3: 111.1, 4: 125.01}  # event 4 seen; none missing
    slices = by_slice(accepted, seen, 10.0)
    assert [(s["from_s"], s["count"]) for s in slices] == [(0.0, 2), (10.0, 2), (20.0, 1)]
    assert slices[1]["p99_ms"] == 1000.0  # the slower of the slice's two events
    assert 100.0 <= slices[1]["p50_ms"] <= 1000.0
    assert by_slice([(0, 1.0)], {}, 10.0) == []  # nothing visible, no slice
    assert by_slice([], {}, 10.0) == []
    table = "\n".join(
        report._backfill_slices_table({"idle": {"by_slice": slices}, "with_backfill": {"by_slice": slices}})
    )
    assert "| 10.0 | 100 | 1,000 | 100 | 1,000 |" in table and "| 20.0 | 10.0 | 10.0 | 10.0 | 10.0 |" in table
