"""The delivery-report bridge without a broker: a record that cannot be delivered resolves as an error in time."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.producer import DurableProducer, ProducerUnavailable, gateway_producer_config
from vitalstream.platform.settings import Settings


def unreachable_producer(timeout_s: float = 1.0) -> DurableProducer:
    # port 9 (discard) on localhost: nothing listens, connections are refused at once
    config = gateway_producer_config(Settings(kafka_bootstrap="127.0.0.1:9"), linger_ms=1, timeout_s=timeout_s)
    return DurableProducer(config)


async def test_undeliverable_record_resolves_with_an_error_within_the_timeout() -> None:
    producer = unreachable_producer(1.0)
    producer.start(asyncio.get_running_loop())
    started = time.monotonic()
    delivery = await asyncio.wait_for(producer.produce("t", b"v", b"k"), timeout=5)
    assert not delivery.ok
    # librdkafka's own timeout, or (on a loaded machine) the backstop sweep just after it
    assert delivery.error in {"_MSG_TIMED_OUT", "_ANSWER_TIMEOUT"}
    assert 0.9 <= time.monotonic() - started < 6.0  # librdkafka gives up at the timeout, not after it (loaded CI slack)
    assert await producer.close(1.0) == 0
    with pytest.raises(ProducerUnavailable):
        producer.produce("t", b"v", b"k")


async def test_close_answers_everything_still_queued() -> None:
    producer = unreachable_producer(30.0)
    producer.start(asyncio.get_running_loop())
    futures = [producer.produce("t", b"v", None) for _ in range(3)]
    left = await producer.close(0.5)
    assert left == 3
    results = await asyncio.gather(*futures)
    assert all(not r.ok for r in results)


def test_producer_config_is_durable() -> None:
    cfg = gateway_producer_config(Settings(kafka_bootstrap="b:9092"), linger_ms=3, timeout_s=5.0)
    assert cfg["acks"] == "all"
    assert cfg["enable.idempotence"] is True
    assert cfg["partitioner"] == "murmur2_random"
    assert cfg["linger.ms"] == 3
    assert cfg["message.timeout.ms"] == 5000
