"""The HTTP layer with a stub producer (no Kafka): answers, headers, limits, dedup, metrics, OpenAPI.

Real-Kafka behaviour (durability, outage) is covered in tests/integration/test_gateway_*.py.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from gateway.app import STATE_KEY, create_app
from gateway.producer import Delivery
from gateway.signatures import standard_headers, terra_header
from schemas.codec import Codec
from schemas.records import RawWebhook
from vitalstream.platform.settings import Settings

TERRA_SECRET = "terra-test-secret-of-32-characters"
WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef01234567").decode()


class StubProducer:
    """Resolves each produce with ``outcome`` after ``delay`` seconds; records what was produced."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes, bytes | None]] = []
        self.outcome: str | None = None
        self.delay = 0.0
        self.ready = True
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    async def close(self, flush_timeout_s: float = 10.0) -> int:
        return 0

    def produce(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Delivery]:
        assert self._loop is not None
        fut: asyncio.Future[Delivery] = self._loop.create_future()
        outcome = self.outcome

        def resolve() -> None:
            if outcome is None:
                self.records.append((topic, value, key))
            fut.set_result(Delivery(outcome, 0, len(self.records)))

        self._loop.call_later(self.delay, resolve)
        return fut

    def queue_depth(self) -> int:
        return 0

    def topic_ready(self, topic: str, timeout_s: float) -> bool:
        return self.ready


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "topic_prefix": "unit.",
        "terra_secrets": [SecretStr(TERRA_SECRET)],
        "webhook_secrets": {"acme": SecretStr(WHSEC)},
        "max_body_bytes": 1024,
        "produce_timeout_s": 1.0,
    }
    values.update(overrides)
    return Settings(**values)


Client = TestClient[web.Request, web.Application]
MakeClient = Callable[..., Awaitable[tuple[Client, StubProducer]]]


@pytest.fixture
async def make_client(aiohttp_client: Any) -> AsyncIterator[MakeClient]:
    async def factory(**overrides: Any) -> tuple[Client, StubProducer]:
        stub = StubProducer()
        app = create_app(make_settings(**overrides), producer=stub)
        client: Client = await aiohttp_client(app)
        return client, stub

    yield factory


def terra(body: bytes, *, trace: str | None = "trace-1", ts: int | None = None, **extra: str) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "terra-signature": terra_header(TERRA_SECRET, int(time.time()) if ts is None else ts, body),
    }
    if trace:
        headers["X-Terra-Trace-Id"] = trace
    headers.update(extra)
    return headers


BODY = orjson.dumps({"type": "body", "user": {"user_id": "u-1", "provider": "WITHINGS"}, "data": []})


async def test_accept_and_duplicate_and_conflict(make_client: MakeClient) -> None:
    client, stub = await make_client()
    headers = terra(BODY, **{"X-Terra-Ordering-Timestamp": "1700000000123"})
    r = await client.post("/webhooks/terra", data=BODY, headers=headers)
    assert r.status == 202
    eid = (await r.json())["event_id"]
    assert len(stub.records) == 1
    topic, value, key = stub.records[0]
    assert topic == "unit.webhooks.raw"
    assert key == b"u-1"
    record = Codec().decode_as(value, RawWebhook)
    assert record.event_id == eid
    assert record.body == BODY
    assert record.ordering_ts is not None and int(record.ordering_ts.timestamp() * 1000) == 1700000000123

    r = await client.post("/webhooks/terra", data=BODY, headers=terra(BODY))
    assert r.status == 200
    assert await r.json() == {"duplicate": True, "event_id": eid}
    other = BODY.replace(b"u-1", b"u-2")
    r = await client.post("/webhooks/terra", data=other, headers=terra(other))
    assert r.status == 409
    assert (await r.json())["error"] == "idempotency_conflict"
    assert len(stub.records) == 1


async def test_concurrent_identical_requests_produce_once(make_client: MakeClient) -> None:
    client, stub = await make_client()
    stub.delay = 0.2
    answers = await asyncio.gather(*(client.post("/webhooks/terra", data=BODY, headers=terra(BODY)) for _ in range(5)))
    statuses = sorted(a.status for a in answers)
    assert statuses == [200, 200, 200, 200, 202]
    assert len({(await a.json())["event_id"] for a in answers}) == 1
    assert len(stub.records) == 1


