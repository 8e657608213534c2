"""``vitalstream bench e2e``: webhook accepted (client side, at the 202) → its row visible in ``latest_metrics``.

Gateway, worker and sink run as their own processes on the bench's private Kafka and
PostgreSQL; 1 KB webhooks arrive open-loop at 1,000/s, each for a subject of its own, and
a poller reads ``latest_metrics`` every ~10 ms (by subject, through its primary key).
Beside it, ``budget``: p50/p99 of each hop (gateway accept, normalize, score, sink) and of
accepted → committed, from the services' histograms over the measured load (``bench.budget``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from vitalstream.bench import budget
from vitalstream.bench.freshness import VisibilityPoller, freshness
from vitalstream.bench.loadgen import LoadSpec, run_load
from vitalstream.bench.stack import BenchStack

RATE = 1000
TARGET_P50_MS = 100.0
TARGET_P99_MS = 500.0
LATEST_SQL = "SELECT DISTINCT subject FROM latest_metrics WHERE subject = ANY(%s)"

Progress = Callable[[str, dict[str, Any]], None]


def measure(
    url: str,
    host: str,
    port: int,
    secret: str,
    sql: str,
    rate: float,
    duration_s: float,
    settle_s: float,
    path: str = "/webhooks/terra",
) -> dict[str, Any]:
    """Run the load, poll for visibility, wait up to ``settle_s`` after the load for the stragglers."""
    from vitalstream.bench.loadgen import Route

    run = uuid.uuid4().hex[:8]
    spec = LoadSpec(
        host, port, rate, duration_s, secret, run, routes=(Route(path),), unique_subjects=True, connections=128
    )
    poller = VisibilityPoller(url, sql, run, rate, spec.total)
    try:
        result = run_load(spec, on_start=poller.begin)
        accepted = result.accepted()
        poller.wait_for({i for i, _ in accepted}, settle_s)
    finally:
        poller.stop()
    out = freshness(accepted, poller.seen)
    load = result.report()
    load.pop("routes", None)
    out.update({"rate": rate, "duration_s": duration_s, "polls": poller.polls, "load": load})
    return out


def warm_up(url: str, port: int, secret: str, timeout_s: float) -> dict[str, Any]:
    """A trickle until the whole pipeline answers (workers joined their groups, sink connected)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        settle = min(30.0, deadline - time.monotonic())
        last = measure(url, "127.0.0.1", port, secret, LATEST_SQL, 20, 1.0, settle_s=settle)
        if last["accepted"] and not last["not_visible"]:
            return last
    return last


def bench_e2e(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    settings = stack.phase("e2e")
    for service in ("worker", "sink", "gateway"):
        stack.spawn("e2e", service)
    port = settings.gateway_port
    url = settings.database_dsn()
    try:
        warm = warm_up(url, port, stack.terra_secret, timeout_s=120.0)
        if not warm.get("accepted") or warm.get("not_visible"):
            dead = [s for s in ("worker", "sink", "gateway") if not stack.alive(f"e2e/{s}")]
            return {
                "error": "the pipeline did not make warm-up webhooks visible in latest_metrics within 120 s",
                "dead_services": dead,
                "warm_up": warm,
                "worker_log_tail": stack.log_tail("e2e/worker"),
                "sink_log_tail": stack.log_tail("e2e/sink"),
            }
        progress("e2e warm-up", warm)
        metrics_urls = [f"http://127.0.0.1:{port}/metrics", f"http://127.0.0.1:{settings.sink_metrics_port}/"]
        before = budget.scrape(metrics_urls)
        result = measure(
            url, "127.0.0.1", port, stack.terra_secret, LATEST_SQL, RATE, 20.0 if quick else 60.0, settle_s=60.0
        )
        result["budget"] = budget.report(before, budget.scrape(metrics_urls))
        result["services_alive_after"] = {s: stack.alive(f"e2e/{s}") for s in ("worker", "sink", "gateway")}
        if result["not_visible"]:
            result["worker_log_tail"] = stack.log_tail("e2e/worker")
            result["sink_log_tail"] = stack.log_tail("e2e/sink")
    finally:
        for service in ("gateway", "worker", "sink"):
            stack.stop(f"e2e/{service}")
    progress("e2e", result)
    f = result["freshness_ms"]
    return {
        "what": "accept (client side, 202) → row visible in latest_metrics; gateway + worker + sink processes",
        **result,
        "p50_ms": f["p50"],
        "p99_ms": f["p99"],
        "targets": {"p50_ms": TARGET_P50_MS, "p99_ms": TARGET_P99_MS},
        "target_met": f["p50"] is not None
        and f["p99"] is not None
        and f["p50"] <= TARGET_P50_MS
        and f["p99"] <= TARGET_P99_MS
        and result["not_visible"] == 0,
    }
