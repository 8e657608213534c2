"""``vitalstream bench api``: the read API under open-loop load, beside a bare aiohttp + psycopg
handler running the same query, and the live stream's delivery latency.

``GET /v1/subjects/{s}/metrics`` over 100,000 subjects (3 metrics each, seeded by COPY) at
1,000 and 2,000 requests/s, every request another subject, with a valid key (the API checks
it, its rate limit, the subject's glob, and computes the ETag). The stream: ``streams``
subscribers on one API process, LatestMetric records produced to ``metrics.latest`` at a
steady rate; the latency is produce → event parsed by the subscriber (the API's own share;
the table's freshness is the e2e bench's figure).
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
import psycopg
from confluent_kafka import TopicPartition

from schemas.records import LatestMetric
from vitalstream.api import keystore
from vitalstream.bench.loadgen import LoadSpec, Route, run_load
from vitalstream.bench.stack import BenchStack
from vitalstream.bench.stats import summary
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.stack.ports import free_port, wait_port

SUBJECTS = 100_000
METRICS = (("heart_rate", "beats/min", 62.0), ("body_weight", "kg", 71.5), ("step_count", "steps", 8400.0))
RATES = (1000, 2000)
TARGET_P99_MS_AT_2000 = 10.0
TARGET_SSE_ADDED_P99_MS = 50.0
Progress = Callable[[str, dict[str, Any]], None]


def seed(dsn: str, subjects: int) -> None:
    now = datetime.now(UTC).isoformat()
    buf = io.StringIO()
    for n in range(subjects):
        for metric, unit, value in METRICS:
            buf.write(f"bench-{n}\t{metric}\t{value + n % 7}\t{unit}\t{now}\tGARMIN\t81.5\tgood\t0.8\te{n}\t{now}\n")
    with psycopg.connect(dsn, autocommit=True) as conn:
        with conn.cursor().copy(
            "COPY latest_metrics (subject, metric, value, unit, measured_at, provider, confidence, level, "
            "reliability, event_id, ordering_ts) FROM STDIN"
        ) as copy:
            copy.write(buf.getvalue())
        conn.execute("ANALYZE latest_metrics")


def sweep(
    port: int, headers: tuple[tuple[bytes, bytes], ...], duration: float, progress: Progress, label: str
) -> list[dict[str, Any]]:
    route = Route("/v1/subjects/bench-{n}/metrics", method="GET", headers=headers, spread=SUBJECTS)
    run_load(LoadSpec("127.0.0.1", port, 300, 1.0, "", "warm", routes=(route,), connections=32))
    points = []
    for rate in RATES:
        point = run_load(
            LoadSpec("127.0.0.1", port, rate, duration, "", label, routes=(route,), connections=32)
        ).report()
        point.pop("routes", None)
        points.append(point)
        progress(f"{label} {rate}/s", point)
    return points


class RawReader:
    """The ceiling of the stream: a bare confluent-kafka consumer on the same topic, same records."""

    def __init__(self, settings: Settings, sent: dict[str, float]) -> None:
        self.latencies: list[float] = []
        self._sent = sent
        self._stop = threading.Event()
        self._codec = codec_for(settings)
        self._client = kafka.consumer(settings, "bench-raw", None, **{"fetch.wait.max.ms": 50})
        topic = settings.topic("metrics.latest")
        self._client.assign(
            [
                TopicPartition(topic, p, kafka.watermarks(self._client, topic, p)[1])
                for p in kafka.partitions_of(self._client, topic)
            ]
        )
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for msg in self._client.consume(500, timeout=0.1):
                value = msg.value()
                if msg.error() is None and value is not None:
                    mark = self._codec.decode_as(value, LatestMetric).provider
                    if mark in self._sent:
                        self.latencies.append((time.monotonic() - self._sent[mark]) * 1000)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.close()


async def _stream_latency(url: str, key: str, settings: Settings, streams: int, events: int) -> dict[str, Any]:
    """``streams`` subscribers (one subject each); ``events`` records produced, 50 per second."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    ready = 0

    async def subscriber(http: aiohttp.ClientSession, n: int) -> None:
        nonlocal ready
        headers = {"Authorization": f"Bearer {key}"}
        async with http.get(f"{url}/v1/stream", params={"subject": f"sse-{n}"}, headers=headers) as resp:
            async for raw in resp.content:
                line = raw.decode().strip()
                if line.startswith("event: ready"):
                    ready += 1
                elif line.startswith("data: "):
                    data = orjson.loads(line[6:])
                    mark = data.get("provider", "")
                    if mark in sent:
                        latencies.append((time.monotonic() - sent[mark]) * 1000)

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as http:
        tasks = [asyncio.create_task(subscriber(http, n)) for n in range(streams)]
        deadline = time.monotonic() + 60
        while ready < streams and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        raw = RawReader(settings, sent)
        producer = kafka.producer(settings, "bench-api", **{"linger.ms": 0})
        codec = codec_for(settings)
        topic = settings.topic("metrics.latest")
        for i in range(events):
            n = i % streams
            mark = f"P{i}"
            now = datetime.now(UTC)
            record = LatestMetric(
                f"sse-{n}", "heart_rate", 60.0 + i % 9, "beats/min", now, mark, 80.0, "good", f"e{i}", now, now
            )
            sent[mark] = time.monotonic()
            producer.produce(topic, key=f"sse-{n}|heart_rate".encode(), value=codec.encode(record))
            producer.poll(0)
            await asyncio.sleep(0.02)
        producer.flush(10)
        await asyncio.sleep(3.0)
        raw.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "streams": streams,
        "streams_ready": ready,
        "events": events,
        "delivered": len(latencies),
        "latency_ms": summary(latencies),
        "ceiling_latency_ms": summary(raw.latencies),
    }


