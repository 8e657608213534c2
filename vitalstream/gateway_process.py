"""``vitalstream gateway``: the gateway app plus ``/health`` and the admin port."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge

from gateway.app import STATE_KEY, create_app
from gateway.config import GatewayConfig
from vitalstream.admin import admin_server_ctx
from vitalstream.health import HealthCache, http_status
from vitalstream.platform.observability import configure_logging
from vitalstream.platform.settings import Settings

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

    def update(self, doc: dict[str, Any]) -> None:
        checks = doc["checks"]
        self.status.set(STATUS_VALUE.get(doc["status"], 0))
        for stage, lag in (checks.get("consumer_lag") or {}).items():
            if lag is not None:
                self.lag.labels(stage).set(lag)
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


async def health(request: web.Request) -> web.Response:
    doc = await request.app[HEALTH_KEY].get()
    return web.json_response(doc, status=http_status(doc))


def build_app(settings: Settings) -> web.Application:
    app = create_app(settings, extra_routes=[web.get("/health", health)])
    app[HEALTH_KEY] = HealthCache(settings, lambda: webhook_stats(app))
    app.cleanup_ctx.append(admin_server_ctx(settings))
    app.cleanup_ctx.append(health_exporter(HealthGauges(app[STATE_KEY].metrics.registry)))
    return app


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, service="gateway")
    app: Any = build_app(settings)
    web.run_app(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,
        shutdown_timeout=GatewayConfig.from_settings(settings).shutdown_timeout_s,
        print=None,
    )
