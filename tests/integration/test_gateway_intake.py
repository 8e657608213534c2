"""The gateway against a real Kafka broker: every answer, and the raw topic holds exactly the accepted events."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from confluent_kafka import KafkaException

from gateway.app import create_app
from gateway.idempotency import event_id
from gateway.signatures import standard_headers, terra_header
from schemas.codec import Codec
from schemas.records import RawWebhook
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings

Client = TestClient[web.Request, web.Application]
Start = Callable[..., Awaitable[Client]]


async def wait_ready(client: Client, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await client.get("/readyz")).status == 200:
            return
        await asyncio.sleep(0.3)
    raise AssertionError("gateway never became ready")


@pytest.fixture
async def start(aiohttp_client: Any) -> AsyncIterator[Start]:
    async def factory(settings: Settings) -> Client:
        client: Client = await aiohttp_client(create_app(settings))
        await wait_ready(client)
        return client

    yield factory


def terra_secret(settings: Settings) -> str:
    assert settings.terra_secrets, "the settings fixture should provide a Terra secret"
    return settings.terra_secrets[0].get_secret_value()


def signed(settings: Settings, body: bytes, trace: str | None, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "terra-signature": terra_header(terra_secret(settings), int(time.time()), body),
        "terra-reference": "ref-42",
        "User-Agent": "terra-test/1.0",
        "Authorization": "Bearer must-not-travel",
    }
    if trace is not None:
        headers["X-Terra-Trace-Id"] = trace
    headers.update(extra)
    return headers


def body_for(user: str, n: int = 0) -> bytes:
    return orjson.dumps({"type": "body", "user": {"user_id": user, "provider": "WITHINGS"}, "data": [{"n": n}]})


def read_raw(settings: Settings, expected: int | None = None, timeout_s: float = 10.0) -> list[Any]:
    """consume_all, retried while a freshly created topic still reports NOT_LEADER for a partition."""
    for attempt in range(10):
        try:
            return consume_all(settings, "webhooks.raw", expected=expected, timeout_s=timeout_s)
        except KafkaException:
            if attempt == 9:
                raise
            time.sleep(0.5)
    raise AssertionError("unreachable")


def raw_records(settings: Settings, expected: int | None = None) -> list[tuple[bytes | None, RawWebhook]]:
    codec = Codec()
    return [(m.key(), codec.decode_as(m.value(), RawWebhook)) for m in read_raw(settings, expected)]


async def test_accepted_event_is_durable_and_decodes(settings: Settings, start: Start) -> None:
    client = await start(settings)
    body = body_for("user-1")
    trace = f"trace-{uuid.uuid4()}"
    headers = signed(settings, body, trace, **{"X-Terra-Ordering-Timestamp": "1700000000123"})
    before = time.time()
    r = await client.post("/webhooks/terra", data=body, headers=headers)
    assert r.status == 202, await r.text()
    answer = await r.json()
    assert answer == {"event_id": event_id("terra", trace)}

    ((key, record),) = raw_records(settings, expected=1)
    assert key == b"user-1"
    assert record.event_id == answer["event_id"]
    assert record.source == "terra"
    assert record.body == body
    assert record.idempotency_key == trace
    assert record.trace_id == trace
    assert record.provider_user_id == "user-1"
    assert record.content_type == "application/json"
    assert record.ordering_ts is not None
    assert int(record.ordering_ts.timestamp() * 1000) == 1700000000123
    assert before - 1 <= record.received_at.timestamp() <= time.time() + 1
    assert record.headers["terra-reference"] == "ref-42"
    assert record.headers["user-agent"] == "terra-test/1.0"
    lowered = {h.lower() for h in record.headers}
    assert not lowered & {"terra-signature", "x-terra-signature", "authorization", "cookie"}


async def test_standard_webhooks_source(settings: Settings, start: Start) -> None:
    assert settings.webhook_secrets, "the settings fixture should provide a Standard Webhooks secret"
    source, secret = next(iter(settings.webhook_secrets.items()))
    client = await start(settings)
    body = b'{"kind":"reading","value":1}'
    msg_id = f"msg_{uuid.uuid4().hex}"
    ts = int(time.time())
    headers = {"Content-Type": "application/json", **standard_headers(secret.get_secret_value(), msg_id, ts, body)}
    r = await client.post(f"/webhooks/{source}", data=body, headers=headers)
    assert r.status == 202, await r.text()
    assert (await client.post(f"/webhooks/{source}", data=body, headers=headers)).status == 200
    ((key, record),) = raw_records(settings, expected=1)
    assert record.source == source
    assert record.idempotency_key == msg_id
    assert key == msg_id.encode()  # no provider user in the body: keyed by the idempotency key
    assert record.ordering_ts is not None and int(record.ordering_ts.timestamp()) == ts
    assert not {h.lower() for h in record.headers} & {"webhook-signature"}


async def test_duplicates_conflicts_and_concurrent_repeats_produce_once(settings: Settings, start: Start) -> None:
    client = await start(settings)
    body = body_for("user-2")
    trace = f"trace-{uuid.uuid4()}"
    first = await client.post("/webhooks/terra", data=body, headers=signed(settings, body, trace))
    assert first.status == 202
    eid = (await first.json())["event_id"]
    for _ in range(3):
        again = await client.post("/webhooks/terra", data=body, headers=signed(settings, body, trace))
        assert again.status == 200
        assert await again.json() == {"duplicate": True, "event_id": eid}
    other = body_for("user-2", n=1)
    conflict = await client.post("/webhooks/terra", data=other, headers=signed(settings, other, trace))
    assert conflict.status == 409
    assert (await conflict.json())["error"] == "idempotency_conflict"

    # no trace id: the body's SHA-256 is the key
    plain = body_for("user-3")
    a = await client.post("/webhooks/terra", data=plain, headers=signed(settings, plain, None))
    b = await client.post("/webhooks/terra", data=plain, headers=signed(settings, plain, None))
    assert (a.status, b.status) == (202, 200)

    # identical requests in flight at the same time: one produce, one 202, the rest duplicates
    burst = body_for("user-4")
    burst_trace = f"trace-{uuid.uuid4()}"
    answers = await asyncio.gather(
        *(client.post("/webhooks/terra", data=burst, headers=signed(settings, burst, burst_trace)) for _ in range(8))
    )
    assert sorted(r.status for r in answers) == [200] * 7 + [202]

    records = raw_records(settings, expected=3)
    assert len(records) == 3
    assert sorted(r.event_id for _, r in records) == sorted(
        [eid, (await a.json())["event_id"], event_id("terra", burst_trace)]
    )


async def test_every_error_answer_and_nothing_rejected_reaches_kafka(settings: Settings, start: Start) -> None:
    strict = settings.model_copy(update={"max_body_bytes": 4096, "rate_limit_per_user_per_min": 2})
    client = await start(strict)
    accepted: set[str] = set()

    async def post(body: bytes | Any, headers: dict[str, str], path: str = "/webhooks/terra") -> tuple[int, Any]:
        r = await client.post(path, data=body, headers=headers)
        payload = await r.json()
        if r.status == 202:
            accepted.add(payload["event_id"])
        else:
            assert set(payload) <= {"error", "detail", "duplicate", "event_id"}
        return r.status, payload

    good = body_for("user-5")
    status, _ = await post(good, signed(strict, good, "t-good"))
    assert status == 202

    # 400: well signed, not JSON
    bad = b'{"type": "body", "user": '
    status, payload = await post(bad, signed(strict, bad, "t-bad"))
    assert (status, payload["error"]) == (400, "malformed_json")
    # 401: missing, malformed, expired, wrong secret
    no_sig = {k: v for k, v in signed(strict, good, "t-1").items() if k != "terra-signature"}
    assert (await post(good, no_sig))[0] == 401
    assert (await post(good, {**signed(strict, good, "t-2"), "terra-signature": "t=1"}))[0] == 401
    old = terra_header(terra_secret(strict), int(time.time()) - strict.signature_tolerance_s - 5, good)
    status, payload = await post(good, {**signed(strict, good, "t-3"), "terra-signature": old})
    assert (status, payload["error"]) == (401, "signature_expired")
    forged = terra_header("not-the-secret", int(time.time()), good)
    status, payload = await post(good, {**signed(strict, good, "t-4"), "terra-signature": forged})
    assert (status, payload["error"]) == (401, "signature_invalid")
    # 404: unknown Standard Webhooks source
    status, payload = await post(good, {"Content-Type": "application/json"}, "/webhooks/no-such-source")
    assert (status, payload["error"]) == (404, "unknown_source")
    # 409
    changed = body_for("user-5", n=9)
    assert (await post(changed, signed(strict, changed, "t-good")))[0] == 409
    # 413 from Content-Length, and while streaming (chunked, no Content-Length)
    big = b'{"x":"' + b"a" * 5000 + b'"}'
    status, payload = await post(big, signed(strict, big, "t-big"))
    assert (status, payload["error"]) == (413, "payload_too_large")

    async def stream() -> AsyncIterator[bytes]:
        yield b'{"x":"'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    status, _ = await post(stream(), signed(strict, b"", "t-stream"))
    assert status == 413
    # 415
    status, payload = await post(good, {**signed(strict, good, "t-5"), "Content-Type": "text/plain"})
    assert (status, payload["error"]) == (415, "unsupported_media_type")
    # past the per-user limit: never 429 for a verified delivery, shed to the backfill lane
    statuses = []
    for n in range(3):
        b = body_for("user-6", n)
        statuses.append((await post(b, signed(strict, b, f"t-u6-{n}")))[0])
    assert statuses == [202, 202, 202]

    records = raw_records(strict, expected=len(accepted) - 1)
    shed = [Codec().decode_as(m.value(), RawWebhook) for m in consume_all(strict, "webhooks.backfill", expected=1)]
    assert {r.event_id for _, r in records} | {r.event_id for r in shed} == accepted
    assert (len(records), len(shed), len(accepted)) == (3, 1, 4)


async def test_rate_limit_per_client_before_verification(settings: Settings, start: Start) -> None:
    client = await start(settings.model_copy(update={"rate_limit_per_ip_per_min": 2}))
    unsigned = {"Content-Type": "application/json"}
    statuses = [(await client.post("/webhooks/terra", data=b"{}", headers=unsigned)).status for _ in range(3)]
    assert statuses == [401, 401, 429]
    r = await client.post("/webhooks/terra", data=b"{}", headers=unsigned)
    assert r.status == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["RateLimit-Limit"] == "2"
    assert r.headers["RateLimit-Remaining"] == "0"
    assert "RateLimit-Reset" in r.headers
    assert raw_records(settings) == []
