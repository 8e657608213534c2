"""``vitalstream bench backfill``: live accept → visible while a backfill runs, beside the same load without it.

Gateway, worker and sink run as their own processes (as ``bench e2e``). Live 1 KB webhooks
arrive open-loop at ``RATE``/s, each for a subject of its own, for ``duration`` seconds: once
with nothing else going on (idle), then again while a sender posts a Terra large request —
chunks of random-valued heart-rate samples (trace ids ``<reference>:chunk:<n>``, so the
gateway routes them to ``webhooks.backfill``) totalling ``backfill_mb`` — as fast as the
gateway takes them. Target: the live p99 with the backfill within ``TARGET_RATIO`` × idle.
Between the two, the fetch stage's throughput for pings (:mod:`vitalstream.bench.ping_bench`).
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

import aiohttp
import psycopg

from gateway.signatures import terra_header
from vitalstream.bench import budget
from vitalstream.bench.e2e import LATEST_SQL, measure, warm_up
from vitalstream.bench.payloads import heart_rate_chunk
from vitalstream.bench.ping_bench import PINGS, QUICK_PINGS, ping_throughput
from vitalstream.bench.stack import BenchStack

RATE = 250
WARM_S = 30.0
"""Live load before the idle window: with 5 s the idle p99 ranged 0.35–2.3 s over six runs (startup transients)."""
COMMIT_HISTOGRAM = "vitalstream_sink_commit_seconds"
SLICE_S = 10.0
"""The live freshness is also reported per slice of this many seconds of each window."""
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


FULL = BackfillPlan(duration_s=60.0, backfill_mb=110, chunk_mb=2.0)
"""110 MiB asked: a chunk comes out a little under its target size, and at least 100 MB must be sent."""
QUICK = BackfillPlan(duration_s=8.0, backfill_mb=4, chunk_mb=0.5)


@dataclass
class ChunkSender:
    """Posts one large request's chunks to the gateway from a process of its own (building and
    signing megabytes of JSON in the bench's process would hold its interpreter lock, and with it
    the poller that times the live webhooks). The chunks are built before :meth:`start` returns
    — Terra builds them on its own machines, so their CPU is no part of the measured window —
    and posted from :meth:`go` on; :meth:`report` says what was accepted."""

    url: str
    secret: str
    plan: BackfillPlan
    _pipe: Pipe | None = None
    _process: Any = None

    def start(self, timeout_s: float = 300.0) -> None:
        ctx = mp.get_context("spawn")
        self._pipe, child = ctx.Pipe()
        self._process = ctx.Process(target=send_chunks, args=(self.url, self.secret, self.plan, child), daemon=True)
        self._process.start()
        if not self._pipe.poll(timeout_s) or self._pipe.recv() != "built":
            raise RuntimeError(f"the backfill sender did not build its chunks within {timeout_s:.0f} s")

    def go(self) -> None:
        assert self._pipe is not None
        self._pipe.send("go")

    def report(self, timeout_s: float) -> dict[str, Any]:
        """The sender's counts once it is done (or an error after ``timeout_s``)."""
        assert self._pipe is not None and self._process is not None
        try:
            if self._pipe.poll(timeout_s):
                result: dict[str, Any] = self._pipe.recv()
                return result
            return {"error": f"the backfill sender did not finish within {timeout_s:.0f} s"}
        finally:
            self._process.join(5)
            if self._process.is_alive():
                self._process.kill()


def send_chunks(url: str, secret: str, plan: BackfillPlan, pipe: Pipe) -> None:
    """The sender process: every chunk built, then (on "go") posted in turn, as fast as the gateway takes them."""
    user = f"backfill-{uuid.uuid4().hex[:8]}"
    chunks = [heart_rate_chunk(user, int(plan.chunk_mb * MB), seed=n, start_s=n * 10**6) for n in range(plan.chunks)]
    pipe.send("built")
    pipe.recv()
    pipe.send(asyncio.run(_send(url, secret, user, chunks)))


