"""aiohttp wiring: routes, the request middleware (request id, metrics, logs), app state, lifecycle.

``create_app(settings)`` builds the application; ``extra_routes`` lets the operations code
mount more routes (e.g. ``GET /health``, design §9) that read the state below through
``request.app[STATE_KEY]``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiohttp import StreamReader, web
from aiohttp.web_protocol import RequestPayloadError

from gateway import openapi
from gateway.bodies import read_body
from gateway.config import GatewayConfig
from gateway.intake import Answer, Intake, error
from gateway.metrics import CONTENT_TYPE, GatewayMetrics, normalize_path
from gateway.producer import DurableProducer, RecordProducer, gateway_producer_config
from vitalstream.platform.codec import codec_for
from vitalstream.platform.observability import get_logger, sampled
from vitalstream.platform.settings import Settings

log = get_logger("gateway")

REQUEST_ID_HEADER = "X-Request-Id"
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/health", "/openapi.json"})
_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Readiness:
    """``/readyz``: broker metadata for the raw topic within a short timeout, verdict cached briefly."""

    def __init__(self, producer: RecordProducer, topic: str, timeout_s: float, cache_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s
        self._cache_s = cache_s
        self._checked_at = -1e18
        self._ok = False
        self._lock = asyncio.Lock()

    async def ready(self) -> bool:
        if time.monotonic() - self._checked_at < self._cache_s:
            return self._ok
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._cache_s:
                loop = asyncio.get_running_loop()
                self._ok = await loop.run_in_executor(None, self._producer.topic_ready, self._topic, self._timeout_s)
                self._checked_at = time.monotonic()
        return self._ok


@dataclass(slots=True)
class GatewayState:
    settings: Settings
    config: GatewayConfig
    metrics: GatewayMetrics
    producer: RecordProducer
    intake: Intake
    readiness: Readiness
    owns_producer: bool


STATE_KEY = web.AppKey("vitalstream_gateway", GatewayState)
_START = web.RequestKey("vs_start", float)
_REQUEST_ID = web.RequestKey("vs_request_id", str)
_ANSWER = web.RequestKey("vs_answer", Answer)


# ------------------------------------------------------------------------------ helpers


def respond(request: web.Request, answer: Answer) -> web.Response:
    request[_ANSWER] = answer
    return web.Response(
        body=answer.json(), status=answer.status, headers=answer.headers, content_type="application/json"
    )


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is not None:
        return resource.canonical
    return normalize_path(request.path)


# ------------------------------------------------------------------------------ routes


def _answered_unread(request: web.Request, answer: Answer) -> web.Response:
    """An answer given before the body was read: close the connection rather than drain the body."""
    response = respond(request, answer)
    if request.body_exists:
        response.force_close()
    return response


async def _receive(request: web.Request, state: GatewayState) -> bytes | Answer:
    """The body within the read slots, the deadline and the size cap — or the answer why not.

    A body that came whole with its headers (every ordinary webhook) is already in aiohttp's
    buffer, which pauses the socket past 512 KiB: reading it neither waits nor holds memory
    that is not held already, so it takes no slot and no deadline.
    """
    intake, config = state.intake, state.config
    if request.content.is_eof():
        return await _read(intake, request.content, config.max_body_bytes)
    large = intake.slots.is_large(request.content_length, "content-encoding" in request.headers)
    async with intake.slots.slot(large) as held:
        if not held:
            return intake.busy()
        try:
            async with asyncio.timeout(config.body_timeout_s):
                return await _read(intake, request.content, config.max_body_bytes)
        except TimeoutError:
            return intake.read_timeout()


async def _read(intake: Intake, content: StreamReader, limit: int) -> bytes | Answer:
    try:
        body = await read_body(content, limit)
    except RequestPayloadError:  # bad gzip/deflate data or broken chunked framing
        return error(400, "malformed_encoding", "The body does not decode as its framing or Content-Encoding say.")
    return intake.too_large() if body is None else body


async def _webhook(request: web.Request, source: str) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    intake = state.intake
    client = intake.proxies.client(request.remote, request.headers.get("X-Forwarded-For"))
    pre = intake.precheck(source, client, request.content_length, request.headers)
    if pre is not None:
        return _answered_unread(request, pre)
    body = await _receive(request, state)
    if isinstance(body, Answer):
        return _answered_unread(request, body)
    state.metrics.request_bytes.observe(len(body))
    if source == "terra":
        answer = await intake.terra_webhook(body, request.headers, client)
    else:
        answer = await intake.standard_webhook(source, body, request.headers, client)
    if answer.status == 202:
        elapsed = time.perf_counter() - request[_START]
        state.metrics.accept_latency.labels(source).observe(elapsed)
        state.metrics.accepted.observe(elapsed)
    return respond(request, answer)


async def terra_webhook(request: web.Request) -> web.StreamResponse:
    return await _webhook(request, "terra")


async def standard_webhook(request: web.Request) -> web.StreamResponse:
    return await _webhook(request, request.match_info["source"])


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    if await state.readiness.ready():
        return web.json_response({"status": "ready"})
    answer = error(
        503,
        "not_ready",
        "The gateway cannot reach the Kafka broker right now.",
        {"Retry-After": str(state.config.retry_after_s)},
    )
    return respond(request, answer)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[STATE_KEY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=request.app[_OPENAPI], content_type="application/json")


_OPENAPI = web.AppKey("vitalstream_openapi", bytes)


# ------------------------------------------------------------------------------ middleware


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id in and out, errors as small JSON, metrics and one structured log line per request."""
    start = time.perf_counter()
    request[_START] = start
    rid = request.headers.get(REQUEST_ID_HEADER, "")
    if not _REQUEST_ID_OK.match(rid):
        rid = os.urandom(16).hex()  # a correlation id, not a UUID: a fifth of uuid4()'s cost
    request[_REQUEST_ID] = rid
    state = request.app[STATE_KEY]
    failed = False
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # router 404/405 and friends
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "http_error")
        extra = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        response = respond(request, error(exc.status, code, exc.reason, extra))
    except Exception:
        failed = True
        log.exception("request_failed", request_id=rid, method=request.method, route=route_of(request))
        response = respond(request, error(500, "internal_error", "The gateway failed to handle the request."))
    response.headers[REQUEST_ID_HEADER] = rid
    status = response.status
    route = route_of(request)
    state.metrics.observe_request(route, request.method, status)
    answer = request.get(_ANSWER)
    if answer is not None and answer.reason is not None and route.startswith("/webhooks/"):
        state.metrics.reject(answer.reason)
    config = state.config
    if not failed:
        rate = config.probe_log_sample if request.path in PROBE_PATHS else config.access_log_sample
        if status >= 400 or rate >= 1.0 or sampled(rate):
            log_fn = log.error if status >= 500 else log.warning if status >= 400 else log.info
            log_fn(
                "request",
                request_id=rid,
                method=request.method,
                route=route,
                status=status,
                duration_ms=round((time.perf_counter() - start) * 1000, 3),
                event_id=answer.event_id if answer else None,
                reason=answer.reason if answer else None,
                client=request.remote,
            )
    return response


