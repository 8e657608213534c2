"""``vitalstream bench backfill``: live accept → visible while a backfill runs, beside the same load without it.

Gateway, worker and sink run as their own processes (as ``bench e2e``). Live 1 KB webhooks
arrive open-loop at ``RATE``/s, each for a subject of its own, for ``duration`` seconds: once
with nothing else going on (idle), then again while a sender posts a Terra large request —
chunks of random-valued heart-rate samples (trace ids ``<reference>:chunk:<n>``, so the
gateway routes them to ``webhooks.backfill``) totalling ``backfill_mb`` — as fast as the
gateway takes them. Target: the live p99 with the backfill within ``TARGET_RATIO`` × idle.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from gateway.signatures import terra_header
from vitalstream.bench.e2e import LATEST_SQL, measure, warm_up
from vitalstream.bench.payloads import heart_rate_chunk
from vitalstream.bench.stack import BenchStack

RATE = 250
TARGET_RATIO = 1.5
MB = 1024 * 1024

Progress = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True, slots=True)
class BackfillPlan:
    duration_s: float
    backfill_mb: int
    chunk_mb: float

    @property
    def chunks(self) -> int:
        return max(1, round(self.backfill_mb / self.chunk_mb))


FULL = BackfillPlan(duration_s=60.0, backfill_mb=100, chunk_mb=2.0)
QUICK = BackfillPlan(duration_s=8.0, backfill_mb=4, chunk_mb=0.5)


@dataclass
class ChunkSender:
    """Posts one large request's chunks to the gateway from a thread; counts what was accepted."""

    url: str
    secret: str
    plan: BackfillPlan
    statuses: dict[int, int] = field(default_factory=dict)
    bytes_sent: int = 0
    samples: int = 0
    seconds: float = 0.0
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="backfill-sender", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout_s)

    def _run(self) -> None:
        asyncio.run(self._send())

    async def _send(self) -> None:
        reference, user = uuid.uuid4().hex, f"backfill-{uuid.uuid4().hex[:8]}"
        started = time.monotonic()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            for n in range(self.plan.chunks):
                body, samples = heart_rate_chunk(user, int(self.plan.chunk_mb * MB), seed=n, start_s=n * 10**6)
                headers = {
                    "Content-Type": "application/json",
                    "terra-signature": terra_header(self.secret, int(time.time()), body),
                    "X-Terra-Trace-Id": f"{reference}:chunk:{n}",
                    "terra-reference": reference,
                }
                try:
                    async with http.post(self.url, data=body, headers=headers) as resp:
                        status = resp.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 202:
                    self.bytes_sent += len(body)
                    self.samples += samples
        self.seconds = time.monotonic() - started

    def report(self) -> dict[str, Any]:
        return {
            "chunks": self.plan.chunks,
            "chunk_mb": self.plan.chunk_mb,
            "accepted_mb": round(self.bytes_sent / MB, 1),
            "samples": self.samples,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "send_seconds": round(self.seconds, 1),
        }


def verdict(idle_p99: float | None, backfill_p99: float | None, not_visible: int) -> dict[str, Any]:
    """The live p99 with the backfill against ``TARGET_RATIO`` × the idle p99 (pure)."""
    ratio = None if not idle_p99 or backfill_p99 is None else round(backfill_p99 / idle_p99, 2)
    return {
        "p99_ratio": ratio,
        "target": {"p99_ratio_max": TARGET_RATIO},
        "target_met": ratio is not None and ratio <= TARGET_RATIO and not_visible == 0,
    }


def bench_backfill(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    settings = stack.phase("backfill")
    for service in ("worker", "sink", "gateway"):
        stack.spawn("backfill", service)
    port, dsn = settings.gateway_port, settings.database_dsn()
    gateway = f"http://127.0.0.1:{port}/webhooks/terra"

    def live() -> dict[str, Any]:
        return measure(dsn, "127.0.0.1", port, stack.terra_secret, LATEST_SQL, RATE, plan.duration_s, settle_s=60.0)

    try:
        warm = warm_up(dsn, port, stack.terra_secret, timeout_s=120.0)
        if not warm.get("accepted") or warm.get("not_visible"):
            return {"error": "the pipeline did not make warm-up webhooks visible within 120 s", "warm_up": warm}
        idle = live()
        progress("backfill: live load alone", idle)
        sender = ChunkSender(gateway, stack.terra_secret, plan)
        sender.start()
        busy = live()
        sender.join(600.0)
        progress("backfill: live load beside the backfill", busy)
    finally:
        for service in ("gateway", "worker", "sink"):
            stack.stop(f"backfill/{service}")
    idle_f, busy_f = idle["freshness_ms"], busy["freshness_ms"]
    return {
        "what": "live accept (202) → row visible in latest_metrics at "
        f"{RATE}/s, alone and while a {plan.backfill_mb} MB backfill of chunks runs",
        "idle": idle,
        "with_backfill": busy,
        "backfill": sender.report(),
        "idle_p50_ms": idle_f["p50"],
        "idle_p99_ms": idle_f["p99"],
        "backfill_p50_ms": busy_f["p50"],
        "backfill_p99_ms": busy_f["p99"],
        **verdict(idle_f["p99"], busy_f["p99"], busy["not_visible"]),
    }
