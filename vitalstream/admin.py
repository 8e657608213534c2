"""Admin endpoints on their own listener (``VITALSTREAM_ADMIN_HOST``:``VITALSTREAM_ADMIN_PORT``).

``GET /admin/dlq`` (dead-letter summary), ``POST /admin/dlq/replay`` (the filters of
``vitalstream dlq replay``) and ``GET /health`` (the whole document), all behind the bearer
token ``VITALSTREAM_ADMIN_TOKEN``, compared in constant time. Wrong tokens are throttled per
address (``VITALSTREAM_ADMIN_FAILURES_PER_MIN``, then 429 whatever the token); input is
checked before anything runs (400 with the reason); one replay runs at a time per process
(a second is 409). The summary reads only record headers, within a record and time budget,
and says ``incomplete`` when the budget ran out: the ingest process never keeps DLQ values.
Every action writes one audit log line (who, what, how many; never the token).
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

import orjson
from aiohttp import web
from confluent_kafka import KafkaException

from gateway.ratelimit import SlidingWindowLimiter
from schemas import deadletter as H
from vitalstream import dlq as dlq_mod
from vitalstream.admin_requests import BadRequest, parse_replay
from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("vitalstream.admin")
SUMMARY_MAX_RECORDS = 200_000
SUMMARY_TIMEOUT_S = 10.0
# headers only are kept, but librdkafka fetches whole records: keep its buffers small
_SMALL_FETCH = {"fetch.max.bytes": 1 << 20, "max.partition.fetch.bytes": 256 << 10, "queued.max.messages.kbytes": 1024}
_SUMMARY_HEADERS = frozenset({H.ERROR_STAGE, H.ERROR_CLASS, H.ERROR_MESSAGE, H.FIRST_FAILURE_AT, H.EVENT_ID})

HealthSource = Callable[[], Awaitable[dict[str, Any]]]


class Verdict(Enum):
    OK = "ok"
    ABSENT = "absent"
    DENIED = "denied"
    THROTTLED = "throttled"


class AdminGuard:
    """The admin token check, shared by the admin listener and the public ``/health``."""

    def __init__(self, settings: Settings) -> None:
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        self._expected = token.encode()
        self.failures = SlidingWindowLimiter(settings.admin_failures_per_min, 60.0)

    def judge(self, request: web.Request) -> Verdict:
        header = request.headers.get("Authorization")
        if header is None:
            return Verdict.ABSENT
        address = request.remote or "unknown"
        if not self.failures.peek(address).allowed:
            return Verdict.THROTTLED
        scheme, _, token = header.partition(" ")
        ok = bool(self._expected) and scheme.lower() == "bearer"
        if ok and hmac.compare_digest(token.strip().encode(), self._expected):
            return Verdict.OK
        self.failures.hit(address)
        return Verdict.DENIED

    def refusal(self, request: web.Request, verdict: Verdict) -> web.Response:
        log.warning("admin_denied", path=request.path, remote=request.remote, verdict=verdict.value)
        if verdict is Verdict.THROTTLED:
            retry = max(1, math.ceil(self.failures.peek(request.remote or "unknown").retry_after_s))
            return _error(
                429, "too_many_failures", "too many wrong admin tokens; retry later", {"Retry-After": str(retry)}
            )
        return _error(401, "unauthorized", "a valid admin bearer token is required", {"WWW-Authenticate": "Bearer"})


GUARD_KEY = web.AppKey("vitalstream_admin_guard", AdminGuard)
SETTINGS_KEY = web.AppKey("vitalstream_admin_settings", Settings)
HEALTH_KEY: web.AppKey[HealthSource] = web.AppKey("vitalstream_admin_health")
REPLAY_LOCK = web.AppKey("vitalstream_admin_replay_lock", asyncio.Lock)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data, default=str), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    return _json({"error": code, "detail": detail}, status, headers)


@web.middleware
async def require_token(request: web.Request, handler: Any) -> web.StreamResponse:
    guard = request.app[GUARD_KEY]
    verdict = guard.judge(request)
    if verdict is not Verdict.OK:
        return guard.refusal(request, verdict)
    try:
        result: web.StreamResponse = await handler(request)
    except KafkaException as exc:
        code = exc.args[0].name() if exc.args and hasattr(exc.args[0], "name") else type(exc).__name__
        log.warning("admin_kafka_unavailable", path=request.path, kafka_error=code)
        return _error(503, "kafka_unavailable", "the Kafka broker cannot be reached; retry later", {"Retry-After": "5"})
    return result


# --- the dead-letter summary: headers only ---------------------------------------------------


@dataclass
class HeaderScan:
    letters: list[dlq_mod.DeadLetter]
    total: int
    incomplete: bool


def read_dead_letter_headers(
    settings: Settings, max_records: int = SUMMARY_MAX_RECORDS, timeout_s: float = SUMMARY_TIMEOUT_S
) -> HeaderScan:
    """Every DLQ record's summary headers (never its key or value), within a record and time budget."""
    topic = settings.topic("dlq")
    reader = kafka.consumer(settings, "admin-summary", None, **_SMALL_FETCH)
    letters: list[dlq_mod.DeadLetter] = []
    try:
        total = sum(high - low for low, high in kafka.end_offsets(reader, topic).values())
        deadline = time.monotonic() + timeout_s
        for msg in kafka.iter_to_end(reader, topic, timeout_s=timeout_s):
            headers = {k: _text(v) for k, v in list(msg.headers() or []) if k in _SUMMARY_HEADERS and v is not None}
            part, offset = int(msg.partition() or 0), int(msg.offset() or 0)
            letters.append(dlq_mod.DeadLetter(part, offset, msg.timestamp()[1], None, None, headers, []))
            if len(letters) >= max_records or time.monotonic() > deadline:
                break
    except kafka.ReadIncomplete:
        pass  # stalled: what was read is reported, flagged incomplete
    finally:
        reader.close()
    return HeaderScan(letters, total, incomplete=len(letters) < total)


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