# ------------------------------------------------------------------------------ app


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    state.producer.start(asyncio.get_running_loop())
    if not state.config.terra_secrets:
        log.warning("terra_secrets_missing", detail="every /webhooks/terra request will be answered 401")
    log.info("gateway_started", topic=state.config.raw_topic, sources=sorted(state.config.webhook_secrets))
    yield
    if state.owns_producer:
        left = await state.producer.close(state.config.flush_timeout_s)
        log.info("gateway_stopped", undelivered=left)


def create_app(
    settings: Settings,
    *,
    producer: RecordProducer | None = None,
    extra_routes: Iterable[web.AbstractRouteDef] | None = None,
    extra_openapi_paths: dict[str, object] | None = None,
) -> web.Application:
    """The gateway application. A given ``producer`` is started by the app but closed by its owner."""
    config = GatewayConfig.from_settings(settings)
    metrics_ = GatewayMetrics()
    owns = producer is None
    if producer is None:
        producer = DurableProducer(
            gateway_producer_config(
                settings, linger_ms=settings.producer_linger_ms, timeout_s=config.produce_timeout_s
            ),
            on_delivery_error=metrics_.delivery_error,
        )
    intake = Intake(config, producer, metrics_, codec_for(settings))
    metrics_.track(producer.queue_depth, lambda: len(intake.cache))
    readiness = Readiness(producer, config.raw_topic, config.ready_timeout_s, config.ready_cache_s)

    app = web.Application(middlewares=[observe], client_max_size=config.max_body_bytes + 1)
    app[STATE_KEY] = GatewayState(settings, config, metrics_, producer, intake, readiness, owns)
    app.router.add_post("/webhooks/terra", terra_webhook)
    app.router.add_post("/webhooks/{source}", standard_webhook)
    app.router.add_get("/healthz", healthz, allow_head=True)
    app.router.add_get("/readyz", readyz, allow_head=True)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi_json)
    paths: dict[str, object] = {}
    if extra_routes:
        added = app.add_routes(extra_routes)
        if any(r.resource is not None and r.resource.canonical == "/health" for r in added):
            paths["/health"] = openapi.HEALTH_PATH
    paths.update(extra_openapi_paths or {})
    app[_OPENAPI] = openapi.render(paths)
    app.cleanup_ctx.append(_lifecycle)
    return app
