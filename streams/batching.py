"""Batches of what a Faust stream has ready: never a fixed wait for records that are not there.

Faust's ``Stream.take_events(n, within)`` returns a batch once it holds ``n`` events or
``within`` has passed, so at low load every event waits out the window on every hop (design
§11). :func:`take_ready` returns a batch as soon as the stream's queue runs dry: the first
event the moment it arrives, then every event queued behind it (or arriving within
``LINGER_S`` of the last). Under load the
queue fills while the previous batch is processed, so batches grow by themselves and each
acknowledged produce still carries many records; ``gather_s`` only caps how long one batch
keeps taking from a queue that never empties (a backlog), so its first event is not held.

Acks are ours, as in ``take_events``: an event is acknowledged (its offset may be committed)
only after the caller's loop body for its batch has returned, i.e. after its effects are durable.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

HANDOVER_YIELDS = 2
"""Event-loop turns granted to the consumer to hand over what it fetched before a queue counts as dry."""
LINGER_S = 0.002
"""Then how long a dry queue is watched for more: the consumer hands a fetch over in pieces, and a
batch cut at every gap costs a produce round trip each (throughput), where 2 ms per hop is noise."""
LINGER_POLL_S = 0.0005


async def take_ready(stream: Any, max_events: int, gather_s: float) -> AsyncGenerator[list[Any], None]:
    """Yield lists of up to ``max_events`` Faust events of ``stream`` (see the module docstring)."""
    stream.enable_acks = False  # acked below, after the batch's processing returned
    queue = stream.channel.queue
    events = stream.events().__aiter__()
    try:
        while not stream.should_stop:
            batch = [await _first(stream, events, queue)]
            until = time.monotonic() + gather_s
            while len(batch) < max_events and await _more_ready(queue) and time.monotonic() < until:
                batch.append(await events.__anext__())
            yield batch
            for event in batch:
                await stream.ack(event)
    except StopAsyncIteration:  # the stream ended (the worker stops): so do the batches
        return
    finally:
        stream.enable_acks = True


async def _first(stream: Any, events: AsyncIterator[Any], queue: asyncio.Queue[Any]) -> Any:
    """The next event; while none is queued, waiting for it ends with a stop (StopAsyncIteration)."""
    if not queue.empty():
        return await events.__anext__()
    first = asyncio.ensure_future(events.__anext__())
    if await stream.wait_for_stopped(first):
        first.cancel()
        raise StopAsyncIteration
    return first.result()


async def _more_ready(queue: asyncio.Queue[Any]) -> bool:
    for _ in range(HANDOVER_YIELDS):
        if not queue.empty():
            return True
        await asyncio.sleep(0)
    until = time.monotonic() + LINGER_S
    while queue.empty() and time.monotonic() < until:
        await asyncio.sleep(LINGER_POLL_S)
    return not queue.empty()
