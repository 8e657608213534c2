"""Load scenarios of the earlier design (light → spike), run open-loop against a gateway.

A virtual sender is one keep-alive connection posting once a second on average, so a
scenario's arrival rate is ``senders × 1/s`` (fixed, open-loop: queueing shows). Traffic is
90 % signed Terra webhooks, 5 % ``/healthz``, 5 % ``/readyz``; each report has requests/s,
success rate, min/avg/p50/p95/p99/max latency, a per-route breakdown and a rating
(p95 < 200 ms excellent, < 500 good, < 1,000 fair, else poor).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vitalstream.bench.loadgen import LoadSpec, Route, run_load
from vitalstream.bench.stats import rating

RATE_PER_SENDER = 1.0
ROUTES = (Route("/webhooks/terra", 0.90), Route("/healthz", 0.05, "GET"), Route("/readyz", 0.05, "GET"))
MAX_CONNECTIONS = 256
QUICK_DURATION_S = 5.0


@dataclass(frozen=True)
class Scenario:
    name: str
    senders: int
    duration_s: float

    @property
    def rate(self) -> float:
        return self.senders * RATE_PER_SENDER


SCENARIOS = (
    Scenario("light", 50, 30.0),
    Scenario("medium", 100, 60.0),
    Scenario("heavy", 200, 120.0),
    Scenario("stress", 500, 180.0),
    Scenario("spike", 1000, 60.0),
)
BY_NAME = {s.name: s for s in SCENARIOS}


def run_scenario(
    scenario: Scenario, host: str, port: int, secret: str, duration_s: float | None = None
) -> dict[str, Any]:
    duration = duration_s if duration_s is not None else scenario.duration_s
    spec = LoadSpec(
        host,
        port,
        scenario.rate,
        duration,
        secret,
        uuid.uuid4().hex[:8],
        routes=ROUTES,
        connections=min(scenario.senders, MAX_CONNECTIONS),
    )
    report = run_load(spec).report()
    latency = report["latency_ms"]
    return {
        "scenario": scenario.name,
        "virtual_senders": scenario.senders,
        "duration_s": duration,
        "offered_per_s": scenario.rate,
        "requests": report["requests"],
        "requests_per_s": report["achieved_per_s"],
        "success_rate": report["success_rate"],
        "by_status": report["by_status"],
        "latency_ms": latency,
        "routes": report["routes"],
        "rating": rating(latency["p95"]),
        "generator": report["generator"],
    }


def run_all(
    host: str, port: int, secret: str, quick: bool, progress: Callable[[str, dict[str, Any]], None]
) -> list[dict[str, Any]]:
    out = []
    for scenario in SCENARIOS:
        result = run_scenario(scenario, host, port, secret, QUICK_DURATION_S if quick else None)
        progress(f"scenario {scenario.name}", result)
        out.append(result)
    return out
