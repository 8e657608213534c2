"""The fetch stage's throughput for Terra pings (part of ``vitalstream bench backfill``).

A burst of ``s3_payload`` pings is posted to the gateway, each naming its own payload on a local
HTTP server (the bench's stand-in for Terra's bucket; the worker runs with
``VITALSTREAM_FETCH_ALLOW_PRIVATE`` so it may fetch from 127.0.0.1). The server notes when each
payload is requested: per ping, its 202 → its download started, the downloads per second over the
burst, and the time until every ping's values are visible in ``latest_metrics``.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import aiohttp
import orjson
import psycopg

from gateway.signatures import terra_header
from vitalstream.bench import payloads
from vitalstream.bench.stats import summary

PINGS = 2000
QUICK_PINGS = 300
SENDERS = 32


class _Bucket:
    """Payload ``/<index>`` of the run; the first request time of each index."""

    def __init__(self, run: str, count: int) -> None:
        self.bodies = [payloads.body(run, i, unique=True) for i in range(count)]
        self.requested: dict[int, float] = {}
        self._lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        bucket = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/").partition("?")[0]
                index = int(name) if name.isdigit() else -1
                if not 0 <= index < len(bucket.bodies):
                    self.send_response(404)
                    self.end_headers()
                    return
                with bucket._lock:
                    bucket.requested.setdefault(index, time.monotonic())
                body = bucket.bodies[index]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@contextmanager
def _serving(bucket: _Bucket) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), bucket.handler())
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="ping-bucket", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _post_pings(gateway: str, secret: str, base: str, run: str, count: int) -> dict[int, float]:
    """Every ping posted (``SENDERS`` at a time); the 202 time of each accepted one."""
    accepted: dict[int, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def sender(http: aiohttp.ClientSession) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            doc = {
                "type": "s3_payload",
                "status": "success",
                "url": f"{base}/{i}?X-Amz-Expires=600&X-Amz-Signature=bench",
                "expires_in": 600,
                "user": {"user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{i}"))},
            }
            body = orjson.dumps(doc)
            signature = terra_header(secret, int(time.time()), body)
            headers = {"Content-Type": "application/json", "terra-signature": signature}
            try:
                async with http.post(gateway, data=body, headers=headers) as resp:
                    if resp.status == 202:
                        accepted[i] = time.monotonic()
            except (aiohttp.ClientError, TimeoutError):
                continue

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        await asyncio.gather(*(sender(http) for _ in range(SENDERS)))
    return accepted


def _visible_at(dsn: str, subjects: list[str], timeout_s: float) -> tuple[float | None, int]:
    """When every subject had a row in ``latest_metrics`` (None on timeout), and how many did."""
    deadline = time.monotonic() + timeout_s
    seen = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(DISTINCT subject) FROM latest_metrics WHERE subject = ANY(%s)", (subjects,)
            ).fetchone()
            seen = int(row[0]) if row else 0
            if seen == len(subjects):
                return time.monotonic(), seen
            time.sleep(0.05)
    return None, seen


def ping_throughput(gateway: str, secret: str, dsn: str, count: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    bucket = _Bucket(run, count)
    with _serving(bucket) as base:
        started = time.monotonic()
        accepted = asyncio.run(_post_pings(gateway, secret, base, run, count))
        posted = time.monotonic()
        done_at, visible = _visible_at(dsn, [payloads.subject_of(run, i) for i in accepted], timeout_s=120.0)
    fetched = sorted(bucket.requested.values())
    span = fetched[-1] - fetched[0] if len(fetched) > 1 else 0.0
    waits = [(bucket.requested[i] - t) * 1000 for i, t in accepted.items() if i in bucket.requested]
    return {
        "pings": count,
        "accepted": len(accepted),
        "fetched": len(bucket.requested),
        "visible": visible,
        "post_seconds": round(posted - started, 2),
        "fetches_per_s": round((len(fetched) - 1) / span, 1) if span > 0 else None,
        "accept_to_fetch_ms": summary(waits),
        "all_visible_after_s": None if done_at is None else round(done_at - started, 2),
        "visible_per_s": None if done_at is None else round(visible / (done_at - started), 1),
    }
