"""take_ready (streams.batching): a batch as soon as the queue runs dry, never a fixed wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

from streams.batching import take_ready


class FakeStream:
    """What take_ready uses of a Faust stream: its channel's queue, ``events()``, ``ack``, flags."""

    def __init__(self) -> None:
        self.channel = SimpleNamespace(queue=asyncio.Queue())
        self.enable_acks = True
        self.should_stop = False
        self.acked: list[int] = []
        self.stopped = asyncio.Event()

    async def events(self) -> AsyncIterator[int]:
        while True:
            yield await self.channel.queue.get()

    async def wait_for_stopped(self, awaitable: asyncio.Future[Any]) -> bool:
        """As mode's Service: True if the stream stopped before ``awaitable`` completed."""
        stopping = asyncio.ensure_future(self.stopped.wait())
        done, _ = await asyncio.wait({awaitable, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        return awaitable not in done

    async def ack(self, event: int) -> bool:
        self.acked.append(event)
        return True


async def _first_batch(stream: FakeStream, max_events: int, gather_s: float = 1.0) -> tuple[list[int], float]:
    started = time.monotonic()
    batches = take_ready(stream, max_events, gather_s)
    batch = await batches.__anext__()
    elapsed = time.monotonic() - started
    await batches.aclose()
    return batch, elapsed


def test_a_lone_event_is_not_held_for_the_gather_window() -> None:
    async def scenario() -> tuple[list[int], float]:
        stream = FakeStream()
        stream.channel.queue.put_nowait(1)
        return await _first_batch(stream, 1000, gather_s=5.0)

    batch, elapsed = asyncio.run(scenario())
    assert batch == [1]
    assert elapsed < 1.0, "take_ready waited for events that were not there"


def test_a_batch_takes_every_queued_event_up_to_the_maximum() -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        stream = FakeStream()
        for n in range(25):
            stream.channel.queue.put_nowait(n)
        batches = take_ready(stream, 10, 5.0)
        first = await batches.__anext__()
        second = await batches.__anext__()
        await batches.aclose()
        return first, second, stream.channel.queue.qsize()

    first, second, left = asyncio.run(scenario())
    assert first == list(range(10))
    assert second == list(range(10, 20))
    assert left == 5


def test_events_are_acked_only_after_the_batch_body_returned() -> None:
    async def scenario() -> tuple[list[int], list[int], bool]:
        stream = FakeStream()
        for n in range(3):
            stream.channel.queue.put_nowait(n)
        batches = take_ready(stream, 10, 5.0)
        await batches.__anext__()
        during = list(stream.acked)
        stream.channel.queue.put_nowait(3)
        await batches.__anext__()
        after = list(stream.acked)
        acks_were_disabled = stream.enable_acks is False
        await batches.aclose()
        return during, after, acks_were_disabled and stream.enable_acks

    during, after, restored = asyncio.run(scenario())
    assert during == []
    assert after == [0, 1, 2]
    assert restored, "Faust's own acks must be off while batching and restored after"


def test_gathering_from_a_queue_that_never_empties_stops_at_the_cap() -> None:
    async def scenario() -> list[Any]:
        stream = FakeStream()

        async def producer() -> None:
            n = 0
            while True:
                stream.channel.queue.put_nowait(n)
                n += 1
                await asyncio.sleep(0)

        feeding = asyncio.create_task(producer())
        await asyncio.sleep(0)
        batch, _ = await _first_batch(stream, 10**9, gather_s=0.05)
        feeding.cancel()
        return batch

    batch = asyncio.run(scenario())
    assert 1 < len(batch) < 10**9


def test_a_stop_while_nothing_arrives_ends_the_batches() -> None:
    async def scenario() -> list[list[int]]:
        stream = FakeStream()
        batches: list[list[int]] = []

        async def consume() -> None:
            async for batch in take_ready(stream, 10, 1.0):
                batches.append(batch)

        consuming = asyncio.create_task(consume())
        stream.channel.queue.put_nowait(1)
        await asyncio.sleep(0.05)
        stream.stopped.set()
        await asyncio.wait_for(consuming, 1.0)
        return batches

    assert asyncio.run(scenario()) == [[1]]


def test_the_end_of_the_stream_ends_the_batches_without_an_error() -> None:
    class EndingStream(FakeStream):
        async def events(self) -> AsyncIterator[int]:
            yield 1
            yield 2

    async def scenario() -> list[list[int]]:
        stream = EndingStream()
        stream.channel.queue.put_nowait(0)  # the queue looks busy: gathering asks for more
        return [batch async for batch in take_ready(stream, 10, 1.0)]

    # a batch the end cut short is not processed: unacked, its events come again after the restart
    assert asyncio.run(scenario()) == []
