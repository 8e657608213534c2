"""Batches of what a Faust stream has ready: no fixed wait for records that are not there.

Faust's ``Stream.take_events(n, within)`` wakes every ``within`` and returns what its buffer
holds, so at low load every event waits out part of the window on every hop (design §11).
:func:`take_ready` is the same machinery with another wake-up: the stream's own passive
drainer fills the buffer (so skipping, acking and rebalancing stay Faust's), and a batch is
returned as soon as the buffer holds an event and stopped growing for one event-loop turn —
the drainer moves one queued record per turn, so a turn without growth means the queue ran
dry. Under load the queue fills while the previous batch is processed, so batches grow by
themselves and each acknowledged produce still carries many records.

The batch loop never awaits an event itself. An earlier version did (``events().__anext__``
after seeing a queued record) and held a gathered batch, unacknowledged, when a rebalance
made the drainer skip that record: Faust's ``wait_empty`` then held the rebalance for good.
Here the only waits are for the buffer's "ready" flag, for the stream's stop and for the
caller's processing of a batch.

Acks are ours: an event is acknowledged (its offset may be committed) only after the caller's
loop body for its batch has returned, i.e. after its effects are durable. Unlike ``take_events``,
which acks in a ``finally``, a batch whose body raised or was cancelled (a stop mid-batch) is not
acked, so the offsets Faust commits on its way down never cover it: it is processed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any

IDLE_WAKE_S = 1.0
"""How often an idle batch loop looks at its stop flag (a stop also wakes it at once)."""


async def take_ready(stream: Any, max_events: int) -> AsyncGenerator[list[Any], None]:
    """Yield lists of up to ``max_events`` Faust events of ``stream`` (see the module docstring)."""
    buffer: list[Any] = []
    ready = asyncio.Event()
    room = asyncio.Event()
    room.set()

    async def add_to_buffer(value: Any) -> Any:
        """The stream's processor: runs in its passive drainer, once per record it delivers.

        A failure here would end the drainer without a word and leave the agent waiting, so it
        crashes the stream instead (Faust's own ``take_events`` does the same)."""
        try:
            if not room.is_set():  # a batch is being processed, or the buffer is full
                await stream.wait(room)
            event = stream.current_event
            if event is None:
                raise RuntimeError("take_ready found no current event")
            buffer.append(event)
            ready.set()
            if len(buffer) >= max_events:
                room.clear()
        except Exception as exc:  # handed to Faust's supervision, not swallowed
            await stream.crash(exc)
        return value

    acks_before = stream.enable_acks
    stream.enable_acks = False
    stream.add_processor(add_to_buffer)
    stream._enable_passive(stream.channel)
    try:
        while not stream.should_stop:
            await stream.wait_for_stopped(ready, timeout=IDLE_WAKE_S)
            if not buffer:
                continue
            await _until_dry(buffer, max_events)
            room.clear()
            batch = list(buffer)
            yield batch  # a batch whose processing raised or was cancelled is never acked
            buffer.clear()
            ready.clear()
            for event in batch:
                await stream.ack(event)
            room.set()
    finally:
        stream.enable_acks = acks_before
        stream._processors.remove(add_to_buffer)


async def _until_dry(buffer: list[Any], max_events: int) -> None:
    """Give the drainer event-loop turns while each turn still adds to ``buffer``."""
    while len(buffer) < max_events:
        before = len(buffer)
        await asyncio.sleep(0)
        if len(buffer) == before:
            return
