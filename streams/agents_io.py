"""Small I/O helpers shared by the agents: binding the current event, durable sends.

Durability: every agent sends its outputs (and retry/DLQ records) through :func:`send_all`,
which waits for the broker's acknowledgement of every record and re-sends whatever failed
(with backoff) until all are acknowledged. Only then does the agent's loop body return,
and only then does Faust ack the source events — so an offset is never committed before
the records derived from it are durable. A broker outage therefore pauses the agent
(the partition waits, nothing is dropped); it is not a per-record failure.

The outputs go through :class:`OutputProducer` (librdkafka through confluent-kafka), not
through Faust's aiokafka producer: a produce call there is one C call, where aiokafka builds
every record in Python (partitioner, batch builder, a future, per-record callbacks) — that
was a third of the worker's CPU. Delivery reports are served on the event loop by
``poll(0)`` while a batch waits (no poll thread, no cross-thread hand-off). Faust's own
producer still writes the tables' changelogs (one record per changed key per batch).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol, cast

import confluent_kafka
from faust.streams import _current_event
from faust.types import EventT

from streams.metrics import WorkerMetrics
from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("streams.io")
Headers = list[tuple[str, bytes]]

POLL_INTERVAL_S = 0.001
"""How often a batch waiting for its acknowledgements serves delivery reports."""


class Out(NamedTuple):
    topic: str
    """Full topic name."""
    key: bytes | None
    value: bytes | None
    headers: Headers | None = None
    partition: int | None = None
    """None: the key's partition (murmur2, as Java and aiokafka place it)."""


class ConsumedMessage(Protocol):
    """What the stages read of a Faust message (``faust.types.Message``)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> float | None: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]] | None: ...


class StreamEvent(Protocol):
    """One event of a Faust stream (``faust.types.EventT``): the seam between Faust and the stages."""

    @property
    def message(self) -> ConsumedMessage: ...


class KeyValueTable(Protocol):
    """What :class:`~streams.tables.TableWriter` needs of a bytes→bytes Faust table."""

    @property
    def data(self) -> Any: ...  # the partition's store (RocksDB or memory): untyped in Faust
    @property
    def changelog_topic(self) -> Any: ...


def bind(event: StreamEvent) -> None:
    """Make ``event`` Faust's current event in this task (tables find their partition by it).

    ``Stream.take_events`` fills its buffer in another task, so the agent's task has no
    current event of its own; table reads/writes need one to pick the partition's store
    and changelog partition.
    """
    _current_event.set(weakref.ref(cast("EventT[Any]", event)))  # a Faust event behind the Protocol


def worker_producer_config(settings: Settings) -> dict[str, Any]:
    """The toolkit's durable producer with big batches: the worker writes in bursts."""
    return kafka.producer_config(
        settings, "worker", **{"batch.size": 1024 * 1024, "queue.buffering.max.messages": 500_000}
    )


class _Batch:
    """Delivery reports of one :func:`send_all` round: how many are pending, which failed."""

    __slots__ = ("failed", "first_error", "offsets", "pending")

    def __init__(self, track_offsets: bool = False) -> None:
        self.pending = 0
        self.failed: list[Out] = []
        self.first_error: str | None = None
        self.offsets: dict[tuple[str, int], int] | None = {} if track_offsets else None

    def report(self, err: Any, msg: Any) -> None:  # librdkafka's on_delivery, inside poll()/flush()
        self.pending -= 1
        if err is not None:
            partition = msg.partition()
            self.failed.append(
                Out(msg.topic(), msg.key(), msg.value(), msg.headers(), partition if partition >= 0 else None)
            )
            if self.first_error is None:
                self.first_error = err.name() if hasattr(err, "name") else str(err)
        elif self.offsets is not None:
            tp = (msg.topic(), msg.partition())
            offset = msg.offset()
            if offset > self.offsets.get(tp, -1):
                self.offsets[tp] = offset


class OutputProducer:
    """One confluent-kafka producer per worker process, shared by every agent.

    Only called from the event loop thread (``produce``/``poll``), except :meth:`close`'s
    flush, which runs in an executor once the agents have stopped.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer: Any = confluent_kafka.Producer(config, error_cb=self._on_client_error)
        self.last_error: str | None = None

    def _on_client_error(self, err: Any) -> None:
        self.last_error = err.name() if hasattr(err, "name") else str(err)

    async def send(self, outs: Sequence[Out], track_offsets: bool = False) -> _Batch:
        """Produce ``outs``; returns once every one has a delivery report (ok or failed)."""
        batch = _Batch(track_offsets)
        producer = self._producer
        produce = producer.produce
        report = batch.report
        for out in outs:
            while True:
                try:
                    if out.partition is None:
                        produce(out.topic, out.value, out.key, on_delivery=report, headers=out.headers)
                    else:
                        produce(out.topic, out.value, out.key, out.partition, on_delivery=report, headers=out.headers)
                except BufferError:  # the local queue is full: let deliveries drain it
                    producer.poll(0)
                    await asyncio.sleep(POLL_INTERVAL_S)
                    continue
                except confluent_kafka.KafkaException as exc:
                    batch.failed.append(out)
                    batch.first_error = batch.first_error or str(exc.args[0])
                    break
                batch.pending += 1
                break
        while batch.pending > 0:
            producer.poll(0)
            if batch.pending > 0:
                await asyncio.sleep(POLL_INTERVAL_S)
        return batch

    async def close(self, timeout_s: float = 10.0) -> int:
        """Flush whatever is still queued; returns how many records were left undelivered."""
        loop = asyncio.get_running_loop()
        left: int = await loop.run_in_executor(None, self._producer.flush, timeout_s)
        return left


async def send_all(
    producer: OutputProducer,
    outs: Sequence[Out],
    metrics: WorkerMetrics | None = None,
    max_backoff_s: float = 5.0,
    *,
    track_offsets: bool = False,
) -> dict[tuple[str, int], int]:
    """Send ``outs`` and return once the broker acknowledged every one of them.

    With ``track_offsets``, returns the highest acknowledged offset per (topic, partition).
    """
    todo: Sequence[Out] = outs
    backoff = 0.1
    offsets: dict[tuple[str, int], int] = {}
    while todo:
        batch = await producer.send(todo, track_offsets)
        if batch.offsets:
            for tp, offset in batch.offsets.items():
                if offset > offsets.get(tp, -1):
                    offsets[tp] = offset
        if not batch.failed:
            return offsets
        if metrics is not None:
            metrics.produce_retries.inc(len(batch.failed))
        log.warning(
            "produce not acknowledged; retrying",
            records=len(batch.failed),
            error=batch.first_error or producer.last_error or "send failed",
            backoff_s=backoff,
        )
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)
        todo = batch.failed
    return offsets
