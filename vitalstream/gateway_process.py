"""``vitalstream gateway``: the gateway app plus ``/health`` and the admin port."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.app import STATE_KEY, create_app
from gateway.config import GatewayConfig
from vitalstream.admin import admin_server_ctx
from vitalstream.health import HealthCache, http_status
from vitalstream.observability import configure_logging
from vitalstream.settings import Settings

HEALTH_KEY = web.AppKey("vitalstream_health", HealthCache)


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
    return app


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, service="gateway")
    app: Any = build_app(settings)
    web.run_app(app, host=settings.gateway_host, port=settings.gateway_port, access_log=None,
                shutdown_timeout=GatewayConfig.from_settings(settings).shutdown_timeout_s, print=None)
