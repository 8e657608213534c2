"""Process entry point: ``vitalstream gateway`` calls ``run(settings)``.

Shutdown (SIGTERM/SIGINT) is graceful: the listening socket closes first, in-flight
requests get ``shutdown_timeout`` to finish, then the producer is flushed and the process exits.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import web

from gateway.app import create_app
from gateway.config import GatewayConfig
from vitalstream.platform.observability import configure_logging
from vitalstream.platform.settings import Settings


def run(settings: Settings, *, extra_routes: Iterable[web.AbstractRouteDef] | None = None) -> None:
    configure_logging(settings.log_level, service="gateway", secrets=settings.secret_values())
    app = create_app(settings, extra_routes=extra_routes)
    web.run_app(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        access_log=None,  # the gateway logs one structured line per request itself
        shutdown_timeout=GatewayConfig.from_settings(settings).shutdown_timeout_s,
        handle_signals=True,
        print=None,
    )
