"""BENCHMARKS.md says what held each missed throughput target, in the figures of the same run."""

from __future__ import annotations

from typing import Any

from vitalstream.bench.gateway_bench import _per_request
from vitalstream.bench.report import _throughput_misses


def _gateway(met: bool) -> dict[str, Any]:
    point = {"offered_per_s": 6_000, "accepted_per_s": 5_520.0, "cpu_us_per_request": 204.0}
    return {
        "target_accepted_met": met,
        "gateway_points": [{**point, "loop_thread_cpu_us_per_request": 180.0}],
        "ceiling_points": [{"offered_per_s": 6_000, "accepted_per_s": 6_000.0, "cpu_us_per_request": 67.0}],
    }


def _details(*, gateway_met: bool, observations_per_s: float, rows_per_s: float) -> dict[str, Any]:
    return {
        "gateway": _gateway(gateway_met),
        "stream": {"observations_per_s": observations_per_s, "worker_cpu_us_per_observation": 108.8},
        "sink": {
            "rows_per_s": rows_per_s,
            "seconds": 8.8,
            "db_transaction_seconds": 8.1,
            "sink_process_cpu_us_per_row": 24.0,
        },
    }


def test_each_missed_target_names_what_held_it() -> None:
    lines = _throughput_misses(_details(gateway_met=False, observations_per_s=7_541, rows_per_s=22_691))
    text = "\n".join(lines)
    assert "180 µs of CPU per accepted request (204 µs the whole process)" in text
    assert "at most 5,556/s" in text and "the bare handler spent 67.0 µs" in text
    assert "108.8 µs per observation, so a whole core scores at most 9,191 observations/s" in text
    assert "took 8.1 s of the 8.8 s window (92 %)" in text


def test_met_targets_get_no_explanation() -> None:
    assert _throughput_misses(_details(gateway_met=True, observations_per_s=10_500, rows_per_s=31_000)) == []


def test_cpu_per_request_counts_the_successful_requests_only() -> None:
    point = {"requests": 24_000, "success_rate": 50.0}
    assert _per_request(2.4, point) == 200.0
    assert _per_request(0.0, point) is None  # /proc unreadable: no figure rather than 0 µs
    assert _per_request(1.0, {"requests": 0, "success_rate": 0.0}) is None