def _rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def bench_api(stack: BenchStack, quick: bool, progress: Progress) -> dict[str, Any]:
    from vitalstream.stack.reader import reader_url

    settings = stack.phase("api")
    env = stack.envs["api"]
    owner = env["VITALSTREAM_DATABASE_URL"]
    seed(owner, SUBJECTS)
    key = keystore.create(owner, f"bench-{uuid.uuid4().hex[:6]}", ("*",), ("read", "stream")).token
    base, _, query = owner.partition("?")
    login = reader_url(base, stack.terra_secret)
    reader = f"{login}?{query}" if login else owner
    port = free_port()
    env |= {
        "VITALSTREAM_API_PORT": str(port),
        "VITALSTREAM_API_RATE_PER_S": "1000000",
        "VITALSTREAM_API_RATE_BURST": "1000000",
        "VITALSTREAM_API_DATABASE_URL": reader,
    }
    pid = stack.spawn("api", "api")
    duration = 4.0 if quick else 15.0
    try:
        if not wait_port(port, timeout_s=30):
            raise RuntimeError(f"the api did not start: {stack.log_tail('api/api')}")
        headers = ((b"Authorization", f"Bearer {key}".encode()),)
        api_points = sweep(port, headers, duration, progress, "api")
        streams = 200 if quick else 1000
        stream = asyncio.run(
            _stream_latency(f"http://127.0.0.1:{port}", key, settings, streams, 200 if quick else 1000)
        )
        stream["api_rss_mib_with_streams"] = _rss_mib(pid)
        progress("stream", stream)
    finally:
        stack.stop("api/api")
    cport = free_port()
    stack.spawn_module(
        "api-ceiling",
        ["vitalstream.bench.api_ceiling", str(cport), reader],
        port=cport,
    )
    try:
        ceiling_points = sweep(cport, (), duration, progress, "ceiling")
    finally:
        stack.stop("api-ceiling")
    at2000 = next((p for p in api_points if p["offered_per_s"] == 2000), None)
    ceil2000 = next((p for p in ceiling_points if p["offered_per_s"] == 2000), None)
    p99 = at2000["latency_ms"]["p99"] if at2000 else None
    return {
        "what": f"read API: GET /v1/subjects/{{s}}/metrics over {SUBJECTS:,} subjects (3 metrics each), "
        "key checked, open loop",
        "ceiling": "bare aiohttp + psycopg pool handler running the same query, same generator",
        "duration_per_rate_s": duration,
        "p99_ms_at_2000": p99,
        "ceiling_p99_ms_at_2000": ceil2000["latency_ms"]["p99"] if ceil2000 else None,
        "api_points": api_points,
        "ceiling_points": ceiling_points,
        "stream": stream,
        "sse_p99_ms": stream["latency_ms"].get("p99"),
        "sse_ceiling_p99_ms": stream["ceiling_latency_ms"].get("p99"),
        "method": "stream latency: a LatestMetric produced to metrics.latest → its event parsed by the subscribed "
        "client, 50 records/s over the open streams; its ceiling: a bare confluent-kafka consumer reading the same "
        "records in the same run (the broker's own produce → consume time)",
        "targets": {"p99_ms_at_2000": TARGET_P99_MS_AT_2000, "sse_added_p99_ms": TARGET_SSE_ADDED_P99_MS},
        "target_p99_met": p99 is not None and p99 <= TARGET_P99_MS_AT_2000,
        "cpu_count": os.cpu_count(),
    }