async def _send(url: str, secret: str, user: str, chunks: list[tuple[bytes, int]]) -> dict[str, Any]:
    reference = uuid.uuid4().hex
    statuses: dict[int, int] = {}
    accepted_bytes = samples = 0
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        for n, (body, chunk_samples) in enumerate(chunks):
            headers = {
                "Content-Type": "application/json",
                "terra-signature": terra_header(secret, int(time.time()), body),
                "X-Terra-Trace-Id": f"{reference}:chunk:{n}",
                "terra-reference": reference,
            }
            try:
                async with http.post(url, data=body, headers=headers) as resp:
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            statuses[status] = statuses.get(status, 0) + 1
            if status == 202:
                accepted_bytes += len(body)
                samples += chunk_samples
    return {
        "subject": user,
        "chunks": len(chunks),
        "chunk_mb": round(sum(len(body) for body, _ in chunks) / len(chunks) / MB, 2),
        "accepted_mb": round(accepted_bytes / MB, 1),
        "samples": samples,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "send_seconds": round(time.monotonic() - started, 1),
    }


def _stored(dsn: str, subject: str | None) -> int | None:
    """The backfill's observations in PostgreSQL by now: the lane kept moving beside the live load."""
    if subject is None:
        return None
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM observations WHERE subject = %s", (subject,)).fetchone()
    return int(row[0]) if row else 0


def verdict(idle_p99: float | None, backfill_p99: float | None, not_visible: int) -> dict[str, Any]:
    """The live p99 with the backfill against ``TARGET_RATIO`` × the idle p99 (pure)."""
    ratio = None if not idle_p99 or backfill_p99 is None else backfill_p99 / idle_p99
    return {
        "p99_ratio": None if ratio is None else round(ratio, 2),
        "target": {"p99_ratio_max": TARGET_RATIO},
        "target_met": ratio is not None and ratio <= TARGET_RATIO and not_visible == 0,  # unrounded: 1.504 is over
    }


def bench_backfill(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    settings = stack.phase("backfill")
    stack.envs["backfill"]["VITALSTREAM_FETCH_ALLOW_PRIVATE"] = "1"  # the pings' bucket is on 127.0.0.1
    for service in ("worker", "sink", "gateway"):
        stack.spawn("backfill", service)
    port, dsn = settings.gateway_port, settings.database_dsn()
    gateway = f"http://127.0.0.1:{port}/webhooks/terra"

    urls = budget.metrics_urls(port, settings.sink_metrics_port)

    def live() -> dict[str, Any]:
        """The live load's freshness, and per hop where its time went (live rows only; the backfill's apart)."""
        before = budget.pages(urls)
        result = measure(
            dsn,
            "127.0.0.1",
            port,
            stack.terra_secret,
            LATEST_SQL,
            RATE,
            plan.duration_s,
            settle_s=60.0,
            slice_s=SLICE_S,
        )
        after = budget.pages(urls)
        for key, lane in (("budget", "live"), ("backfill_budget", "backfill")):
            result[key] = budget.report(budget.merged(before, lane), budget.merged(after, lane))
        # the sink's transactions, whatever they carried: a slow database shows here, not in the lane
        sink = urls[1]
        result["sink_commits"] = budget.summary(
            budget.histogram(before.get(sink, ""), COMMIT_HISTOGRAM),
            budget.histogram(after.get(sink, ""), COMMIT_HISTOGRAM),
        )
        return result

    try:
        # 30 s at the live rate first: with 5 s the idle p99 ranged from 0.35 to 2.3 s (design §14)
        warm = warm_up(
            dsn, port, stack.terra_secret, timeout_s=120.0, rate=RATE, seconds=WARM_S, brokers=stack.broker_pids()
        )
        if not warm.get("accepted") or warm.get("not_visible"):
            return {"error": "the pipeline did not make warm-up webhooks visible within 120 s", "warm_up": warm}
        idle = live()
        progress("backfill: live load alone", idle)
        pings = ping_throughput(gateway, stack.terra_secret, dsn, QUICK_PINGS if quick else PINGS)
        progress("backfill: pings fetched", pings)
        sender = ChunkSender(gateway, stack.terra_secret, plan)
        sender.start()
        sender.go()
        busy = live()
        sent = sender.report(600.0)
        sent["samples_stored_after_live_window"] = _stored(dsn, sent.get("subject"))
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
        "backfill": sent,
        "pings": pings,
        "ping_fetches_per_s": pings.get("fetches_per_s"),
        "idle_p50_ms": idle_f["p50"],
        "idle_p99_ms": idle_f["p99"],
        "backfill_p50_ms": busy_f["p50"],
        "backfill_p99_ms": busy_f["p99"],
        **verdict(idle_f["p99"], busy_f["p99"], busy["not_visible"]),
    }
