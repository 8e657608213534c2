"""``vitalstream bench e2e``: webhook accepted (client side, at the 202) → its row visible in ``latest_metrics``.

Gateway, worker and sink run as their own processes on the bench's private Kafka and
PostgreSQL; 1 KB webhooks arrive open-loop at the target rate (250/s, design §11), each for a subject of its own, and
a poller reads ``latest_metrics`` every ~10 ms while few rows are missing (by subject, through its
primary key; less often when many are, :data:`~vitalstream.bench.freshness.LOOKUPS_PER_S`).
Beside it, ``budget``: p50/p99 of each hop (gateway accept, normalize, score, sink) and of
accepted → committed, from the services' histograms over the measured load (``bench.budget``).

``--rates R,R,…`` (:func:`bench_e2e_sweep`): the same measurement at each rate in turn on
one pipeline, each with its own budget, and the knee (``bench.sweep``).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from vitalstream.bench import budget, sweep
from vitalstream.bench.cpushare import CpuShares, JitWatch
from vitalstream.bench.freshness import VisibilityPoller, freshness
from vitalstream.bench.loadgen import LoadSpec, run_load
from vitalstream.bench.stack import BenchStack
from vitalstream.bench.stats import summary

RATE = sweep.TARGET_RATE
"""design §11 sets the freshness targets at this rate (the sweep finds the knee)."""
WARM_RATE = 250
WARM_S = 15.0
"""Every pipeline runs this load before it is measured: its first seconds are slower than the rest
(a fresh broker's JIT: Kafka took 63 % of a core in the first 10 s at 100/s, 39 % after)."""
JIT_SETTLED_SHARE = 0.10
JIT_STEP_S = 5.0
JIT_MAX_S = 120.0
"""After ``WARM_S``, the load goes on in ``JIT_STEP_S`` windows until the brokers' JIT compilers took
under ``JIT_SETTLED_SHARE`` of a core over one (at most ``JIT_MAX_S``): on the EPYC their C2 compiled
for 60–90 s of load at 25–50 % of a core, the broker twice as busy as once warm (design §11)."""
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
    slice_s: float | None = None,
) -> dict[str, Any]:
    """Run the load, poll for visibility, wait up to ``settle_s`` after the load for the stragglers
    (``slice_s``: also the freshness of each slice of the window, see :func:`freshness`)."""
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
    out = freshness(accepted, poller.seen, slice_s)
    load = result.report()
    load.pop("routes", None)
    out.update({"rate": rate, "duration_s": duration_s, "polls": poller.polls, "load": load})
    out["poll_interval_ms"] = summary([x * 1000 for x in poller.intervals_s], digits=1)
    return out


def warm_up(
    url: str,
    port: int,
    secret: str,
    timeout_s: float,
    rate: float = WARM_RATE,
    seconds: float = WARM_S,
    brokers: Sequence[int] = (),
) -> dict[str, Any]:
    """A trickle until the whole pipeline answers (workers joined their groups, sink connected), then
    ``seconds`` at ``rate`` (0: none) whose figures are kept apart (``at_load``): not the load's own;
    then more at ``rate`` until the JIT of the ``brokers`` (pids) has settled (``until_jit_settled_s``)."""
    deadline = time.monotonic() + timeout_s
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        settle = min(30.0, deadline - time.monotonic())
        last = measure(url, "127.0.0.1", port, secret, LATEST_SQL, 20, 1.0, settle_s=settle)
        if last["accepted"] and not last["not_visible"]:
            break
    if last.get("accepted") and not last.get("not_visible") and rate and seconds:
        jit = JitWatch(brokers)
        cold = measure(url, "127.0.0.1", port, secret, LATEST_SQL, rate, seconds, settle_s=60.0)
        last["at_load"] = {k: cold[k] for k in ("rate", "duration_s", "accepted", "not_visible", "freshness_ms")}
        last["at_load"]["until_jit_settled_s"] = _until_jit_settled(url, port, secret, rate, jit)
    return last


def _until_jit_settled(url: str, port: int, secret: str, rate: float, jit: JitWatch) -> float:
    """Load at ``rate`` in ``JIT_STEP_S`` windows while the brokers' JIT compilers keep a tenth of a core busy
    (none with no broker pids: a watch of no JVM reads 0)."""
    ran = 0.0
    while jit.share() >= JIT_SETTLED_SHARE and ran < JIT_MAX_S:
        measure(url, "127.0.0.1", port, secret, LATEST_SQL, rate, JIT_STEP_S, settle_s=60.0)
        ran += JIT_STEP_S
    return ran


SERVICES = ("worker", "sink", "gateway")


