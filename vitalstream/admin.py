"""Admin endpoints on their own port (``VITALSTREAM_ADMIN_PORT``), behind ``VITALSTREAM_ADMIN_TOKEN``.

``GET /admin/dlq`` (dead-letter summary) and ``POST /admin/dlq/replay`` (the same filters as
``vitalstream dlq replay``). The bearer token is compared in constant time; anything else
is a 401. Every action writes one audit log line (who, what, how many; never the token).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from vitalstream import dlq as dlq_mod
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("vitalstream.admin")
SETTINGS_KEY = web.AppKey("vitalstream_admin_settings", Settings)


def authorized(request: web.Request, settings: Settings) -> bool:
    if settings.admin_token is None or not settings.admin_token.get_secret_value():
        return False  # no token configured: the admin API is closed, never open
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    expected = settings.admin_token.get_secret_value().encode()
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected)


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    settings = request.app[SETTINGS_KEY]
    if not authorized(request, settings):
        log.warning("admin_denied", path=request.path, remote=request.remote)
        return web.json_response(
            {"error": "unauthorized", "detail": "a valid admin bearer token is required"},
            status=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    result: web.StreamResponse = await handler(request)
    return result


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data, default=str), status=status, content_type="application/json")


async def dlq_summary(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    letters, replayed = await asyncio.gather(
        asyncio.to_thread(dlq_mod.read_dead_letters, settings), asyncio.to_thread(dlq_mod.read_replayed, settings)
    )
    groups = dlq_mod.summarize(letters, replayed)
    log.info("admin_action", action="dlq_summary", remote=request.remote, groups=len(groups))
    return _json([asdict(g) for g in groups])


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


async def dlq_replay(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    try:
        body = orjson.loads(await request.read())
        filters = dlq_mod.Filters(
            body.get("stage"),
            body.get("error_class"),
            body.get("provider"),
            _time(body.get("since")),
            _time(body.get("until")),
            body.get("event_id"),
            frozenset(body.get("refs") or []),
        )
        limit = body.get("limit")
        dry_run, force = bool(body.get("dry_run")), bool(body.get("force"))
    except (orjson.JSONDecodeError, AttributeError, ValueError, TypeError):
        return _json({"error": "bad_request", "detail": "body must be a JSON object of replay filters"}, 400)
    report = await asyncio.to_thread(
        dlq_mod.replay, settings, filters, limit=limit, dry_run=dry_run, force=force, actor=f"admin:{request.remote}"
    )
    log.info(
        "admin_action",
        action="dlq_replay",
        remote=request.remote,
        dry_run=dry_run,
        force=force,
        matched=report.matched,
        replayed=len(report.replayed),
        failed=len(report.failed),
    )
    return _json(asdict(report))


def create_admin_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[require_token])
    app[SETTINGS_KEY] = settings
    app.router.add_get("/admin/dlq", dlq_summary)
    app.router.add_post("/admin/dlq/replay", dlq_replay)
    return app


def admin_server_ctx(settings: Settings) -> Any:
    """A cleanup_ctx for the gateway app: serve the admin app on its own port alongside."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_admin_app(settings), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.gateway_host, settings.admin_port)
        await site.start()
        log.info("admin_started", port=settings.admin_port, enabled=settings.admin_token is not None)
        yield
        await runner.cleanup()

    return ctx
