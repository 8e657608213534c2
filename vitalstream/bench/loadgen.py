"""Open-loop load generator: fixed arrival rate, latency from each request's *scheduled* time.

Request *i* is due at ``start + i / rate`` whatever earlier answers took; when every
connection is busy it waits in a backlog and that wait counts in its latency, so queueing
shows in the percentiles (no coordinated omission). Requests are pre-built bytes; the Terra
signature is computed once per (body, second). The load runs in 1–N worker processes
(``spawn``), never on the event loop of the server it measures; request *i* belongs to
process ``i % N``. How late requests left their process (``send_lag``) tells whether the
generator itself kept up.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

from vitalstream.bench import payloads, wire
from vitalstream.bench.stats import percentile, summary


@dataclass(frozen=True)
class Route:
    path: str
    weight: float = 1.0
    method: str = "POST"
    """POST: a signed Terra webhook; GET: a plain request (health probes, the read API)."""
    headers: tuple[tuple[bytes, bytes], ...] = ()
    """Extra headers of a GET (``Authorization`` for the read API)."""
    spread: int = 0
    """A GET whose ``path`` has ``{n}``: request *i* asks for ``n = i % spread`` (many subjects)."""


TERRA = Route("/webhooks/terra")


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    rate: float
    duration_s: float
    secret: str
    run: str
    routes: tuple[Route, ...] = (TERRA,)
    connections: int = 64
    """Keep-alive connections per process."""
    processes: int = 1
    unique_subjects: bool = False
    """Every webhook its own subject (end-to-end freshness); else a pool of ``body_pool`` bodies."""
    body_pool: int = 256
    timeout_s: float = 10.0

    @property
    def total(self) -> int:
        return max(1, round(self.rate * self.duration_s))

    @property
    def pool_size(self) -> int:
        """Bodies cycled through: at least ``body_pool``, and more than one second's worth.

        A signature covers the body and its second, and the gateway answers the same signed
        body twice as a replay (200, nothing produced): a body must not come round again
        within a second, or the bench measures duplicates instead of durable accepts."""
        return min(self.total, max(self.body_pool, math.ceil(self.rate) + 1))


@dataclass
class ProcResult:
    index: list[int] = field(default_factory=list)
    route: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    latency_ms: list[float] = field(default_factory=list)
    done_at: list[float] = field(default_factory=list)
    """``time.monotonic()`` when the answer arrived (system-wide clock: comparable across processes)."""
    send_lag_ms: list[float] = field(default_factory=list)
    """How late the generator's scheduler picked each request up (its own lateness, not the server's)."""


@dataclass
class LoadResult:
    spec: LoadSpec
    started: float
    results: ProcResult

    @property
    def sent(self) -> int:
        return len(self.results.status)

    def count(self, *statuses: int) -> int:
        return sum(1 for s in self.results.status if s in statuses)

    def ok(self) -> int:
        return sum(1 for s in self.results.status if 200 <= s < 300)

    def elapsed_s(self) -> float:
        return max(self.results.done_at, default=self.started) - self.started

    def per_second(self, *statuses: int) -> float:
        n = self.count(*statuses) if statuses else self.ok()
        return n / self.elapsed_s() if self.elapsed_s() > 0 else 0.0

    def accepted(self) -> list[tuple[int, float]]:
        """(request index, answer time) of every 2xx acceptance (202; 200 for the earlier design's handler)."""
        r = self.results
        return [(i, t) for i, s, t in zip(r.index, r.status, r.done_at, strict=True) if s in (200, 202)]

    def report(self) -> dict[str, Any]:
        r = self.results
        by_status: dict[str, int] = {}
        for s in r.status:
            by_status[str(s)] = by_status.get(str(s), 0) + 1
        routes: dict[str, Any] = {}
        for n, route in enumerate(self.spec.routes):
            lat = [x for x, k in zip(r.latency_ms, r.route, strict=True) if k == n]
            good = sum(1 for s, k in zip(r.status, r.route, strict=True) if k == n and 200 <= s < 300)
            routes[f"{route.method} {route.path}"] = {
                "requests": len(lat),
                "success_rate": round(100 * good / len(lat), 3) if lat else None,
                "latency_ms": summary(lat),
            }
        lag = percentile(r.send_lag_ms, 99)
        return {
            "offered_per_s": self.spec.rate,
            "duration_s": self.spec.duration_s,
            "requests": self.sent,
            "achieved_per_s": round(self.sent / self.elapsed_s(), 1) if self.elapsed_s() > 0 else 0.0,
            "ok_per_s": round(self.per_second(), 1),
            "accepted_per_s": round(self.per_second(202), 1),
            "success_rate": round(100 * self.ok() / self.sent, 3) if self.sent else 0.0,
            "by_status": by_status,
            "latency_ms": summary(r.latency_ms),
            "routes": routes,
            "generator": {
                "processes": self.spec.processes,
                "connections_per_process": self.spec.connections,
                "send_lag_p99_ms": round(lag, 2),
                "kept_up": lag < 10.0,
            },
        }


# ------------------------------------------------------------------------------- one process


class _Sender:
    def __init__(self, spec: LoadSpec, proc: int) -> None:
        self.spec = spec
        self.proc = proc
        self.host = f"{spec.host}:{spec.port}"
        self.signer = payloads.Signer(spec.secret)
        slots: list[int] = []
        total_weight = sum(r.weight for r in spec.routes)
        for n, route in enumerate(spec.routes):
            slots += [n] * max(1, round(100 * route.weight / total_weight))
        self.slots = slots
        self.gets = {
            n: wire.get(r.path, self.host, r.headers)
            for n, r in enumerate(spec.routes)
            if r.method == "GET" and not r.spread
        }
        mine = range(proc, spec.total, spec.processes)
        pool = spec.total if spec.unique_subjects else spec.pool_size
        keys = mine if spec.unique_subjects else range(pool)
        self.bodies = {k: payloads.body(spec.run, k, spec.unique_subjects) for k in keys}
        self.pool = pool
        self.result = ProcResult()
        self.inflight: dict[int, int] = {}
        """request index → route index, until answered."""
        self.idle: deque[wire.Connection] = deque()
        self.backlog: deque[int] = deque()
        self.conns: list[wire.Connection] = []
        self.outstanding = 0
        self.start = 0.0
        self.finished: asyncio.Future[None] | None = None

    def request(self, index: int) -> tuple[int, bytes]:
        route = self.slots[index % len(self.slots)]
        spec_route = self.spec.routes[route]
        if spec_route.spread:
            path = spec_route.path.format(n=index % spec_route.spread)
            return route, wire.get(path, self.host, spec_route.headers)
        data = self.gets.get(route)
        if data is not None:
            return route, data
        key = index % self.pool
        body = self.bodies[key]
        headers = [
            (b"Content-Type", b"application/json"),
            (b"terra-signature", self.signer.header(key, body)),
            (b"X-Terra-Trace-Id", payloads.trace_id(self.spec.run, index).encode()),
        ]
        return route, wire.post(self.spec.routes[route].path, self.host, headers, body)

    def dispatch(self, conn: wire.Connection, index: int) -> None:
        route, data = self.request(index)
        self.inflight[index] = route
        conn.send(index, data)

    def _due(self, index: int) -> float:
        return self.start + index / self.spec.rate

    def answered(self, conn: wire.Connection, index: int, status: int) -> None:
        now = time.monotonic()
        r = self.result
        r.index.append(index)
        r.route.append(int(self.inflight.pop(index, 0)))
        r.status.append(status)
        r.latency_ms.append((now - self._due(index)) * 1000)
        r.done_at.append(now)
        self.outstanding -= 1
        if conn.transport is not None:
            if self.backlog:
                self.dispatch(conn, self.backlog.popleft())
            else:
                self.idle.append(conn)
        if self.outstanding == 0 and self.finished is not None and not self.finished.done():
            self.finished.set_result(None)

    def lost(self, conn: wire.Connection) -> None:
        with contextlib.suppress(ValueError):
            self.idle.remove(conn)
        asyncio.get_running_loop().create_task(self._reconnect())

    async def _connect(self) -> wire.Connection:
        loop = asyncio.get_running_loop()
        _, conn = await loop.create_connection(
            lambda: wire.Connection(self.answered, self.lost), self.spec.host, self.spec.port
        )
        await conn.ready
        self.conns.append(conn)
        return conn

    async def _reconnect(self) -> None:
        with contextlib.suppress(OSError):
            conn = await self._connect()
            if self.backlog:
                self.dispatch(conn, self.backlog.popleft())
            else:
                self.idle.append(conn)

    async def connect(self) -> None:
        for _ in range(self.spec.connections):
            self.idle.append(await self._connect())

    async def run(self, start: float) -> None:
        self.start = start
        loop = asyncio.get_running_loop()
        self.finished = loop.create_future()
        spec = self.spec
        mine = list(range(self.proc, spec.total, spec.processes))
        self.outstanding = len(mine)
        pos = 0
        while pos < len(mine):
            now = time.monotonic()
            while pos < len(mine) and self._due(mine[pos]) <= now:
                index = mine[pos]
                pos += 1
                self.result.send_lag_ms.append((now - self._due(index)) * 1000)
                if self.idle:
                    self.dispatch(self.idle.popleft(), index)
                else:
                    self.backlog.append(index)
            if pos < len(mine):
                await asyncio.sleep(max(0.0, self._due(mine[pos]) - time.monotonic()))
        last_due = self._due(mine[-1]) if mine else start
        with contextlib.suppress(TimeoutError):
            remaining = max(0.1, last_due + spec.timeout_s - time.monotonic())
            await asyncio.wait_for(asyncio.shield(self.finished), remaining)
        for index in list(self.backlog) + list(self.inflight):
            self._timeout(index)
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.abort()

    def _timeout(self, index: int) -> None:
        r = self.result
        r.index.append(index)
        r.route.append(int(self.inflight.pop(index, 0)))
        r.status.append(0)
        r.latency_ms.append((time.monotonic() - self._due(index)) * 1000)
        r.done_at.append(time.monotonic())


def _child(spec: LoadSpec, proc: int, pipe: Pipe) -> None:
    async def main() -> None:
        sender = _Sender(spec, proc)
        await sender.connect()
        pipe.send("ready")
        start = float(pipe.recv())
        await sender.run(start)
        pipe.send(sender.result)

    asyncio.run(main())


def _merge(parts: list[ProcResult]) -> ProcResult:
    out = ProcResult()
    for p in parts:
        out.index += p.index
        out.route += p.route
        out.status += p.status
        out.latency_ms += p.latency_ms
        out.done_at += p.done_at
        out.send_lag_ms += p.send_lag_ms
    return out


def _receive(pipe: Pipe, proc: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if pipe.poll(0.2):
            return pipe.recv()
        if not proc.is_alive():
            if pipe.poll(0):  # it sent its answer and exited between the two checks
                return pipe.recv()
            raise RuntimeError(f"load generator process exited with code {proc.exitcode}")
    raise RuntimeError("load generator process did not answer in time")


def run_load(spec: LoadSpec, lead_s: float = 0.3, on_start: Callable[[float], None] | None = None) -> LoadResult:
    """Run ``spec`` in ``spec.processes`` fresh processes; blocks until every answer (or timeout)."""
    ctx = mp.get_context("spawn")
    pipes: list[Pipe] = []
    procs = []
    for proc in range(spec.processes):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_child, args=(spec, proc, child), daemon=True)
        p.start()
        pipes.append(parent)
        procs.append(p)
    try:
        for pipe, p in zip(pipes, procs, strict=True):
            if _receive(pipe, p, 60) != "ready":
                raise RuntimeError("load generator process did not start")
        start = time.monotonic() + lead_s
        if on_start is not None:
            on_start(start)
        for pipe in pipes:
            pipe.send(start)
        wait = spec.duration_s + spec.timeout_s + 60
        parts = [_receive(pipe, p, wait) for pipe, p in zip(pipes, procs, strict=True)]
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    return LoadResult(spec, start, _merge(parts))
