"""take_ready (streams.batching) over Faust's own stream machinery: an agent's test context
(an in-process channel; no broker is contacted), so the passive drainer, processors, skips and
acks are Faust's."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Coroutine
from typing import Any

import faust
import pytest

from streams import batching
from streams.batching import take_ready

_apps = itertools.count()


def _app() -> faust.App:
    # the broker is never contacted: an agent's test context feeds its stream from a channel
    return faust.App(f"take-ready-{next(_apps)}", broker="kafka://127.0.0.1:1", autodiscover=False, web_enabled=False)


Body = Callable[[list[Any]], Coroutine[Any, Any, None]]


async def _run_agent(
    max_events: int,
    feed: Callable[[Any], Coroutine[Any, Any, None]],
    *,
    body: Body | None = None,
    skip: Callable[[Any], bool] | None = None,
    acks: list[Any] | None = None,
) -> list[tuple[float, list[Any]]]:
    """Run an agent batching with take_ready; ``feed(agent)`` puts values; returns (monotonic, values) per batch."""
    app = _app()
    batches: list[tuple[float, list[Any]]] = []

    @app.agent(app.channel())  # type: ignore[untyped-decorator]
    async def agent(stream: Any) -> None:
        if skip is not None:

            def skipping(value: Any) -> Any:
                if skip(value):
                    raise faust.exceptions.Skip()
                return value

            stream.add_processor(skipping)
        if acks is not None:
            ack = stream.ack

            async def recording_ack(event: Any) -> bool:
                acks.append(event.value)
                return bool(await ack(event))

            stream.ack = recording_ack
        async for events in take_ready(stream, max_events):
            values = [event.value for event in events]
            batches.append((time.monotonic(), values))
            if body is not None:
                await body(values)

    try:
        async with agent.test_context() as running:
            await feed(running)
    finally:
        if app._consumer is not None:  # its aiokafka thread's loop: the thread itself never starts
            app._consumer._thread.thread_loop.close()  # type: ignore[attr-defined]
    return batches


def test_queued_events_come_in_order_once_in_batches_of_at_most_the_maximum() -> None:
    async def feed(agent: Any) -> None:
        for n in range(25):
            await agent.put(n)
        await asyncio.sleep(0.2)

    batches = asyncio.run(_run_agent(10, feed))
    values = [v for _, batch in batches for v in batch]
    assert values == list(range(25))
    assert all(1 <= len(batch) <= 10 for _, batch in batches)


def test_a_lone_event_is_taken_at_once_not_at_the_next_wake_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batching, "IDLE_WAKE_S", 30.0)  # a timer-driven batch would wait this long
    put_at: list[float] = []

    async def feed(agent: Any) -> None:
        await asyncio.sleep(0.05)
        put_at.append(time.monotonic())
        await agent.put("lone")
        await asyncio.sleep(1.0)

    batches = asyncio.run(_run_agent(1000, feed))
    assert [batch for _, batch in batches] == [["lone"]]
    assert batches[0][0] - put_at[0] < 0.5


def test_events_are_acked_only_after_their_batch_body_returned() -> None:
    acks: list[Any] = []
    acked_when_body_ran: list[list[Any]] = []

    async def body(values: list[Any]) -> None:
        acked_when_body_ran.append(list(acks))
        await asyncio.sleep(0.01)

    async def feed(agent: Any) -> None:
        for n in range(3):
            await agent.put(n)
        await asyncio.sleep(0.1)
        await agent.put(3)
        await asyncio.sleep(0.1)

    batches = asyncio.run(_run_agent(10, feed, body=body, acks=acks))
    taken = [v for _, batch in batches for v in batch]
    assert taken == [0, 1, 2, 3]
    for (_, batch), acked_before in zip(batches, acked_when_body_ran, strict=True):
        assert not set(batch) & set(acked_before), "an event was acked before its batch was processed"
    assert sorted(acks) == [0, 1, 2, 3]


def test_a_record_the_stream_skips_does_not_hold_the_batch_gathered_before_it() -> None:
    """The skip stands for a rebalance's stale records: the drainer takes them and yields nothing.
    An earlier take_ready awaited the next event here and held the batch (design §11)."""
    put_at: list[float] = []

    async def feed(agent: Any) -> None:
        put_at.append(time.monotonic())
        await agent.put("kept")
        await agent.put("stale")
        await asyncio.sleep(1.0)

    batches = asyncio.run(_run_agent(1000, feed, skip=lambda value: value == "stale"))
    assert [batch for _, batch in batches] == [["kept"]]
    assert batches[0][0] - put_at[0] < 0.5


def test_events_arriving_while_a_batch_is_processed_form_the_next_batch() -> None:
    async def body(values: list[Any]) -> None:
        await asyncio.sleep(0.1)  # a batch's produce and acknowledgements

    async def feed(agent: Any) -> None:
        await agent.put(0)
        await asyncio.sleep(0.02)
        for n in range(1, 50):
            await agent.put(n)
        await asyncio.sleep(0.5)

    batches = asyncio.run(_run_agent(1000, feed, body=body))
    assert [batch for _, batch in batches] == [[0], list(range(1, 50))]


def test_a_batch_whose_processing_fails_is_never_acked() -> None:
    """Faust commits acked offsets on its way down: an acked but unprocessed batch would be lost."""
    acks: list[Any] = []

    async def body(values: list[Any]) -> None:
        raise RuntimeError("the batch's outputs were not acknowledged")

    async def feed(agent: Any) -> None:
        for n in range(3):
            await agent.put(n)
        await asyncio.sleep(0.2)

    with contextlib.suppress(RuntimeError):
        asyncio.run(_run_agent(10, feed, body=body, acks=acks))
    assert acks == []
