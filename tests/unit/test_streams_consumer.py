"""The worker's fetch loop (``streams.consumer``) around seeks and recoveries, on a fake partition log.

The loop and Faust's consumer bookkeeping are the real ones; only the aiokafka thread below
them is replaced by a log of offsets with a position, which ``seek_to_committed`` moves back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import faust
from aiokafka.structs import ConsumerRecord  # type: ignore[import-untyped]
from faust.types import TP

from streams.consumer import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES, FastDeliveryConsumer, FetchFloor

TOPIC_PARTITION = TP("vitalstream.metrics.normalized", 0)
BATCH = 5


class FakeThread:
    """One partition of offsets ``0..end-1``: fetched ``BATCH`` at a time from ``position``."""

    def __init__(self, committed: int, end: int) -> None:
        self.committed = committed
        self.position = committed
        self.end = end

    async def getmany(self, active_partitions: Any, timeout: float) -> dict[TP, list[ConsumerRecord[bytes, bytes]]]:
        await asyncio.sleep(0)
        if TOPIC_PARTITION not in active_partitions or self.position >= self.end:
            await asyncio.sleep(0.01)
            return {}
        offsets = range(self.position, min(self.position + BATCH, self.end))
        self.position = offsets[-1] + 1
        tp = TOPIC_PARTITION
        return {tp: [ConsumerRecord(tp.topic, tp.partition, o, 0, 0, b"k", b"v", None, 1, 1, ()) for o in offsets]}

    async def seek_to_committed(self) -> dict[TP, int]:
        await asyncio.sleep(0)  # a round trip to the coordinator: the fetch loop runs meanwhile
        self.position = self.committed
        return {TOPIC_PARTITION: self.committed}

    def highwater(self, tp: TP) -> int:
        return self.end


def consumer_on(thread: FakeThread, callback: Callable[[Any], Awaitable[None]]) -> FastDeliveryConsumer:
    app = faust.App("test-consumer", broker="kafka://127.0.0.1:1", store="memory://", autodiscover=False)
    app.transport.Consumer = FastDeliveryConsumer  # type: ignore[misc]
    consumer = app.consumer
    assert isinstance(consumer, FastDeliveryConsumer)
    consumer._thread.thread_loop.close()  # the real aiokafka thread is never started
    consumer._thread = thread  # type: ignore[assignment]
    consumer.callback = callback
    consumer._set_active_tps({TOPIC_PARTITION})
    return consumer


class Fetcher:
    def __init__(self) -> None:
        self._stopped = asyncio.Event()


async def drain_with_a_seek_mid_batch() -> list[int]:
    """Deliver from committed offset 10; while offset 12 is being delivered, the recovery seeks
    back to the committed offset, then clears the stream buffers (``on_recovery_completed``).
    Returns the offsets delivered after the seek, until offset 19 was."""
    fetcher = Fetcher()
    after_seek: list[int] = []
    seek: asyncio.Task[None] | None = None

    async def deliver(message: Any) -> None:
        nonlocal seek
        if seek is None and message.offset == 12:
            seek = asyncio.create_task(consumer.perform_seek())
            await asyncio.sleep(0.05)  # the delivery waits (a full buffer) while the recovery seeks
            await seek
            return  # the buffers are cleared after the seek: nothing delivered before it counts
        if seek is not None:
            after_seek.append(message.offset)
            if message.offset == 19:
                fetcher._stopped.set()

    consumer = consumer_on(FakeThread(committed=10, end=20), deliver)
    await asyncio.wait_for(consumer._drain_messages(fetcher), timeout=10)
    return after_seek


def test_records_fetched_before_a_seek_do_not_hide_the_records_after_it() -> None:
    delivered = asyncio.run(drain_with_a_seek_mid_batch())
    assert delivered[0] == 10, f"the seek's position is delivered first, then in order: {delivered}"
    assert set(range(10, 20)) <= set(delivered), f"every record from the committed offset on: {delivered}"
    assert delivered == sorted(delivered)


def test_a_seek_waits_for_the_fetch_in_flight() -> None:
    async def seek_during_a_fetch() -> tuple[bool, bool]:
        thread = FakeThread(committed=3, end=8)
        release = asyncio.Event()
        fetch_now = thread.getmany

        async def slow_fetch(active_partitions: Any, timeout: float) -> Any:
            await release.wait()
            return await fetch_now(active_partitions, timeout)

        thread.getmany = slow_fetch  # type: ignore[method-assign]
        consumer = consumer_on(thread, lambda _m: asyncio.sleep(0))
        fetch = asyncio.create_task(consumer._getmany({TOPIC_PARTITION}, 1.0))
        await asyncio.sleep(0.01)
        seek = asyncio.create_task(consumer.perform_seek())
        await asyncio.sleep(0.01)
        waited = not seek.done()
        release.set()
        await asyncio.gather(fetch, seek)
        return waited, consumer._fetched_before_seek(TOPIC_PARTITION)

    waited, stale = asyncio.run(seek_during_a_fetch())
    assert waited, "a seek must not move the position under a fetch in flight"
    assert stale, "the records of the fetch before the seek are fetched again from the seek's position"


def test_a_buffer_draining_does_not_resume_a_partition_paused_for_recovery() -> None:
    async def active_after_the_drain() -> tuple[bool, bool]:
        consumer = consumer_on(FakeThread(committed=0, end=0), lambda _m: asyncio.sleep(0))
        consumer.on_buffer_full(TOPIC_PARTITION)  # the stream buffer filled up: fetching stops
        consumer.pause_partitions({TOPIC_PARTITION})  # a rebalance: the recovery pauses it
        consumer.on_buffer_drop(TOPIC_PARTITION)  # the (cleared) buffer is read from again
        during = TOPIC_PARTITION in consumer._get_active_partitions()
        consumer.resume_partitions({TOPIC_PARTITION})  # the recovery is complete
        return during, TOPIC_PARTITION in consumer._get_active_partitions()

    during, after = asyncio.run(active_after_the_drain())
    assert not during, "fetched again before the tables are restored"
    assert after


def test_a_drained_buffer_resumes_its_partition() -> None:
    async def active_before_and_after() -> tuple[bool, bool]:
        consumer = consumer_on(FakeThread(committed=0, end=0), lambda _m: asyncio.sleep(0))
        consumer.on_buffer_full(TOPIC_PARTITION)
        before = TOPIC_PARTITION in consumer._get_active_partitions()
        consumer.on_buffer_drop(TOPIC_PARTITION)
        return before, TOPIC_PARTITION in consumer._get_active_partitions()

    assert asyncio.run(active_before_and_after()) == (False, True)


class Request:
    """What the fetch floor reads and sets of aiokafka's ``FetchRequest``."""

    def __init__(self) -> None:
        self._min_bytes, self._max_wait_ms = 1, 1500  # as Faust builds the consumer


async def test_a_fetch_waits_for_a_few_records_only_while_records_flow() -> None:
    answers = iter([True, True, False, True, False])  # the broker's answer to each fetch: records or none
    sent: list[tuple[int, int, int]] = []

    async def send(_assignment: Any, node_id: int, request: Any) -> bool:
        sent.append((node_id, request._min_bytes, request._max_wait_ms))
        return next(answers)

    floor = FetchFloor(send)
    for node_id in (1, 1, 1, 1, 2):
        await floor(None, node_id, Request())
    long_poll, paced = (1, 1500), (FETCH_MIN_BYTES, FETCH_MAX_WAIT_MS)
    assert sent == [(1, *long_poll), (1, *paced), (1, *paced), (1, *long_poll), (2, *long_poll)]
    assert floor.sends == 5
    assert FETCH_MIN_BYTES > 1 and FETCH_MAX_WAIT_MS <= 5
