"""Records up to the body cap on a real broker: big bodies flow, a refused produce is 413, poison dead-letters once."""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.app import create_app
from gateway.signatures import terra_header
from schemas import deadletter as H
from tests.fix_pipeline import Pipeline
from tests.kafka_helpers import consume_all, lower_max_message_bytes
from vitalstream.bench.payloads import heart_rate_chunk
from vitalstream.platform.settings import Settings

MB = 1024 * 1024
Client = TestClient[web.Request, web.Application]


def heart_rate_body(user: str, target_bytes: int, rng: random.Random) -> tuple[bytes, int]:
    """A Terra body event of about ``target_bytes`` of random-valued (poorly compressible) bpm samples."""
    return heart_rate_chunk(user, target_bytes, rng.randrange(1 << 30))


def terra_headers(secret: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "terra-signature": terra_header(secret, int(time.time()), body),
        "X-Terra-Trace-Id": str(uuid.uuid4()),
        "X-Terra-Ordering-Timestamp": str(int(time.time() * 1000)),
    }


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            return resp.status, dict(json.load(resp))
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: an unclosed one warns whenever it is collected
            return exc.code, dict(json.load(exc))


def heart_rate_rows(p: Pipeline, user: str) -> int:
    with p.db() as conn:
        row = conn.execute(
            "SELECT count(*) FROM observations WHERE user_id = %s AND metric = 'heart_rate'", (user,)
        ).fetchone()
    return int(row[0]) if row else 0


def test_big_bodies_flow_and_poison_is_dead_lettered_once_without_blocking(pipeline: Pipeline) -> None:
    p, rng = pipeline, random.Random(12)
    url = p.gateway_url + "/webhooks/terra"

    poison = orjson.dumps({"user": {"user_id": "poison"}, "noise": rng.randbytes(768 * 1024).hex()})
    assert len(poison) > 1.5 * MB
    status, answer = post(url, poison, terra_headers(p.terra_secret, poison))
    assert status == 202, answer
    poison_id = answer["event_id"]

    live_user = f"live-{uuid.uuid4().hex[:6]}"
    live, _ = heart_rate_body(live_user, 600, rng)
    status, answer = post(url, live, terra_headers(p.terra_secret, live))
    assert status == 202, answer
    p.wait_for(lambda: heart_rate_rows(p, live_user) > 0, 30, "the live event sent after the poison")

    expected: dict[str, int] = {}
    for size in (MB // 2, 3 * MB, 8 * MB):
        user = f"big{size}-{uuid.uuid4().hex[:6]}"
        body, expected[user] = heart_rate_body(user, size, rng)
        status, answer = post(url, body, terra_headers(p.terra_secret, body))
        assert status == 202, (size, answer)
    for user, n in expected.items():
        p.wait_for(lambda u=user, n=n: heart_rate_rows(p, u) == n, 240, f"{n} heart-rate samples of {user}")

    dead = [m for m in consume_all(p.settings, "dlq") if dict(m.headers() or []).get(H.EVENT_ID) == poison_id.encode()]
    assert len(dead) == 1
    assert dict(dead[0].headers() or [])[H.ERROR_STAGE] == b"normalize"
    assert dead[0].value() is not None and len(dead[0].value() or b"") > 1.5 * MB


async def test_a_record_the_topic_refuses_is_413_not_503(settings: Settings, aiohttp_client: Any) -> None:
    lower_max_message_bytes(settings, "webhooks.raw", 64 * 1024)
    client: Client = await aiohttp_client(create_app(settings))
    for _ in range(100):
        if (await client.get("/readyz")).status == 200:
            break
        await asyncio.sleep(0.3)
    body = orjson.dumps({"type": "body", "user": {"user_id": "too-big"}, "noise": random.randbytes(200 * 1024).hex()})
    secret = settings.terra_secrets[0].get_secret_value()
    r = await client.post("/webhooks/terra", data=body, headers=terra_headers(secret, body))
    assert r.status == 413, await r.text()
    answer = await r.json()
    assert answer["error"] == "record_refused" and "MSG_SIZE_TOO_LARGE" in answer["detail"]
    small, _ = heart_rate_body("small", 2000, random.Random(2))
    assert (await client.post("/webhooks/terra", data=small, headers=terra_headers(secret, small))).status == 202
