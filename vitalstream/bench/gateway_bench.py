"""``vitalstream bench gateway``: open-loop accept load at fixed rates, beside a bare aiohttp handler.

Signed 1 KB Terra bodies at each rate, every request a distinct delivery (own trace id, so
every 202 is a real produce acknowledged by Kafka). Reports accepted/s at saturation (the
highest accepted rate reached), p50/p95/p99 accept latency at 2,000/s and the same sweep
against the ceiling, a bare aiohttp JSON handler in its own process. The sweep stops at
the first rate the server cannot follow (< 80 % of the offered rate accepted); a ceiling that
followed every rate is reported as a lower bound (``ceiling_saturated`` false).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from vitalstream.bench.e2e import WARM_S
from vitalstream.bench.loadgen import LoadSpec, run_load
from vitalstream.bench.stack import BenchStack
from vitalstream.platform.procstat import cpu_seconds, main_thread_cpu_seconds
from vitalstream.stack.ports import free_port

TARGET_ACCEPTED_PER_S = 5000
TARGET_SHARE_OF_CEILING = 0.6
"""docs/design.md §11: at least 5,000/s *and* at least 60 % of the bare handler's rate in the same run."""
TARGET_P99_MS_AT_2000 = 20.0
WARM_RATE = 1000
"""Before a sweep, ``e2e.WARM_S`` at this rate: the broker's first seconds under load are slower (design §11)."""
QUICK_RATES = (500, 1000, 2000, 3000, 4000, 6000, 8000, 10000)
FULL_RATES = (500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 10000, 12000)

Progress = Callable[[str, dict[str, Any]], None]


def sweep(
    server: tuple[str, int, int],
    secret: str,
    rates: tuple[int, ...],
    duration_s: float,
    progress: Progress,
    label: str,
) -> list[dict[str, Any]]:
    """``server``: host, port and the pid whose CPU each rate's point reports."""
    host, port, pid = server
    run_load(LoadSpec(host, port, WARM_RATE, WARM_S, secret, uuid.uuid4().hex[:8]))  # not counted
    points: list[dict[str, Any]] = []
    for rate in rates:
        before = cpu_seconds(pid), main_thread_cpu_seconds(pid)
        result = run_load(LoadSpec(host, port, rate, duration_s, secret, uuid.uuid4().hex[:8]))
        point = result.report()
        point.pop("routes", None)
        point["cpu_us_per_request"] = _per_request(cpu_seconds(pid) - before[0], point)
        point["loop_thread_cpu_us_per_request"] = _per_request(main_thread_cpu_seconds(pid) - before[1], point)
        points.append(point)
        progress(label, point)
        if fell_behind(point):
            break
    return points


def _per_request(cpu_s: float, point: dict[str, Any]) -> float | None:
    """CPU µs per successful request of the rate's run (the server's process, or its event-loop thread)."""
    ok = point.get("requests", 0) * point.get("success_rate", 0.0) / 100
    return round(cpu_s * 1e6 / ok, 1) if ok and cpu_s > 0 else None


def at_rate(points: list[dict[str, Any]], rate: int) -> dict[str, Any] | None:
    return next((p for p in points if p["offered_per_s"] == rate), None)


def fell_behind(point: dict[str, Any]) -> bool:
    """The server did not follow this rate: under 80 % of the offered rate accepted."""
    return bool(point["accepted_per_s"] < 0.8 * point["offered_per_s"])


def saturated(points: list[dict[str, Any]]) -> bool:
    """The sweep ended because the server fell behind, not because it ran out of rates."""
    return bool(points) and fell_behind(points[-1])


def required_rate(ceiling: float) -> float:
    """Both halves of the throughput target as one rate: 5,000/s or 60 % of the ceiling, whichever is more."""
    return max(float(TARGET_ACCEPTED_PER_S), TARGET_SHARE_OF_CEILING * ceiling)


def gateway_target_met(accepted: float, ceiling: float) -> bool:
    """Against a ceiling that is a lower bound, the share is generous."""
    return ceiling > 0 and accepted >= required_rate(ceiling)


def bench_gateway(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    rates = QUICK_RATES if quick else FULL_RATES
    duration = 4.0 if quick else 15.0
    stack.phase("gateway")
    gateway_pid = stack.spawn("gateway", "gateway")
    port = int(stack.envs["gateway"]["VITALSTREAM_GATEWAY_PORT"])
    try:
        gateway = sweep(("127.0.0.1", port, gateway_pid), stack.terra_secret, rates, duration, progress, "gateway")
    finally:
        stack.stop("gateway/gateway")
    cport = free_port()
    ceiling_pid = stack.spawn_module("ceiling", ["vitalstream.bench.ceiling", str(cport)], port=cport)
    try:
        ceiling = sweep(("127.0.0.1", cport, ceiling_pid), stack.terra_secret, rates, duration, progress, "ceiling")
    finally:
        stack.stop("ceiling")
    accepted = max((p["accepted_per_s"] for p in gateway), default=0.0)
    ceiling_max = max((p["accepted_per_s"] for p in ceiling), default=0.0)
    at2000 = at_rate(gateway, 2000)
    p99 = at2000["latency_ms"]["p99"] if at2000 else None
    return {
        "what": "gateway: signed 1 KB Terra webhooks, verified, produced to Kafka (acks=all), answered 202",
        "ceiling": "bare aiohttp handler (read body, parse JSON, answer 202), same generator, same machine",
        "duration_per_rate_s": duration,
        "accepted_per_s": accepted,
        "ceiling_per_s": ceiling_max,
        "ceiling_saturated": saturated(ceiling),
        "share_of_ceiling": round(accepted / ceiling_max, 3) if ceiling_max else None,
        "at_2000": at2000["latency_ms"] if at2000 else None,
        "p99_ms_at_2000": p99,
        "generator_kept_up_everywhere": all(p["generator"]["kept_up"] for p in gateway + ceiling),
        "gateway_points": gateway,
        "ceiling_points": ceiling,
        "targets": {
            "accepted_per_s": TARGET_ACCEPTED_PER_S,
            "share_of_ceiling": TARGET_SHARE_OF_CEILING,
            "p99_ms_at_2000": TARGET_P99_MS_AT_2000,
        },
        "target_accepted_met": gateway_target_met(accepted, ceiling_max),
        "target_p99_met": p99 is not None and p99 <= TARGET_P99_MS_AT_2000,
    }
