"""Live data over Server-Sent Events: one feed per kind of data, computed once for every viewer.

A :class:`Feed` recomputes its value every ``interval_s`` while someone listens and pushes
it only when it changed; the browser's ``EventSource`` keeps the page current without
reloading or polling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from vitalstream.platform.observability import get_logger

log = get_logger("console.live")

Compute = Callable[[], Awaitable[Any]]


def sse_frame(event: str, data: Any, event_id: str | None = None) -> bytes:
    """One Server-Sent Events frame; ``data`` as compact JSON (always one line)."""
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append("data: " + orjson.dumps(data, default=str).decode())
    return ("\n".join(lines) + "\n\n").encode()


async def guarded(name: str, compute: Compute) -> Any:
    """The computed value, or ``{"error": ...}``: a failed source is shown on the page, never a dead feed."""
    try:
        return await compute()
    except Exception as exc:
        log.warning("feed_failed", feed=name, error=type(exc).__name__)
        return {"error": f"{type(exc).__name__}: could not read the {name} data"}


class Feed:
    def __init__(self, name: str, compute: Compute, interval_s: float) -> None:
        self.name = name
        self._compute = compute
        self._interval_s = interval_s
        self._listeners: set[asyncio.Queue[Any]] = set()
        self._task: asyncio.Task[None] | None = None
        self._value: Any = None
        self._wake = asyncio.Event()

    def poke(self) -> None:
        """Recompute now (after an action that changed what the feed shows)."""
        self._wake.set()

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Any]]:
        """A queue that receives the current value, then every change, while the context is open."""
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1)
        self._listeners.add(queue)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"feed-{self.name}")
        elif self._value is not None:
            queue.put_nowait(self._value)
        try:
            yield queue
        finally:
            self._listeners.discard(queue)

    async def _run(self) -> None:
        last: bytes | None = None
        while self._listeners:
            value = await guarded(self.name, self._compute)
            encoded = orjson.dumps(value, default=str)
            self._value = value
            if encoded != last:
                for queue in list(self._listeners):
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()  # a slow reader gets the newest value, not a backlog
                    queue.put_nowait(value)
            last = encoded
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
