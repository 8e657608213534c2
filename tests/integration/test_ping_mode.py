"""Ping mode on the real broker (design §5.1): pings are fetched on arrival by their own stage.

The fetch stage runs in-process here where a test must run it without normalize (a URL that
expires while normalize is behind); elsewhere the worker runs as a subprocess, as in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from schemas import deadletter as H
from schemas.records import EventOutcome, RawWebhook
from streams.agents_io import OutputProducer, worker_producer_config
from streams.fetch import FetchStage, payload_fetcher
from streams.metrics import WorkerMetrics
from streams.ping import FETCHED_FROM
from streams.s3 import PayloadFetcher, UrlExpiredError
from streams.ssrf import RefusedUrlError
from tests.fix_payloads import PayloadServer
from tests.integration import test_worker_pipeline
from tests.integration.test_worker_pipeline import (
    CODEC,
    at_least,
    decoded,
    example,
    expected_observations,
    headers_of,
    produce,
    produce_raw,
    raw_webhook,
    wait_for,
)
from tests.kafka_helpers import consume_all
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.platform.stall import REJOINS

worker_factory = test_worker_pipeline.worker_factory  # a fixture: the worker as a subprocess


def _ping(url: str, expires_in: int = 600, user: str = "u1", received_at: datetime | None = None) -> RawWebhook:
    raw = raw_webhook(
        {"type": "s3_payload", "status": "success", "url": url, "expires_in": expires_in, "user": {"user_id": user}},
        user=user,
    )
    return raw if received_at is None else dataclasses.replace(raw, received_at=received_at)


def _signed(server: PayloadServer, name: str, lifetime_s: int) -> str:
    signed_at = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return server.url(name, f"X-Amz-Date={signed_at}&X-Amz-Expires={lifetime_s}&X-Amz-Signature=deadbeef")


class RunningFetch:
    """The fetch stage of ``settings`` on this event loop until :meth:`stop`."""

    def __init__(self, settings: Settings) -> None:
        registry = CollectorRegistry()
        self.metrics = WorkerMetrics(registry)
        self.stage = FetchStage(
            app=None,
            settings=settings,
            codec=codec_for(settings),
            metrics=self.metrics,
            producer=OutputProducer(worker_producer_config(settings)),
            fetcher=payload_fetcher(settings),
        )
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self.stage.run(self._stop))

    async def stop(self) -> None:
        self._stop.set()
        await self._task
        await self.stage.producer.close()


@pytest.fixture
def fetch_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"fetch_allow_private": True})


@pytest.fixture
async def running_fetch(fetch_settings: Settings) -> AsyncIterator[RunningFetch]:
    running = RunningFetch(fetch_settings)
    yield running
    await running.stop()


async def _until(what: str, check: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = await asyncio.to_thread(check)
        if got:
            return got
        await asyncio.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_pings_to_a_black_hole_do_not_delay_other_events(
    settings: Settings, worker_factory: Any, black_hole: str
) -> None:
    body = example("body__body.json")
    warmup = raw_webhook(body, user="warm")
    n_obs = expected_observations([warmup])
    produce_raw(settings, [warmup])
    worker = worker_factory(settings, env={"VITALSTREAM_S3_FETCH_TIMEOUT_S": "5"})
    wait_for(
        "the worker to run", lambda: len(consume_all(settings, "metrics.scored", n_obs, 1.0)) >= n_obs, 120, worker
    )

    produce_raw(settings, [_ping(f"{black_hole}/p{i}", user=f"u{i % 6}") for i in range(200)])
    live = raw_webhook(body, user="u0")  # the key of some pings: their partition too
    produce_raw(settings, [live])
    t0 = time.monotonic()
    wait_for(
        "the live event behind 200 silent pings",
        lambda: len(consume_all(settings, "metrics.scored", 2 * n_obs, 1.0)) >= 2 * n_obs,
        15,
        worker,
    )
    assert time.monotonic() - t0 < 15
    assert consume_all(settings, "dlq") == [], "nothing has timed out for good yet"


async def test_a_fetched_ping_is_processed_after_its_url_expired(
    fetch_settings: Settings, payload_server: PayloadServer, worker_factory: Any
) -> None:
    body = example("body__body.json")
    payload_server.files["p.json"] = orjson.dumps(body)
    url = _signed(payload_server, "p.json", 60)  # Terra's URL, alive for a minute
    ping = _ping(url, expires_in=60)
    await asyncio.to_thread(produce_raw, fetch_settings, [ping])

    running = RunningFetch(fetch_settings)  # normalize is not running: it is behind by the whole topic
    try:
        msgs = await _until(
            "the fetched record", at_least(2, lambda: consume_all(fetch_settings, "webhooks.raw", 2)), 30
        )
    finally:
        await running.stop()
    [fetched] = [m for m in msgs if FETCHED_FROM in headers_of(m)]
    record = CODEC.decode_as(fetched.value(), RawWebhook)
    assert (record.event_id, orjson.loads(record.body)) == (ping.event_id, body)
    assert fetched.key() == b"u1"
    assert headers_of(fetched)[FETCHED_FROM] == payload_server.url("p.json"), "no signature kept"
    payload_server.expire("p.json")  # minutes later: the URL answers as S3 answers an expired one

    n_obs = expected_observations([record])
    worker = worker_factory(fetch_settings)
    scored = await asyncio.to_thread(
        wait_for, "the observations", lambda: consume_all(fetch_settings, "metrics.scored", n_obs, 1.0), 120, worker
    )
    assert len(scored) == n_obs
    ledger = await asyncio.to_thread(decoded, fetch_settings, "events.ledger", EventOutcome, 1, 3.0)
    assert [(o.event_id, o.outcome) for o in ledger] == [(ping.event_id, "processed")]
    assert payload_server.requests["p.json"] == 1, "the worker's fetch stage did not download it again"
    assert consume_all(fetch_settings, "dlq") == []


def test_a_ping_on_the_backfill_lane_is_fetched_back_onto_that_lane_and_processed(
    fetch_settings: Settings, payload_server: PayloadServer, worker_factory: Any
) -> None:
    """A large request in ping mode: its chunks' pings arrive on ``webhooks.backfill``, and the
    downloaded chunk must stay on that lane (lower priority), not jump onto the live topic."""
    body = example("body__body.json")
    payload_server.files["chunk.json"] = orjson.dumps(body)
    ping = _ping(_signed(payload_server, "chunk.json", 600), user="u-backfill")
    produce(fetch_settings, [(b"u-backfill", CODEC.encode(ping), ping.event_id)], topic="webhooks.backfill")

    worker = worker_factory(fetch_settings)
    n_obs = expected_observations([dataclasses.replace(ping, body=orjson.dumps(body))])
    scored = wait_for(
        "the chunk's observations", lambda: consume_all(fetch_settings, "metrics.scored", n_obs, 1.0), 120, worker
    )
    assert len(scored) == n_obs
    backfill = consume_all(fetch_settings, "webhooks.backfill", 2, 3.0)
    fetched = [m for m in backfill if FETCHED_FROM in headers_of(m)]
    assert len(fetched) == 1 and CODEC.decode_as(fetched[0].value(), RawWebhook).event_id == ping.event_id
    assert not [m for m in consume_all(fetch_settings, "webhooks.raw", 1, 2.0)], "it left the backfill lane"
    assert payload_server.requests["chunk.json"] == 1
    ledger = decoded(fetch_settings, "events.ledger", EventOutcome, 1, 3.0)
    assert [(o.event_id, o.outcome) for o in ledger] == [(ping.event_id, "processed")]


async def test_an_expired_url_is_dead_lettered_with_its_reason(
    fetch_settings: Settings, payload_server: PayloadServer, running_fetch: RunningFetch
) -> None:
    payload_server.files["late.json"] = orjson.dumps(example("body__body.json"))
    payload_server.expire("s3-said.json")
    late = _ping(payload_server.url("late.json"), expires_in=60, received_at=datetime.now(UTC) - timedelta(minutes=2))
    refused = _ping(_signed(payload_server, "s3-said.json", 600))
    await asyncio.to_thread(produce_raw, fetch_settings, [late, refused])

    dead = await _until("two dead letters", at_least(2, lambda: consume_all(fetch_settings, "dlq", 2, 1.0)), 30)
    by_event = {headers_of(m)[H.EVENT_ID]: headers_of(m) for m in dead}
    assert set(by_event) == {late.event_id, refused.event_id}
    for h in by_event.values():
        assert (h[H.ERROR_STAGE], h[H.ERROR_CLASS]) == ("fetch", "UrlExpiredError")
        assert "expired" in h[H.ERROR_MESSAGE] and "X-Amz" not in str(h) and "deadbeef" not in str(h)
    assert payload_server.requests["late.json"] == 0, "an expiry known in advance is not even tried"
    ledger = await asyncio.to_thread(decoded, fetch_settings, "events.ledger", EventOutcome, 2, 5.0)
    assert {(o.event_id, o.outcome, o.stage) for o in ledger} == {
        (late.event_id, "dead_lettered", "fetch"),
        (refused.event_id, "dead_lettered", "fetch"),
    }
    assert all(o.reason and "expired" in o.reason for o in ledger)
    assert running_fetch.metrics.fetch_outcomes.labels("expired")._value.get() == 2


# --- the download guard against a real server ----------------------------------------------------


async def test_a_redirect_is_followed_on_the_same_host_only(payload_server: PayloadServer) -> None:
    fetcher = PayloadFetcher(5.0, 1 << 20, allow_private=True)
    payload_server.files["there.json"] = b"{}"
    payload_server.redirect["here.json"] = "/there.json"
    other_host = payload_server.base.replace("127.0.0.1", "127.0.0.2")
    payload_server.redirect["away.json"] = f"{other_host}/there.json"
    try:
        assert await fetcher.fetch_bytes(payload_server.url("here.json")) == b"{}"
        with pytest.raises(RefusedUrlError, match="another host"):
            await fetcher.fetch_bytes(payload_server.url("away.json"))
    finally:
        await fetcher.close()
    assert payload_server.requests["there.json"] == 1


async def test_a_name_resolving_to_loopback_is_refused_by_default(payload_server: PayloadServer) -> None:
    fetcher = PayloadFetcher(5.0, 1 << 20)
    port = payload_server.base.rsplit(":", 1)[1]
    try:
        with pytest.raises(RefusedUrlError, match="resolves to a private"):
            await fetcher.fetch_bytes(f"https://localhost:{port}/p.json")
        with pytest.raises(RefusedUrlError, match="only https"):
            await fetcher.fetch_bytes(payload_server.url("p.json"))
    finally:
        await fetcher.close()
    assert sum(payload_server.requests.values()) == 0


async def test_an_s3_expiry_answer_is_an_expiry(payload_server: PayloadServer) -> None:
    fetcher = PayloadFetcher(5.0, 1 << 20, allow_private=True)
    payload_server.expire("gone.json")
    try:
        with pytest.raises(UrlExpiredError):
            await fetcher.fetch_bytes(payload_server.url("gone.json"))
    finally:
        await fetcher.close()


async def test_a_fetch_consumer_that_receives_nothing_while_pings_wait_is_replaced(
    fetch_settings: Settings, payload_server: PayloadServer
) -> None:
    """The consumer is made deaf behind the stage's back (its partitions paused): from outside it
    looks like one librdkafka left without a group (vitalstream.platform.stall)."""
    settings = fetch_settings.model_copy(update={"consumer_stall_after_s": 1.5})
    for name in ("first.json", "second.json"):
        payload_server.files[name] = orjson.dumps(example("body__body.json"))
    running = RunningFetch(settings)
    try:
        await asyncio.to_thread(produce_raw, settings, [_ping(payload_server.url("first.json"))])
        await _until("the first ping fetched", lambda: payload_server.requests["first.json"] >= 1, 30)
        deaf = running.stage.consumer
        assert deaf is not None
        deaf.pause(deaf.assignment())
        rejoins = REJOINS.labels("fetch")._value.get()
        await asyncio.to_thread(produce_raw, settings, [_ping(payload_server.url("second.json"), user="u2")])
        await _until("the second ping fetched", lambda: payload_server.requests["second.json"] >= 1, 30)
        assert running.stage.consumer is not deaf
        assert REJOINS.labels("fetch")._value.get() == rejoins + 1
    finally:
        await running.stop()
