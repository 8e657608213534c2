"""The read API's limits and its stream on the real broker: the per-key rate limit, partitions
added to ``metrics.latest`` while the API runs, and a stalled client dropped at its bound.

Records are produced straight to ``metrics.latest`` (what the worker writes), so each test
needs only Kafka, PostgreSQL (for the keys) and the API's own process.
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from confluent_kafka import Producer
from confluent_kafka.admin import NewPartitions  # type: ignore[attr-defined]

from schemas.records import LatestMetric
from tests.api_helpers import ApiProcess, SseEvent, SseReader, open_stream, start_api
from tests.fix_pipeline import pipeline_env
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings


def latest(subject: str, metric: str, value: float, provider: str = "GARMIN") -> LatestMetric:
    now = datetime.now(UTC)
    return LatestMetric(subject, metric, value, "beats/min", now, provider, 80.0, "good", f"e-{value}", now, now)


def produce(
    settings: Settings, records: list[LatestMetric], partition: int | None = None, client: Producer | None = None
) -> None:
    codec = codec_for(settings)
    topic = settings.topic("metrics.latest")
    out = [
        kafka.OutRecord(topic, codec.encode(r), f"{r.subject}|{r.metric}".encode(), partition=partition)
        for r in records
    ]
    kafka.produce_all(client or kafka.producer(settings, "test-api-stream"), out, timeout_s=30)


def test_a_key_over_its_rate_is_answered_429_with_retry_after(db_settings: Settings, tmp_path: Path) -> None:
    env = pipeline_env(db_settings, tmp_path)
    api = start_api(env, tmp_path, VITALSTREAM_API_RATE_PER_S="0.2", VITALSTREAM_API_RATE_BURST="3")
    try:
        busy, other = api.key("busy", "--subjects", "*"), api.key("other", "--subjects", "*")

        async def hammer() -> list[tuple[int, str, str | None, bytes]]:
            url = f"{api.url}/v1/subjects/nobody/metrics"
            out = []
            async with aiohttp.ClientSession() as http:
                for key in (busy,) * 5 + (other,):
                    async with http.get(url, headers={"Authorization": f"Bearer {key}"}) as resp:
                        out.append((resp.status, resp.content_type, resp.headers.get("Retry-After"), await resp.read()))
            return out

        answers = asyncio.run(hammer())
        assert [a[0] for a in answers] == [404, 404, 404, 429, 429, 404]  # the burst, then limited; per key
        status, content_type, retry_after, body = answers[3]
        assert content_type == "application/problem+json"
        assert retry_after is not None and 1 <= int(retry_after) <= 5  # one token per 5 s
        assert orjson.loads(body)["status"] == 429
    finally:
        api.stop()


async def _next_metric(sse: SseReader, timeout_s: float) -> SseEvent:
    while True:
        event = await sse.next(timeout_s)
        if event.kind == "metric":
            return event


def test_the_stream_follows_partitions_added_while_it_runs(db_settings: Settings, tmp_path: Path) -> None:
    settings = db_settings
    topic = settings.topic("metrics.latest")
    api = start_api(pipeline_env(settings, tmp_path), tmp_path, VITALSTREAM_API_PARTITION_REFRESH_S="1")
    try:
        key = api.key("app", "--subjects", "*")
        client = kafka.consumer(settings, "test-partitions", None)
        before = len(kafka.partitions_of(client, topic))
        client.close()
        added = before + 1  # the second of two new partitions

        async def scenario() -> None:
            async with aiohttp.ClientSession() as http:
                async with open_stream(http, api.url, key, ["grow-1"]) as sse:
                    await sse.until("ready")
                    admin = kafka.admin(settings)
                    for future in admin.create_partitions([NewPartitions(topic, before + 2)]).values():
                        await asyncio.to_thread(future.result, 30)
                    await asyncio.to_thread(produce, settings, [latest("grow-1", "heart_rate", 61.0)], added)
                    event = await _next_metric(sse, 20)
                    assert orjson.loads(event.data)["value"] == 61.0
                    assert f"{added}:0" in (event.id or "").split(",")
                    last_id = event.id
                # dropped; meanwhile a change on the new partition and one on an old one
                await asyncio.to_thread(produce, settings, [latest("grow-1", "body_weight", 70.0)], added)
                await asyncio.to_thread(produce, settings, [latest("grow-1", "step_count", 900.0)], 0)
                for _ in range(100):
                    async with open_stream(http, api.url, key, ["grow-1"], last_id) as sse:
                        resumed = await sse.until("ready")
                    got = {orjson.loads(e.data)["metric"]: orjson.loads(e.data)["value"] for e in resumed[:-1]}
                    if len(got) == 2:
                        break
                    await asyncio.sleep(0.1)
                assert got == {"body_weight": 70.0, "step_count": 900.0}  # nothing lost, heart_rate not repeated

        asyncio.run(scenario())
    finally:
        api.stop()


def _stalled_stream(api: ApiProcess, key: str, subject: str) -> socket.socket:
    """A client that asks for the stream and then reads nothing (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = api.url.removeprefix("http://").split(":")
    sock.connect((host, int(port)))
    request = f"GET /v1/stream?subject={subject} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
    sock.sendall((request + "Connection: close\r\n\r\n").encode())
    return sock


def _events_of(raw: bytes) -> list[tuple[str, str | None, str]]:
    """(event, id, data) of every event in a raw HTTP/1.1 chunked SSE response."""
    out: list[tuple[str, str | None, str]] = []
    for block in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
        if "data" in fields and "event" in fields:
            out.append((fields["event"], fields.get("id"), fields["data"]))
    return out


def _read_all(sock: socket.socket, timeout_s: float) -> bytes:
    """Everything until the server closes (heartbeats keep a never-closed stream talking: a deadline)."""
    deadline = time.monotonic() + timeout_s
    chunks = []
    sock.settimeout(timeout_s)
    while chunk := sock.recv(65536):
        chunks.append(chunk)
        assert time.monotonic() < deadline, "the server never closed the stream of a client reading nothing"
    return b"".join(chunks)


def test_a_stalled_client_is_dropped_at_its_bound_with_a_reason_and_resumes(
    db_settings: Settings, tmp_path: Path
) -> None:
    settings = db_settings
    overrides = {"VITALSTREAM_API_SSE_QUEUE_MAX": "50", "VITALSTREAM_API_SSE_SEND_TIMEOUT_S": "300"}
    api = start_api(pipeline_env(settings, tmp_path), tmp_path, **overrides)
    try:
        key = api.key("app", "--subjects", "*")
        producer = kafka.producer(settings, "test-api-stream")
        produce(settings, [latest("slow-1", "heart_rate", 50.0)], client=producer)
        sock = _stalled_stream(api, key, "slow-1")
        wide = "P" * 2000  # 2 kB events: 4,000 of them are more than every socket buffer holds
        produced = 4000
        for start in range(0, produced, 20):  # small steps, so the feed never hands over a whole burst at once
            chunk = [latest("slow-1", "heart_rate", 100.0 + n, wide) for n in range(start, start + 20)]
            produce(settings, chunk, client=producer)
        events = _events_of(_read_all(sock, 30))  # the server closes the stream after the reason
        sock.close()
        kinds = [e[0] for e in events]
        assert kinds[-1] == "dropped", kinds[-3:]
        assert "too slow" in orjson.loads(events[-1][2])["reason"]
        assert kinds.count("metric") < produced  # the rest never queued up for this client
        last_id = next(e[1] for e in reversed(events) if e[1] is not None)

        final = 100.0 + produced - 1

        async def resume() -> list[SseEvent]:
            async with aiohttp.ClientSession() as http:
                for _ in range(100):  # this process's feed may still be a fetch behind the last produce
                    async with open_stream(http, api.url, key, ["slow-1"], last_id) as sse:
                        resumed = await sse.until("ready")
                    if orjson.loads(resumed[0].data).get("value") == final:
                        break
                    await asyncio.sleep(0.1)
            return resumed

        resumed = asyncio.run(resume())
        assert [(e.kind, orjson.loads(e.data).get("value")) for e in resumed[:-1]] == [("metric", final)]
        assert "stream_dropped" in api.log.read_text()
    finally:
        api.stop()
