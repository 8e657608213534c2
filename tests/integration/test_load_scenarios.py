"""Short CI versions of the load scenarios against a gateway on the real Kafka broker.

Behaviour, not timing: the report has its documented shape and every request succeeds.
No latency thresholds here — figures come from ``vitalstream bench scenarios``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from gateway.app import create_app
from vitalstream.bench.scenarios import BY_NAME, ROUTES, SCENARIOS, Scenario, run_scenario
from vitalstream.bench.stats import rating, summary
from vitalstream.platform.settings import Settings

LATENCY_KEYS = {"min", "avg", "p50", "p95", "p99", "max"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def gateway_port(settings: Settings) -> AsyncIterator[int]:
    """The gateway app on a free port, on this test's event loop (the load runs in its own process)."""
    port = free_port()
    # the abuse limits are not under test here: a 1,000-sender spike from one address must not be throttled
    app = create_app(settings.model_copy(update={"rate_limit_per_ip_per_min": 10_000_000}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield port
    await runner.cleanup()


def check_shape(report: dict[str, object], scenario: Scenario, duration_s: float) -> None:
    assert report["scenario"] == scenario.name
    assert report["virtual_senders"] == scenario.senders
    assert report["duration_s"] == duration_s
    assert report["requests"] == round(scenario.rate * duration_s)
    assert isinstance(report["requests_per_s"], float) and report["requests_per_s"] > 0
    latency = report["latency_ms"]
    assert isinstance(latency, dict) and set(latency) == LATENCY_KEYS
    assert latency["min"] <= latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    routes = report["routes"]
    assert isinstance(routes, dict)
    assert set(routes) == {f"{r.method} {r.path}" for r in ROUTES}
    assert sum(r["requests"] for r in routes.values()) == report["requests"]
    for route in routes.values():
        assert set(route["latency_ms"]) == LATENCY_KEYS
    assert report["rating"] in {"excellent", "good", "fair", "poor"}


async def test_light_scenario_short_run_succeeds_fully(settings: Settings, gateway_port: int) -> None:
    secret = settings.terra_secrets[0].get_secret_value()
    report = await asyncio.to_thread(run_scenario, BY_NAME["light"], "127.0.0.1", gateway_port, secret, 3.0)
    check_shape(report, BY_NAME["light"], 3.0)
    assert report["success_rate"] == 100.0
    assert report["by_status"].keys() <= {"200", "202"}
    assert report["routes"]["POST /webhooks/terra"]["success_rate"] == 100.0


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s.name != "light"], ids=lambda s: s.name)
async def test_every_scenario_short_run_succeeds_fully(
    settings: Settings, gateway_port: int, scenario: Scenario
) -> None:
    secret = settings.terra_secrets[0].get_secret_value()
    report = await asyncio.to_thread(run_scenario, scenario, "127.0.0.1", gateway_port, secret, 1.0)
    check_shape(report, scenario, 1.0)
    assert report["success_rate"] == 100.0, report["by_status"]


def test_rating_follows_p95_bands() -> None:
    assert [rating(x) for x in (10, 199.9, 200, 499, 500, 999, 1000, None)] == [
        "excellent",
        "excellent",
        "good",
        "good",
        "fair",
        "fair",
        "poor",
        "poor",
    ]


def test_summary_of_no_latencies_is_empty_not_an_error() -> None:
    assert summary([]) == dict.fromkeys(LATENCY_KEYS)
    assert summary([3.0, 1.0, 2.0])["p50"] == 2.0
