"""``vitalstream gateway``: the gateway app plus ``/health`` and the admin listener.

The public ``/health`` answers status, timestamp and version to anyone, the whole document
(``checks`` included) to a caller presenting the admin token; the admin listener serves the
whole document too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from gateway.app import STATE_KEY, create_app
from gateway.config import GatewayConfig
from vitalstream.admin import GUARD_KEY, AdminGuard, Verdict, admin_server_ctx
from vitalstream.health import HealthCache, http_status
from vitalstream.platform.observability import configure_logging
from vitalstream.platform.runtime import freeze_startup_heap
from vitalstream.platform.settings import Settings, secret_values

HEALTH_KEY = web.AppKey("vitalstream_health", HealthCache)
HEALTH_EXPORT_PERIOD_S = 15.0
STATUS_VALUE = {"unhealthy": 0, "degraded": 1, "healthy": 2}


class HealthGauges:
    """The health document as Prometheus gauges, so alerts need no one to call /health."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.status = Gauge("vitalstream_health_status", "0 unhealthy, 1 degraded, 2 healthy.", registry=registry)
        self.lag = Gauge(
            "vitalstream_consumer_lag", "Consumer lag (records) per pipeline stage.", ["stage"], registry=registry
        )
        self.dead = Gauge(
            "vitalstream_dead_letters_pending", "Events whose outcome is dead_lettered.", registry=registry
        )
        self.high = Gauge(
            "vitalstream_high_confidence_rate",
            "Share (%) of latest metrics at or above the model's high-confidence threshold.",
            registry=registry,
        )
        self.stuck = Gauge(
            "vitalstream_stage_stuck",
            "1 while the stage has lag and a committed offset that has not moved for VITALSTREAM_HEALTH_STUCK_AFTER_S.",
            ["stage"],
            registry=registry,
        )

    def update(self, doc: dict[str, Any]) -> None:
        checks = doc["checks"]
        self.status.set(STATUS_VALUE.get(doc["status"], 0))
        for stage, lag in (checks.get("consumer_lag") or {}).items():
            if lag is not None:
                self.lag.labels(stage).set(lag)
                self.stuck.labels(stage).set(1 if stage in (checks.get("stuck") or {}) else 0)
        if checks.get("deadLetters") is not None:
            self.dead.set(checks["deadLetters"])
        if checks.get("highConfidenceRate") is not None:
            self.high.set(checks["highConfidenceRate"])


def health_exporter(gauges: HealthGauges) -> Any:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                with contextlib.suppress(Exception):  # a failed probe shows as status 0, never kills the gateway
                    gauges.update(await app[HEALTH_KEY].get())
                await asyncio.sleep(HEALTH_EXPORT_PERIOD_S)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx


def webhook_stats(app: web.Application) -> tuple[int, int]:
    """(2xx, 2xx + 5xx) answers on webhook routes, from the gateway's own request counter."""
    ok = answered = 0
    for metric in app[STATE_KEY].metrics.requests.collect():
        for sample in metric.samples:
            if not sample.name.endswith("_total") or not sample.labels.get("route", "").startswith("/webhooks"):
                continue
            status = sample.labels.get("status", "")
            if status.startswith("2"):
                ok += int(sample.value)
                answered += int(sample.value)
            elif status.startswith("5"):
                answered += int(sample.value)
    return ok, answered


PUBLIC_HEALTH_FIELDS = ("status", "timestamp", "version")


async def health(request: web.Request) -> web.Response:
    """Status, timestamp and version for anyone; the whole document for the admin token only."""
    guard = request.app[GUARD_KEY]
    verdict = guard.judge(request)
    if verdict in (Verdict.DENIED, Verdict.THROTTLED):
        return guard.refusal(request, verdict)
    doc = await request.app[HEALTH_KEY].get()
    if verdict is not Verdict.OK:
        doc = {k: doc[k] for k in PUBLIC_HEALTH_FIELDS}
    return web.json_response(doc, status=http_status(doc))


def build_app(settings: Settings) -> web.Application:
    app = create_app(settings, extra_routes=[web.get("/health", health)])
    app[HEALTH_KEY] = HealthCache(settings, lambda: webhook_stats(app))
    guard = AdminGuard(settings)
    app[GUARD_KEY] = guard
    app.cleanup_ctx.append(admin_server_ctx(settings, guard, app[HEALTH_KEY].get))
    app.cleanup_ctx.append(health_exporter(HealthGauges(app[STATE_KEY].metrics.registry)))
    return app


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, service="gateway", secrets=secret_values(settings))
    app: Any = build_app(settings)
    freeze_startup_heap()
    web.run_app(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,
        shutdown_timeout=GatewayConfig.from_settings(settings).shutdown_timeout_s,
        print=None,
    )
