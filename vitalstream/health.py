"""The health document of design §9, shared by ``GET /health`` and ``vitalstream health``.

Checks run concurrently, each with a timeout; the document is cached for
``health_cache_s``. Every threshold is a setting. Status: ``unhealthy`` when Kafka or
the database cannot be reached, lag passes the unhealthy threshold or a stage is stuck
(lag, and a committed offset that has not moved for ``health_stuck_after_s``); ``degraded`` when
workers are missing, lag or dead letters pass their degraded thresholds, or the webhook
success rate falls below its threshold; else ``healthy``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vitalstream.platform import __version__, kafka
from vitalstream.platform.control import fetch_group, live_worker_group
from vitalstream.platform.settings import Settings
from vitalstream.platform.stuck import OffsetWatch

# Which consumer group reads which topics, per stage ("worker": the live scoring generation's
# Faust app id, which is its group; see vitalstream.platform.control).
STAGES: dict[str, tuple[str, str]] = {
    "normalize": ("worker", "webhooks.raw"),
    "fetch": ("fetch", "webhooks.raw"),  # ping-mode downloads (streams.fetch), a group of its own
    "score": ("worker", "metrics.normalized"),
    "sink": ("sink", "metrics.scored"),
}

WebhookStats = Callable[[], tuple[int, int]]
"""Returns (answered 2xx, answered 2xx or 5xx) for webhook routes since start."""


@dataclass
class _Probe:
    ok: bool
    latency_ms: float
    value: Any = None
    error: str | None = None


async def _timed(fn: Callable[[], Any], timeout_s: float) -> _Probe:
    t0 = time.perf_counter()
    try:
        value = await asyncio.wait_for(asyncio.to_thread(fn), timeout_s)
        return _Probe(True, round((time.perf_counter() - t0) * 1000, 1), value)
    except TimeoutError:
        return _Probe(False, round((time.perf_counter() - t0) * 1000, 1), error="timeout")
    except Exception as exc:  # any failure of a dependency is a failed check, never a crash
        return _Probe(False, round((time.perf_counter() - t0) * 1000, 1), error=type(exc).__name__)


def _kafka_probe(settings: Settings) -> dict[str, Any]:
    """Lag per stage, ``{partition: (committed offset, lag)}`` per stage, and group membership
    (positions read as :func:`kafka.group_positions` reads them: safe inside the gateway process)."""
    from confluent_kafka import Consumer, TopicPartition

    admin = kafka.admin(settings, "health", socket_timeout_ms=2000)
    md = admin.list_topics(timeout=settings.health_check_timeout_s)
    lags: dict[str, int | None] = {}
    positions: dict[str, dict[int, tuple[int, int]]] = {}
    readers: dict[str, Consumer] = {}

    def reader(group: str) -> Consumer:
        if group not in readers:
            readers[group] = kafka.consumer(settings, "health", group)
        return readers[group]

    groups = {
        "worker": live_worker_group(settings),
        "fetch": fetch_group(settings),
        "sink": settings.group_prefix + "sink",
    }
    try:
        for stage, (group_key, short) in STAGES.items():
            topic = settings.topic(short)
            if topic not in md.topics:
                lags[stage] = None
                continue
            consumer = reader(groups[group_key])
            tps = [TopicPartition(topic, p) for p in md.topics[topic].partitions]
            stage_partitions = {p: pos for (_, p), pos in kafka.group_positions(consumer, tps).items()}
            lags[stage] = sum(lag for _, lag in stage_partitions.values())
            positions[stage] = stage_partitions
        members: dict[str, int] = {}
        for key, group in groups.items():
            desc = admin.describe_consumer_groups([group])[group].result()
            members[key] = len(desc.members)
    finally:
        for consumer in readers.values():
            consumer.close()
    return {"lags": lags, "members": members, "positions": positions}


def _db_probe(settings: Settings) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(settings.database_dsn(), connect_timeout=2, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 2000")
        row = conn.execute(
            "SELECT (SELECT count(*) FROM ingested_events WHERE outcome = 'dead_lettered'),"
            " (SELECT count(*) FROM latest_metrics),"
            " (SELECT count(*) FILTER (WHERE confidence >= %s) FROM latest_metrics),"
            " (SELECT avg(confidence) FROM latest_metrics)",
            (settings.scoring_model().high_confidence_threshold,),
        ).fetchone()
    assert row is not None
    dead, total, high, avg = row
    return {
        "dead_letters": int(dead),
        "latest": int(total),
        "high": int(high),
        "avg": float(avg) if avg is not None else None,
    }


PROCESS_WATCH = OffsetWatch()
"""This process's memory of when each stage's committed offsets last moved (see :mod:`vitalstream.stuck`)."""


def stuck_stages(
    watch: OffsetWatch, positions: dict[str, dict[int, tuple[int, int]]], now: float, stuck_after_s: float
) -> dict[str, list[dict[str, Any]]]:
    """``{stage: [stuck partition, …]}`` for every stage with at least one stuck partition."""
    found: dict[str, list[dict[str, Any]]] = {}
    for stage, partitions in positions.items():
        stuck = watch.observe(stage, partitions, now, stuck_after_s)
        if stuck:
            found[stage] = [p.as_dict() for p in stuck]
    return found


async def compute(
    settings: Settings,
    webhook_stats: WebhookStats | None = None,
    gateway_probe: Callable[[], Awaitable[bool]] | None = None,
    watch: OffsetWatch = PROCESS_WATCH,
) -> dict[str, Any]:
    timeout = settings.health_check_timeout_s
    kafka, db = await asyncio.gather(
        _timed(lambda: _kafka_probe(settings), timeout * 2), _timed(lambda: _db_probe(settings), timeout)
    )
    checks: dict[str, Any] = {
        "kafka": "ok" if kafka.ok else f"error: {kafka.error}",
        "kafka_latency_ms": kafka.latency_ms,
        "database": "ok" if db.ok else f"error: {db.error}",
        "database_latency_ms": db.latency_ms,
    }
    status = "healthy"
    reasons: list[str] = []

    def worse(level: str, why: str) -> None:
        nonlocal status
        reasons.append(why)
        if level == "unhealthy" or status == "healthy":
            status = level

    if not kafka.ok:
        worse("unhealthy", "kafka unreachable")
    if not db.ok:
        worse("unhealthy", "database unreachable")
    lags: dict[str, int | None] = kafka.value["lags"] if kafka.ok else {s: None for s in STAGES}
    members: dict[str, int] = kafka.value["members"] if kafka.ok else {}
    checks["workers"] = (
        "ok"
        if members.get("worker") and members.get("sink")
        else (
            "unknown" if not kafka.ok else "missing: " + ", ".join(k for k in ("worker", "sink") if not members.get(k))
        )
    )
    if kafka.ok and checks["workers"] != "ok":
        worse("degraded", checks["workers"])
    checks["consumer_lag"] = lags
    stuck = (
        stuck_stages(watch, kafka.value["positions"], time.monotonic(), settings.health_stuck_after_s)
        if kafka.ok
        else {}
    )
    checks["stuck"] = stuck
    for stage, partitions in stuck.items():
        where = ", ".join(f"partition {p['partition']} at offset {p['offset']}" for p in partitions)
        worse("unhealthy", f"{stage} stuck ({where})")
    pending = sum(v for v in lags.values() if v is not None)
    checks["pendingEvents"] = pending
    if pending >= settings.health_lag_unhealthy:
        worse("unhealthy", "lag above the unhealthy threshold")
    elif pending >= settings.health_lag_degraded:
        worse("degraded", "lag above the degraded threshold")
    if db.ok:
        v = db.value
        checks["deadLetters"] = v["dead_letters"]
        checks["highConfidenceRate"] = round(100 * v["high"] / v["latest"], 1) if v["latest"] else None
        checks["avgConfidence"] = round(v["avg"], 1) if v["avg"] is not None else None
        if v["dead_letters"] >= settings.health_dlq_degraded:
            worse("degraded", "dead letters pending")
    else:
        checks.update(deadLetters=None, highConfidenceRate=None, avgConfidence=None)
    if webhook_stats is not None:
        ok, answered = webhook_stats()
        rate = round(100 * ok / answered, 1) if answered else 100.0
        checks["webhookSuccessRate"] = rate
        checks["webhookStatus"] = "ok" if rate >= settings.health_webhook_success_degraded else "degraded"
        if checks["webhookStatus"] != "ok":
            worse("degraded", "webhook success rate below threshold")
    elif gateway_probe is not None:
        up = await gateway_probe()
        checks["webhookSuccessRate"] = None
        checks["webhookStatus"] = "ok" if up else "unreachable"
        if not up:
            worse("unhealthy", "gateway unreachable")
    doc: dict[str, Any] = {
        "status": status,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "checks": checks,
    }
    if reasons:
        doc["reasons"] = reasons
    return doc


class HealthCache:
    """One computation at a time; the result reused for ``health_cache_s``."""

    def __init__(self, settings: Settings, webhook_stats: WebhookStats | None = None) -> None:
        self._settings = settings
        self._stats = webhook_stats
        self._doc: dict[str, Any] | None = None
        self._at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> dict[str, Any]:
        async with self._lock:
            if self._doc is None or time.monotonic() - self._at > self._settings.health_cache_s:
                self._doc = await compute(self._settings, self._stats)
                self._at = time.monotonic()
            return self._doc


def http_status(doc: dict[str, Any]) -> int:
    return 503 if doc["status"] == "unhealthy" else 200
