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

from schemas import deadletter as D
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

    :func:`streams.batching.take_ready` fills its buffer in another task, so the agent's task has no
    current event of its own; table reads/writes need one to pick the partition's store
    and changelog partition.
    """
    _current_event.set(weakref.ref(cast("EventT[Any]", event)))  # a Faust event behind the Protocol


def worker_producer_config(settings: Settings) -> dict[str, Any]:
    """The toolkit's durable producer with big batches, without linger: the worker writes in bursts.

    Every send queues a whole batch's records and its agent then waits for all of them, so
    lingering after the last one only delays the batch and every batch behind it (the 5 ms default
    held each worker hop twice). Alternated A/B in design §11: a flush after each send, or 1 ms."""
    return kafka.producer_config(
        settings, "worker", **{"linger.ms": 0, "batch.size": 1024 * 1024, "queue.buffering.max.messages": 500_000}
    )


class _Batch:
    """Delivery reports of one :func:`send_all` round: how many are pending, which failed."""

    __slots__ = ("_by_content", "failed", "first_error", "offsets", "outs", "pending", "refused")

    def __init__(self, outs: Sequence[Out] = (), track_offsets: bool = False) -> None:
        self.outs = outs
        self._by_content: dict[tuple[str, bytes | None, bytes | None], list[Out]] | None = None
        self.pending = 0
        self.failed: list[Out] = []
        self.refused: list[tuple[Out, str]] = []
        """Records Kafka refuses for good (too large, invalid), with the error name: never retried as they are."""
        self.first_error: str | None = None
        self.offsets: dict[tuple[str, int], int] | None = {} if track_offsets else None

    def fail(self, out: Out, error_name: str) -> None:
        if kafka.is_permanent_produce_error(error_name):
            self.refused.append((out, error_name))
        else:
            self.failed.append(out)
        if self.first_error is None:
            self.first_error = error_name

    def sent_as(self, msg: Any) -> Out:
        """The :class:`Out` a delivery report is about (a report carries no headers: they come from here).

        Indexed on the first failure only: the success path stays one C call per record.
        """
        if self._by_content is None:
            self._by_content = {}
            for out in self.outs:
                self._by_content.setdefault((out.topic, out.key, out.value), []).append(out)
        same = self._by_content.get((msg.topic(), msg.key(), msg.value()))
        if same:
            return same.pop()
        partition = msg.partition()
        return Out(msg.topic(), msg.key(), msg.value(), None, partition if partition >= 0 else None)

    def report(self, err: Any, msg: Any) -> None:  # librdkafka's on_delivery, inside poll()/flush()
        self.pending -= 1
        if err is not None:
            self.fail(self.sent_as(msg), err.name() if hasattr(err, "name") else str(err))
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
        batch = _Batch(outs, track_offsets)
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
                    batch.fail(out, exc.args[0].name())
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
    dead_letter_topic: str | None = None,
) -> dict[tuple[str, int], int]:
    """Send ``outs`` and return once the broker acknowledged every one of them.

    With ``track_offsets``, returns the highest acknowledged offset per (topic, partition).
    A record Kafka refuses for good (too large, invalid) is not retried as it is: with a
    ``dead_letter_topic`` it goes there without its value (see :func:`refused_to_dead_letter`).
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
        replacements = refused_to_dead_letter(batch.refused, dead_letter_topic, batch.failed)
        if not batch.failed and not replacements:
            return offsets
        if not batch.failed:
            todo = replacements
            continue
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
        todo = [*batch.failed, *replacements]
    return offsets


def refused_to_dead_letter(
    refused: Sequence[tuple[Out, str]], dead_letter_topic: str | None, failed: list[Out]
) -> list[Out]:
    """What to send instead of records Kafka refuses for good: never the same record again.

    A refused record with a value becomes a DLQ record with every header, no value and
    ``vs.value.refused`` (failure copies say where the original lives: ``vs.original.*``).
    A refused value-free record cannot shrink further: it is logged and given up (not retried
    forever holding its partitions). Without a ``dead_letter_topic`` (table changelogs) a refused
    record is retried like any failure (appended to ``failed``).
    """
    replacements: list[Out] = []
    for out, error_name in refused:
        if dead_letter_topic is None:
            failed.append(out)
        elif out.value is None:
            log.error("record refused by Kafka even without its value; dropped", topic=out.topic, error=error_name)
        else:
            headers = D.value_free_headers(out.headers or [], error_name)
            replacements.append(Out(dead_letter_topic, out.key, None, headers))
            log.warning("record refused by Kafka; dead-lettered without its value", topic=out.topic, error=error_name)
    return replacements
