"""The worker's consumer on a real broker: an idle partition costs a long poll, a record is still fetched at once."""

from __future__ import annotations

import asyncio
import time

import faust
from aiokafka.structs import TopicPartition  # type: ignore[import-untyped]

from streams.consumer import FastDeliveryConsumer, FetchFloor
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

IDLE_S = 2.0


async def test_an_idle_worker_consumer_long_polls_and_a_record_is_fetched_at_once(settings: Settings) -> None:
    topic = settings.topic("metrics.normalized")
    app = faust.App(
        f"{settings.group_prefix}fetch-floor",
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",
        autodiscover=False,
    )
    app.transport.Consumer = FastDeliveryConsumer  # type: ignore[misc]
    producer = kafka.producer(settings, "fetch-floor-test")
    thread = app.consumer._thread
    await thread.on_start()
    consumer = thread._consumer
    try:
        floor = consumer._fetcher._proc_fetch_request
        assert isinstance(floor, FetchFloor), "the worker's fetches go through the floor"
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_end(TopicPartition(topic, 0))
        await asyncio.sleep(IDLE_S)
        idle_sends = floor.sends
        await asyncio.to_thread(kafka.produce_all, producer, [kafka.OutRecord(topic, b"value", partition=0)])
        produced = time.monotonic()
        records = await consumer.getmany(timeout_ms=5000)
        fetched_after_s = time.monotonic() - produced
    finally:
        await consumer.stop()
        thread.thread_loop.close()
    assert idle_sends <= 1 + IDLE_S / 1.5, f"{idle_sends} fetches in {IDLE_S} s idle: a poll, not a long poll"
    assert [r.value for batch in records.values() for r in batch] == [b"value"]
    assert fetched_after_s < 0.5, f"fetched {fetched_after_s:.3f} s after it was produced"
