"""Small I/O helpers shared by the agents: binding the current event, durable sends.

Durability: every agent sends its outputs (and retry/DLQ records) through :func:`send_all`,
which waits for the broker's acknowledgement of every record and re-sends whatever failed
(with backoff) until all are acknowledged. Only then does the agent's loop body return,
and only then does Faust ack the source events — so an offset is never committed before
the records derived from it are durable. A broker outage therefore pauses the agent
(the partition waits, nothing is dropped); it is not a per-record failure.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple

from faust.streams import _current_event

from streams.metrics import WorkerMetrics
from vitalstream.observability import get_logger

log = get_logger("streams.io")
Headers = list[tuple[str, bytes]]


class Out(NamedTuple):
    topic: str
    """Full topic name."""
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None


def bind(event: Any) -> None:
    """Make ``event`` Faust's current event in this task (tables find their partition by it).

    ``Stream.take_events`` fills its buffer in another task, so the agent's task has no
    current event of its own; table reads/writes need one to pick the partition's store
    and changelog partition.
    """
    _current_event.set(weakref.ref(event))


async def send_all(app: Any, outs: Sequence[Out], metrics: WorkerMetrics | None = None,
                   max_backoff_s: float = 5.0) -> None:
    """Send ``outs`` and return once the broker acknowledged every one of them."""
    todo = list(outs)
    backoff = 0.1
    while todo:
        producer = app.producer
        futures: list[Any] = []
        failed: list[Out] = []
        for out in todo:
            try:
                fut = await producer.send(out.topic, out.key, out.value, None, None, out.headers)
            except Exception:  # ProducerSendError, KafkaTimeoutError: resend below
                failed.append(out)
                futures.append(None)
            else:
                futures.append(fut)
        pending = [f for f in futures if f is not None]
        results = await asyncio.gather(*pending, return_exceptions=True) if pending else []
        it = iter(results)
        first_error: BaseException | None = None
        for out, fut in zip(todo, futures, strict=True):
            if fut is None:
                continue
            res = next(it)
            if isinstance(res, BaseException):
                if isinstance(res, asyncio.CancelledError):
                    raise res
                first_error = first_error or res
                if out not in failed:
                    failed.append(out)
        if not failed:
            return
        if metrics is not None:
            metrics.produce_retries.inc(len(failed))
        log.warning("produce not acknowledged; retrying", records=len(failed),
                    error=type(first_error).__name__ if first_error else "send failed", backoff_s=backoff)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)
        todo = failed