async def test_failed_produce_is_503_and_does_not_poison_the_cache(make_client: MakeClient) -> None:
    client, stub = await make_client()
    stub.outcome = "_MSG_TIMED_OUT"
    stub.delay = 0.1
    first, waiter = await asyncio.gather(
        client.post("/webhooks/terra", data=BODY, headers=terra(BODY)),
        client.post("/webhooks/terra", data=BODY, headers=terra(BODY)),
    )
    for r in (first, waiter):
        assert r.status == 503
        assert r.headers["Retry-After"].isdigit()
        assert (await r.json())["error"] == "kafka_unavailable"
    stub.outcome = None
    r = await client.post("/webhooks/terra", data=BODY, headers=terra(BODY))
    assert r.status == 202
    assert len(stub.records) == 1


@pytest.mark.parametrize("refusal", ["MSG_SIZE_TOO_LARGE", "INVALID_RECORD"])
async def test_a_record_kafka_refuses_for_good_is_413_not_503(make_client: MakeClient, refusal: str) -> None:
    client, stub = await make_client()
    stub.outcome = refusal
    r = await client.post("/webhooks/terra", data=BODY, headers=terra(BODY))
    assert r.status == 413
    answer = await r.json()
    assert answer["error"] == "record_refused"
    assert refusal in answer["detail"]
    assert "Retry-After" not in r.headers


async def test_signature_failures_are_401(make_client: MakeClient) -> None:
    client, stub = await make_client()
    cases = {
        "signature_missing": {"Content-Type": "application/json"},
        "signature_malformed": {"Content-Type": "application/json", "terra-signature": "nonsense"},
        "signature_expired": terra(BODY, ts=int(time.time()) - 301),
        "signature_invalid": {**terra(BODY), "terra-signature": terra_header("wrong", int(time.time()), BODY)},
    }
    for code, headers in cases.items():
        r = await client.post("/webhooks/terra", data=BODY, headers=headers)
        assert r.status == 401, code
        assert await r.json() == {"error": code, "detail": (await r.json())["detail"]}
    # X-Terra-Signature is accepted too, case-insensitively
    h = terra(BODY)
    h["x-TERRA-signature"] = h.pop("terra-signature")
    assert (await client.post("/webhooks/terra", data=BODY, headers=h)).status == 202
    assert len(stub.records) == 1


async def test_malformed_json_is_400_only_after_signature(make_client: MakeClient) -> None:
    client, stub = await make_client()
    bad = b'{"type": "body", '
    r = await client.post("/webhooks/terra", data=bad, headers=terra(bad))
    assert r.status == 400
    payload = await r.json()
    assert payload["error"] == "malformed_json"
    assert "line" not in payload["detail"] and "char" not in payload["detail"]  # no parser internals
    unsigned = {"Content-Type": "application/json"}
    assert (await client.post("/webhooks/terra", data=bad, headers=unsigned)).status == 401
    assert stub.records == []


async def test_size_and_type_are_checked_before_the_body(make_client: MakeClient) -> None:
    client, _ = await make_client()
    big = b'{"x":"' + b"a" * 2000 + b'"}'
    r = await client.post("/webhooks/terra", data=big, headers=terra(big))
    assert r.status == 413
    assert (await r.json())["error"] == "payload_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: decided while streaming
        for _ in range(10):
            yield b" " * 200

    r = await client.post("/webhooks/terra", data=chunks(), headers=terra(b"", trace="t-stream"))
    assert r.status == 413
    exactly = b'{"x":"' + b"a" * (1024 - 8) + b'"}'
    assert len(exactly) == 1024
    assert (await client.post("/webhooks/terra", data=exactly, headers=terra(exactly, trace="t-x"))).status == 202

    for ctype in ("text/plain", "application/x-www-form-urlencoded", "application/octet-stream"):
        r = await client.post("/webhooks/terra", data=BODY, headers={**terra(BODY), "Content-Type": ctype})
        assert r.status == 415, ctype
        assert (await r.json())["error"] == "unsupported_media_type"
    headers = {**terra(BODY, trace="t-cs"), "Content-Type": "application/json; charset=utf-8"}
    r = await client.post("/webhooks/terra", data=BODY, headers=headers)
    assert r.status == 202