async def dlq_summary(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    scan, replayed = await asyncio.gather(
        asyncio.to_thread(read_dead_letter_headers, settings),
        asyncio.to_thread(dlq_mod.read_replayed, settings),
    )
    groups = dlq_mod.summarize(scan.letters, replayed)
    log.info(
        "admin_action", action="dlq_summary", remote=request.remote, groups=len(groups), incomplete=scan.incomplete
    )
    return _json(
        {
            "groups": [asdict(g) for g in groups],
            "read": len(scan.letters),
            "total": scan.total,
            "incomplete": scan.incomplete,
        }
    )


# --- replay: validated, one at a time ----------------------------------------------------------


async def dlq_replay(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS_KEY]
    try:
        parsed = parse_replay(orjson.loads(await request.read()))
    except orjson.JSONDecodeError:
        return _error(400, "bad_request", "the body must be a JSON object of replay filters")
    except BadRequest as exc:
        return _error(400, "bad_request", str(exc))
    lock = request.app[REPLAY_LOCK]
    if lock.locked():
        return _error(409, "replay_in_progress", "another replay is running; retry when it has finished")
    async with lock:
        report = await asyncio.to_thread(
            dlq_mod.replay,
            settings,
            parsed.filters,
            limit=parsed.limit,
            dry_run=parsed.dry_run,
            force=parsed.force,
            actor=f"admin:{request.remote}",
        )
    log.info(
        "admin_action",
        action="dlq_replay",
        remote=request.remote,
        dry_run=parsed.dry_run,
        force=parsed.force,
        matched=report.matched,
        replayed=len(report.replayed),
        failed=len(report.failed),
    )
    return _json(asdict(report))


async def full_health(request: web.Request) -> web.Response:
    doc = await request.app[HEALTH_KEY]()
    return _json(doc, 503 if doc.get("status") == "unhealthy" else 200)


def create_admin_app(
    settings: Settings, guard: AdminGuard | None = None, health: HealthSource | None = None
) -> web.Application:
    app = web.Application(middlewares=[require_token])
    app[SETTINGS_KEY] = settings
    app[GUARD_KEY] = guard or AdminGuard(settings)
    app[REPLAY_LOCK] = asyncio.Lock()
    app.router.add_get("/admin/dlq", dlq_summary)
    app.router.add_post("/admin/dlq/replay", dlq_replay)
    if health is not None:
        app[HEALTH_KEY] = health
        app.router.add_get("/health", full_health)
    return app


def admin_server_ctx(settings: Settings, guard: AdminGuard, health: HealthSource | None = None) -> Any:
    """A cleanup_ctx for the gateway app: serve the admin app on its own listener alongside."""

    async def ctx(_app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(create_admin_app(settings, guard, health), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.admin_host, settings.admin_port)
        await site.start()
        log.info(
            "admin_started",
            host=settings.admin_host,
            port=settings.admin_port,
            enabled=settings.admin_token is not None,
        )
        yield
        await runner.cleanup()

    return ctx
