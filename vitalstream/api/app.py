"""aiohttp wiring of the read API: state, the problem+json middleware, authentication, lifecycle.

``create_app(settings)`` builds the application; ``run(settings)`` serves it (``vitalstream api``).
The process is stateless apart from caches: keys are read from PostgreSQL (cached for
``VITALSTREAM_API_KEY_CACHE_S``), the stream's state is rebuilt from ``metrics.latest`` on start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from aiohttp import web

from vitalstream.api import openapi, problems, queries
from vitalstream.api.coalesce import Coalescer, Overloaded
from vitalstream.api.feed import Feed
from vitalstream.api.hub import Hub
from vitalstream.api.keys import ApiKey, RateLimiter, bearer_token, digest, looks_like_token
from vitalstream.api.problems import Problem
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEY_CACHE_MAX = 50_000
RETRY_SOON = {"Retry-After": "1"}
LATEST_INFLIGHT = 2
"""Latest-value queries running at once per process; reads beyond wait and go together in the next."""
LATEST_BATCH = 64
"""Subjects in one latest-value query, at most."""
LATEST_QUEUED = 4096
"""Reads waiting for a latest-value query, at most; one beyond is answered 503 at once."""


class KeyCache:
    """Looked-up keys (and unknown digests) for ``ttl_s``: a revocation takes effect within it."""

    def __init__(self, pool: queries.Pool, ttl_s: float) -> None:
        self._pool = pool
        self._ttl_s = ttl_s
        self._entries: dict[bytes, tuple[float, ApiKey | None]] = {}

    async def lookup(self, key_hash: bytes) -> ApiKey | None:
        now = time.monotonic()
        hit = self._entries.get(key_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = await queries.key_by_hash(self._pool, key_hash)
        if len(self._entries) >= KEY_CACHE_MAX:
            self._entries.clear()
        self._entries[key_hash] = (now + self._ttl_s, key)
        return key


@dataclass(slots=True)
class ApiState:
    settings: Settings
    pool: queries.Pool
    keys: KeyCache
    limiter: RateLimiter
    hub: Hub
    openapi: bytes
    latest: Coalescer[str, list[dict[str, Any]]]


STATE_KEY = web.AppKey("vitalstream_api", ApiState)
_FEED = web.AppKey("vitalstream_api_feed", Feed)


async def authorize(request: web.Request, scope: str) -> ApiKey:
    """The request's key, or a 401 (missing, malformed, unknown, revoked), 429 or 403 (scope)."""
    state = request.app[STATE_KEY]
    token = bearer_token(request.headers.get("Authorization"))
    if token is None:
        raise problems.unauthorized("Send an API key as 'Authorization: Bearer <key>'.")
    key = await state.keys.lookup(digest(token)) if looks_like_token(token) else None
    if key is None or not key.active:
        raise problems.unauthorized("The API key is not valid (unknown or revoked).")
    wait = state.limiter.retry_after(key.name, time.monotonic())
    if wait:
        raise Problem(429, "Too many requests for this API key.", {"Retry-After": str(wait)})
    if scope not in key.scopes:
        raise Problem(403, f"This API key does not have the '{scope}' scope.")
    return key


@web.middleware
async def problem_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error as problem+json; an unexpected one logged (never with the key) and answered 500."""
    started = time.perf_counter()
    try:
        response = await handler(request)
    except Problem as exc:
        response = problems.render(exc.status, exc.detail, exc.headers)
    except web.HTTPException as exc:  # router 404/405
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = problems.render(exc.status, exc.reason, headers)
    except asyncio.CancelledError:
        raise
    except (psycopg.OperationalError, TimeoutError, Overloaded) as exc:  # down or overloaded: not our fault
        log.warning("database_unavailable", route=_route(request), error_class=type(exc).__name__)
        response = problems.render(503, "The database is unavailable or overloaded; retry shortly.", RETRY_SOON)
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        response = problems.render(500, "The API failed to answer; the error is logged.")
    if response.status >= 500 or (response.status >= 400 and response.status != 404):
        log.warning(
            "request",
            method=request.method,
            route=_route(request),
            status=response.status,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
    return response


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    await state.pool.open(wait=False)
    feed = Feed(state.settings, state.hub, asyncio.get_running_loop())
    app[_FEED] = feed
    feed.start()
    log.info("api_started", port=state.settings.api_port)
    yield
    feed.stop()
    await state.pool.close()


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[STATE_KEY].openapi, content_type="application/json")


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, pool: queries.Pool | None = None) -> web.Application:
    from vitalstream.api import routes, stream

    pool = pool if pool is not None else queries.make_pool(settings)
    state = ApiState(
        settings,
        pool,
        KeyCache(pool, settings.api_key_cache_s),
        RateLimiter(settings.api_rate_per_s, settings.api_rate_burst),
        Hub(settings.api_sse_queue_max),
        openapi.render(),
        Coalescer(
            lambda subjects: queries.latest_many(pool, subjects),
            list,
            LATEST_INFLIGHT,
            LATEST_BATCH,
            wait_s=settings.api_pool_timeout_s + settings.api_statement_timeout_ms / 1000,
            max_queued=LATEST_QUEUED,
        ),
    )
    app = web.Application(middlewares=[problem_json])
    app[STATE_KEY] = state
    app.router.add_get("/v1/subjects/{subject}/metrics", routes.subject_metrics)
    app.router.add_get("/v1/subjects/{subject}/metrics/{metric}", routes.subject_metric)
    app.router.add_get("/v1/subjects/{subject}/observations", routes.subject_observations)
    app.router.add_get("/v1/subjects/{subject}/quality", routes.subject_quality)
    app.router.add_get("/v1/stream", stream.stream)
    app.router.add_get("/fhir/Observation", routes.fhir_observations)
    app.router.add_get("/openapi.json", openapi_json)
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.cleanup_ctx.append(_lifecycle)
    return app
