"""Broker outage: 503 with Retry-After while Kafka is away, never a 2xx; afterwards every 202 is in the topic."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from gateway.app import create_app
from gateway.idempotency import event_id
from gateway.signatures import terra_header
from schemas.codec import Codec
from schemas.records import RawWebhook
from tests.integration.test_gateway_intake import read_raw
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics


def delivery(settings: Settings, n: int) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps({"type": "daily", "user": {"user_id": f"u{n % 3}"}, "data": [{"n": n}]})
    headers = {
        "Content-Type": "application/json",
        "X-Terra-Trace-Id": f"trace-{n}",
        "terra-signature": terra_header(settings.terra_secrets[0].get_secret_value(), int(time.time()), body),
    }
    return body, headers


async def wait_status(client: Any, path: str, status: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (await client.get(path)).status == status:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{path} never answered {status}")


async def test_broker_outage_is_503_and_every_202_survives(
    settings: Settings, private_kafka: Any, aiohttp_client: Any
) -> None:
    s = settings.model_copy(update={"kafka_bootstrap": private_kafka.bootstrap, "produce_timeout_s": 3.0})
    report = ensure_topics(s)
    assert not report.problems, report.problems
    client = await aiohttp_client(create_app(s))
    await wait_status(client, "/readyz", 200, 30)

    accepted: set[str] = set()

    async def send(n: int) -> Any:
        body, headers = delivery(s, n)
        r = await client.post("/webhooks/terra", data=body, headers=headers)
        payload = await r.json()
        if r.status == 202:
            accepted.add(payload["event_id"])
        return r, payload

    for n in range(5):
        r, _ = await send(n)
        assert r.status == 202

    private_kafka.stop()
    await wait_status(client, "/readyz", 503, 15)

    during = list(range(5, 10))
    started = time.monotonic()
    answers = await asyncio.gather(*(send(n) for n in during))
    elapsed = time.monotonic() - started
    for r, payload in answers:
        assert r.status == 503, payload
        assert payload["error"] == "kafka_unavailable"
        assert int(r.headers["Retry-After"]) >= 1
    assert elapsed < s.produce_timeout_s + 2.5  # answered within the produce timeout, not hanging
    never_retried = {event_id("terra", f"trace-{n}") for n in during[-2:]}

    private_kafka.start()
    await wait_status(client, "/readyz", 200, 60)

    # the sender retries what was refused (except the last two), and sends more
    for n in [*during[:-2], *range(10, 15)]:
        r, payload = await send(n)
        assert r.status == 202, payload

    codec = Codec()
    messages = read_raw(s, expected=len(accepted), timeout_s=20)
    in_topic = {codec.decode_as(m.value(), RawWebhook).event_id for m in messages}
    assert accepted <= in_topic, f"answered 202 but missing from the topic: {accepted - in_topic}"
    assert not in_topic & never_retried, "an event answered 503 (and never retried) reached the topic"
    assert in_topic == accepted