async def test_standard_webhooks_route(make_client: MakeClient) -> None:
    client, stub = await make_client()
    body = b'{"hello":"world"}'
    headers = {"Content-Type": "application/json", **standard_headers(WHSEC, "msg_1", int(time.time()), body)}
    r = await client.post("/webhooks/acme", data=body, headers=headers)
    assert r.status == 202
    record = Codec().decode_as(stub.records[0][1], RawWebhook)
    assert record.source == "acme"
    assert record.idempotency_key == "msg_1"
    assert "webhook-signature" not in record.headers
    assert (await client.post("/webhooks/acme", data=body, headers=headers)).status == 200
    for ctype in ("application/json", "text/plain"):  # unknown source is decided before size and type
        r = await client.post("/webhooks/nobody", data=body, headers={**headers, "Content-Type": ctype})
        assert r.status == 404
        assert (await r.json())["error"] == "unknown_source"
    headers["webhook-signature"] = "v1," + base64.b64encode(b"x" * 32).decode()
    assert (await client.post("/webhooks/acme", data=body, headers=headers)).status == 401


async def test_rate_limits(make_client: MakeClient) -> None:
    client, _ = await make_client(rate_limit_per_ip_per_min=3, rate_limit_per_user_per_min=2)
    unsigned = {"Content-Type": "application/json"}
    statuses = [(await client.post("/webhooks/terra", data=b"{}", headers=unsigned)).status for _ in range(4)]
    assert statuses == [401, 401, 401, 429]  # failures to authenticate fill the address's bucket
    limited = await client.post("/webhooks/terra", data=b"{}", headers=unsigned)
    assert (await limited.json())["error"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert limited.headers["RateLimit-Limit"] == "3"
    assert limited.headers["RateLimit-Remaining"] == "0"
    assert int(limited.headers["RateLimit-Reset"]) >= 1
    signed = []
    for i in range(5):  # the same address, verified: never counted, never 429 by address
        body = orjson.dumps({"user": {"user_id": f"u{i}"}})
        signed.append((await client.post("/webhooks/terra", data=body, headers=terra(body, trace=f"t{i}"))).status)
    assert signed == [202] * 5
    forged = await client.post(
        "/webhooks/terra",
        data=b"{}",
        headers=terra(b"{}", trace="f", ts=None)
        | {"terra-signature": terra_header("a-different-secret-of-24-chars", int(time.time()), b"{}")},
    )
    assert forged.status == 429  # a well-formed but wrong signature is a failure like any other


async def test_verified_deliveries_past_a_limit_are_shed_to_the_backfill_lane(make_client: MakeClient) -> None:
    """Per-user and per-source limits never answer a verified delivery 429: the excess goes to backfill."""
    client, stub = await make_client(rate_limit_per_user_per_min=2, rate_limit_per_source_per_min=4)
    statuses = []
    for i in range(3):
        body = orjson.dumps({"user": {"user_id": "same"}, "n": i})
        statuses.append((await client.post("/webhooks/terra", data=body, headers=terra(body, trace=f"t{i}"))).status)
    for i in range(3):
        body = orjson.dumps({"user": {"user_id": f"other-{i}"}})
        statuses.append((await client.post("/webhooks/terra", data=body, headers=terra(body, trace=f"o{i}"))).status)
    assert statuses == [202] * 6
    lanes = [topic.removeprefix("unit.") for topic, _, _ in stub.records]
    # the third of one user (user limit), then the fifth and sixth of the source (source limit)
    assert lanes == ["webhooks.raw"] * 2 + ["webhooks.backfill"] + ["webhooks.raw"] + ["webhooks.backfill"] * 2
    page = (await (await client.get("/metrics")).read()).decode()
    assert 'vitalstream_gateway_lane_records_total{lane="webhooks.backfill",reason="shed"} 3.0' in page


async def test_chunks_and_large_requests_go_to_the_backfill_lane(make_client: MakeClient) -> None:
    client, stub = await make_client()
    deliveries = [
        ("t-live", {"terra-reference": "ref-1"}, {}),  # a reference alone is not a large request
        ("t-announce", {}, {"type": "large_request_sending", "reference": "ref-1", "expected_payloads": 2}),
        ("big-1:chunk:0", {}, {}),
        ("t-ref", {"terra-reference": "ref-1"}, {}),
    ]
    for trace, extra, doc in deliveries:
        body = orjson.dumps({"user": {"user_id": "u"}, "trace": trace, **doc})
        r = await client.post("/webhooks/terra", data=body, headers=terra(body, trace=trace) | extra)
        assert r.status == 202
    lanes = [t.removeprefix("unit.") for t, _, _ in stub.records]
    assert lanes == ["webhooks.raw"] * 2 + ["webhooks.backfill"] * 2


async def test_forwarded_for_counts_only_behind_trusted_proxies(make_client: MakeClient) -> None:
    unsigned = {"Content-Type": "application/json"}
    client, _ = await make_client(rate_limit_per_ip_per_min=1)
    statuses = [
        (await client.post("/webhooks/terra", data=b"{}", headers={**unsigned, "X-Forwarded-For": f"1.0.0.{i}"})).status
        for i in range(2)
    ]
    assert statuses == [401, 429]  # the header is the client's word: one address, one bucket
    client, _ = await make_client(rate_limit_per_ip_per_min=1, gateway_trusted_proxies=["127.0.0.0/8"])
    statuses = [
        (await client.post("/webhooks/terra", data=b"{}", headers={**unsigned, "X-Forwarded-For": f"1.0.0.{i}"})).status
        for i in range(2)
    ]
    assert statuses == [401, 401]  # the peer is our proxy: each forwarded client has its own bucket


async def test_request_id_probes_metrics_openapi(make_client: MakeClient) -> None:
    client, stub = await make_client()
    r = await client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert r.status == 200
    assert r.headers["X-Request-Id"] == "abc-123"
    r = await client.get("/healthz", headers={"X-Request-Id": "bad id\twith junk"})
    assert r.headers["X-Request-Id"] != "bad id\twith junk"
    assert len(r.headers["X-Request-Id"]) == 32

    assert (await client.get("/readyz")).status == 200
    stub.ready = False
    client.app[STATE_KEY].readiness._checked_at = -1e18  # forget the cached verdict
    r = await client.get("/readyz")
    assert r.status == 503
    assert "Retry-After" in r.headers

    await client.post("/webhooks/terra", data=BODY, headers=terra(BODY))
    await client.post("/webhooks/acme", data=BODY, headers={"Content-Type": "application/json"})
    for i in range(5):
        await client.get(f"/no/such/{i}")
    r = await client.get("/metrics")
    text = await r.text()
    assert r.status == 200
    assert 'route="/webhooks/terra"' in text
    assert 'route="/webhooks/{source}"' in text
    assert 'route="/no/such/{id}"' in text
    assert "/webhooks/acme" not in text
    assert 'vitalstream_gateway_rejections_total{reason="signature_missing"} 1.0' in text
    assert "vitalstream_gateway_accept_latency_seconds_bucket" in text
    assert "vitalstream_gateway_producer_queue_depth" in text

    r = await client.get("/nope")
    assert r.status == 404
    assert (await r.json())["error"] == "not_found"
    r = await client.get("/webhooks/terra")
    assert r.status == 405
    assert (await r.json())["error"] == "method_not_allowed"

    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    routes = {"/webhooks/terra", "/webhooks/{source}", "/healthz", "/readyz", "/metrics", "/openapi.json"}
    assert set(doc["paths"]) == routes
    terra_answers = doc["paths"]["/webhooks/terra"]["post"]["responses"]
    assert {"200", "202", "400", "401", "409", "413", "415", "429", "503"} <= set(terra_answers)
    assert "404" in doc["paths"]["/webhooks/{source}"]["post"]["responses"]


async def test_extra_routes_hook(aiohttp_client: Any) -> None:
    async def health(request: web.Request) -> web.Response:
        state = request.app[STATE_KEY]
        return web.json_response({"status": "healthy", "topic": state.config.raw_topic})

    app = create_app(make_settings(), producer=StubProducer(), extra_routes=[web.get("/health", health)])
    client = await aiohttp_client(app)
    r = await client.get("/health")
    assert (await r.json()) == {"status": "healthy", "topic": "unit.webhooks.raw"}
    doc = await (await client.get("/openapi.json")).json()
    assert "/health" in doc["paths"]
