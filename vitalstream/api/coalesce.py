"""Concurrent reads of the same kind coalesced into one query (design §8, "The read API").

A read is sent at once while fewer than ``max_inflight`` queries are running, as its own
query on its own task (no future, no task of the coalescer: the cheap path, taken whenever the
process keeps up). Otherwise it waits for the next query to finish and goes out with every
read queued meanwhile, up to ``max_batch`` keys in one query. There is no batching timer: at
low load every read is a query of its own, and under a burst the queue drains in fewer, larger
queries (one pool checkout, one round trip and one statement for many reads), so the tail
shrinks instead of growing.

A read never waits longer than ``wait_s`` (queued and running together: ``TimeoutError``),
and at most ``max_queued`` reads wait at once (beyond: ``Overloaded``), so a database that
hangs or is gone cannot make the queue grow without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Overloaded(Exception):
    """More reads are queued than the coalescer holds: answer "busy" at once instead of queueing."""


class Coalescer(Generic[K, V]):
    """``get(key)`` answers ``fetch([keys…])[key]`` (``missing`` when absent), one query per batch."""

    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]],
        missing: Callable[[], V],
        max_inflight: int,
        max_batch: int,
        wait_s: float,
        max_queued: int,
    ) -> None:
        self._fetch = fetch
        self._missing = missing
        self._max_inflight = max(1, max_inflight)
        self._max_batch = max(1, max_batch)
        self._wait_s = wait_s
        self._max_queued = max(1, max_queued)
        self._queued: dict[K, list[asyncio.Future[V]]] = {}
        self._queued_reads = 0
        self._inflight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def get(self, key: K) -> V:
        if self._inflight < self._max_inflight and not self._queued:
            return await self._get_alone(key)
        if self._queued_reads >= self._max_queued:
            raise Overloaded(f"{self._queued_reads} reads are waiting already")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        self._queued.setdefault(key, []).append(future)
        self._queued_reads += 1
        self._drain()
        timer = loop.call_later(self._wait_s, _expire, future)  # cheaper than wait_for on every read
        try:
            return await future
        finally:
            timer.cancel()

    async def _get_alone(self, key: K) -> V:
        """A read with nothing queued and a query to spare: its own query, on its own task."""
        self._inflight += 1
        try:
            async with asyncio.timeout(self._wait_s):
                found = await self._fetch([key])
        finally:
            self._inflight -= 1
            self._drain()
        value = found.get(key)
        return self._missing() if value is None else value

    @property
    def inflight(self) -> int:
        return self._inflight

    def _send(self) -> None:
        keys = list(self._queued)[: self._max_batch]
        waiting = {key: self._queued.pop(key) for key in keys}
        self._queued_reads -= sum(map(len, waiting.values()))
        self._inflight += 1
        task = asyncio.create_task(self._run(waiting))
        self._tasks.add(task)  # a reference until it ends: the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    async def _run(self, waiting: dict[K, list[asyncio.Future[V]]]) -> None:
        try:
            found = await self._fetch(list(waiting))
        except BaseException as exc:  # every read of the batch gets the query's error
            for futures in waiting.values():
                _fail(futures, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            for key, futures in waiting.items():
                value = found.get(key)
                for future in futures:
                    if not future.done():  # a read whose client went away was cancelled
                        future.set_result(self._missing() if value is None else value)
        finally:
            self._inflight -= 1
            self._drain()

    def _drain(self) -> None:
        while self._queued and self._inflight < self._max_inflight:
            self._send()


def _expire(future: asyncio.Future[V]) -> None:
    """A read that waited ``wait_s``: it fails now, and its batch skips it (done) when it runs."""
    if not future.done():
        future.set_exception(TimeoutError("no answer from the database within the read's time"))


def _fail(futures: list[asyncio.Future[V]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