def _start_pipeline(stack: BenchStack, phase: str, progress: Progress) -> dict[str, Any]:
    """Spawn worker, sink and gateway on a fresh phase and warm them up: the warm-up's figures, or the
    failure (with an ``error``)."""
    settings = stack.phase(phase)
    for service in SERVICES:
        stack.spawn(phase, service)
    warm = warm_up(
        settings.database_dsn(), settings.gateway_port, stack.terra_secret, timeout_s=120.0, brokers=stack.broker_pids()
    )
    if warm.get("accepted") and not warm.get("not_visible"):
        progress(f"{phase} warm-up", warm)
        return warm
    return {
        "error": "the pipeline did not make warm-up webhooks visible in latest_metrics within 120 s",
        "dead_services": [s for s in SERVICES if not stack.alive(f"{phase}/{s}")],
        "warm_up": warm,
        **_log_tails(stack, phase),
    }


def _log_tails(stack: BenchStack, phase: str) -> dict[str, str]:
    return {f"{s}_log_tail": stack.log_tail(f"{phase}/{s}") for s in ("worker", "sink")}


def _measure_with_budget(
    stack: BenchStack, phase: str, rate: float, duration_s: float, settle_s: float
) -> dict[str, Any]:
    settings = stack.settings(phase)
    port = settings.gateway_port
    metrics_urls = budget.metrics_urls(port, settings.sink_metrics_port)
    before = budget.scrape(metrics_urls)
    cpu = cpu_shares(stack, phase)
    cpu.begin()
    result = measure(
        settings.database_dsn(), "127.0.0.1", port, stack.terra_secret, LATEST_SQL, rate, duration_s, settle_s
    )
    result["cpu_percent_of_a_core"] = cpu.end()
    result["budget"] = budget.report(before, budget.scrape(metrics_urls))
    result["services_alive_after"] = {s: stack.alive(f"{phase}/{s}") for s in SERVICES}
    if result["not_visible"]:
        result.update(_log_tails(stack, phase))
    f = result["freshness_ms"]
    result["p50_ms"], result["p99_ms"] = f["p50"], f["p99"]
    return result


def cpu_shares(stack: BenchStack, phase: str) -> CpuShares:
    """The pipeline's processes, the broker, PostgreSQL (server and backends) and the bench (load
    generator and visibility poller), each on its own line."""
    services = {s: stack.pids.get(f"{phase}/{s}") for s in SERVICES}
    brokers = {f"broker{i}" if i else "broker": pid for i, pid in enumerate(stack.broker_pids())}
    return CpuShares({**services, **brokers}, trees={"postgres": stack.pg_pid()}, reaping={"bench": os.getpid()})


def _stop_pipeline(stack: BenchStack, phase: str) -> None:
    for service in ("gateway", "worker", "sink"):
        stack.stop(f"{phase}/{service}")


def bench_e2e(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    try:
        warm = _start_pipeline(stack, "e2e", progress)
        if "error" in warm:
            return warm
        result = _measure_with_budget(stack, "e2e", RATE, 20.0 if quick else 60.0, settle_s=60.0)
    finally:
        _stop_pipeline(stack, "e2e")
    progress("e2e", result)
    return {
        "what": "accept (client side, 202) → row visible in latest_metrics; gateway + worker + sink processes",
        **result,
        "warm_up_at_load": warm.get("at_load"),
        "targets": {"p50_ms": sweep.TARGET_P50_MS, "p99_ms": sweep.TARGET_P99_MS},
        "target_met": result["p50_ms"] is not None
        and result["p99_ms"] is not None
        and result["p50_ms"] <= sweep.TARGET_P50_MS
        and result["p99_ms"] <= sweep.TARGET_P99_MS
        and result["not_visible"] == 0,
    }


def bench_e2e_sweep(stack: BenchStack, rates: tuple[int, ...], quick: bool, progress: Progress) -> dict[str, Any]:
    """Accept → visible at each rate in turn, on one pipeline; stops once a rate leaves a backlog behind
    (every later rate would measure the backlog, not its own load)."""
    duration = 10.0 if quick else 30.0
    points: list[dict[str, Any]] = []
    try:
        warm = _start_pipeline(stack, "e2esweep", progress)
        if "error" in warm:
            return warm
        for rate in rates:
            point = {"rate": rate, **_measure_with_budget(stack, "e2esweep", rate, duration, settle_s=60.0)}
            points.append(point)
            progress(f"e2e at {rate}/s", point)
            if point["not_visible"]:
                break
    finally:
        _stop_pipeline(stack, "e2esweep")
    return {
        "what": "accept (client side, 202) → row visible in latest_metrics at each rate in turn; "
        "gateway + worker + sink processes, 2-observation webhooks, each its own subject",
        "duration_per_rate_s": duration,
        "warm_up_at_load": warm.get("at_load"),
        "rates": list(rates),
        "not_run": [r for r in rates if sweep.at_rate(points, r) is None],
        "points": points,
        "knee_per_s": sweep.knee(points),
        "knee_rule": f"the highest rate whose p99 (and every lower rate's) stays under {sweep.KNEE_P99_MS:g} ms "
        "with every accepted webhook visible",
        "targets": sweep.verdicts(points),
    }
