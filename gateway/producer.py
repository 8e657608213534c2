"""Durable Kafka producer with an asyncio bridge.

``produce()`` hands the record to librdkafka (``acks=all``, idempotence on) and returns a
future that resolves from the delivery report. The event loop polls the producer with
``poll(0)`` (non-blocking) on a short timer while records are in flight, so delivery
reports resolve their futures on the loop thread: no poll thread, no cross-thread hand-off,
no GIL ping-pong (measured: cheaper per request than a poll thread + ``call_soon_threadsafe``).

``message.timeout.ms`` equals the produce timeout: librdkafka itself gives up on a message
it could not deliver in time, so a request answered 503 is, as far as the client can know,
not in the topic (the answer comes from the delivery report, not from a guess).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import confluent_kafka

from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("gateway.producer")

BUSY_POLL_S = 0.001
"""Poll interval while records are in flight (adds at most ~1 ms to an answer)."""
IDLE_POLL_S = 0.1
ERROR_LOG_INTERVAL_S = 10.0
"""Poll interval when idle (serves librdkafka error and log callbacks)."""


class KafkaMessage(Protocol):
    def error(self) -> Any: ...
    def partition(self) -> int: ...
    def offset(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Delivery:
    """Outcome of one produce: ``error`` is None when the broker acknowledged the record."""

    error: str | None
    partition: int = -1
    offset: int = -1

    @property
    def ok(self) -> bool:
        return self.error is None


class RecordProducer(Protocol):
    """What the gateway needs from a producer (``DurableProducer``; a stub in unit tests)."""

    def start(self, loop: asyncio.AbstractEventLoop) -> None: ...

    async def close(self, flush_timeout_s: float = 10.0) -> int: ...

    def produce(
        self, topic: str, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]] | None = None
    ) -> asyncio.Future[Delivery]: ...

    def queue_depth(self) -> int: ...

    def topic_ready(self, topic: str, timeout_s: float) -> bool: ...


class ProducerUnavailable(Exception):
    """The record could not even be queued (local queue full, producer closed)."""


def gateway_producer_config(settings: Settings, *, linger_ms: int, timeout_s: float) -> dict[str, Any]:
    """The toolkit's durable producer, tuned for answering a request: librdkafka gives up at the timeout."""
    return kafka.producer_config(
        settings,
        "gateway",
        **{
            "linger.ms": linger_ms,
            "message.timeout.ms": max(1000, int(timeout_s * 1000)),
            "queue.buffering.max.messages": 200_000,
            "topic.metadata.refresh.interval.ms": 30_000,
        },
    )


class _LibrdkafkaLog:
    """librdkafka's own log lines, through structlog (served by poll(), i.e. on the event loop).

    Connection failures arrive through ``error_cb`` as well, so only critical lines are
    logged above debug level: an outage does not flood the log twice.
    """

    def log(self, level: int, fmt: str, *args: object) -> None:
        message = fmt % args if args else fmt
        if level >= logging.CRITICAL:
            log.error("librdkafka", message=message)
        else:
            log.debug("librdkafka", message=message)


class DurableProducer:
    """confluent-kafka Producer whose delivery reports resolve asyncio futures.

    The event loop polls the producer itself with ``poll(0)`` (never blocking): every
    millisecond while records are in flight, every 100 ms when idle (to serve error and
    log callbacks). Delivery reports therefore resolve their futures on the loop thread,
    with no thread hand-off. A deadline sweep answers any future librdkafka has not
    reported on within ``message.timeout.ms`` + 1 s (a backstop; it should never fire).
    """

    def __init__(self, config: dict[str, Any], *, on_delivery_error: Callable[[str], None] | None = None) -> None:
        self._producer: Any = confluent_kafka.Producer(
            {**config, "logger": _LibrdkafkaLog()}, error_cb=self._on_client_error
        )
        self._backstop_s = int(config.get("message.timeout.ms", 300_000)) / 1000.0 + 1.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: list[tuple[asyncio.Future[Delivery], Delivery]] = []
        self._deadlines: deque[tuple[float, asyncio.Future[Delivery]]] = deque()
        self._tick_handle: asyncio.TimerHandle | None = None
        self._busy = False
        self._on_delivery_error = on_delivery_error
        self._closed = False
        self.last_error: str | None = None
        self._error_logged_at: dict[str, float] = {}

    # ---------------------------------------------------------------- lifecycle

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin polling on ``loop`` (delivery futures belong to it). Idempotent."""
        if self._loop is not None:
            return
        self._loop = loop
        self._schedule(IDLE_POLL_S)

    async def close(self, flush_timeout_s: float = 10.0) -> int:
        """Stop polling, flush what is queued (its futures still resolve), return how many were left."""
        if self._closed:
            return 0
        self._closed = True
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        loop = asyncio.get_running_loop()
        # flush blocks: off the loop; delivery callbacks then run in that worker thread
        left: int = await loop.run_in_executor(None, self._producer.flush, flush_timeout_s)
        self._drain()
        for _, fut in self._deadlines:
            if not fut.done():
                fut.set_result(Delivery("_PRODUCER_CLOSED"))
        self._deadlines.clear()
        if left:
            log.warning("producer_flush_incomplete", undelivered=left)
        return left

    # ---------------------------------------------------------------- producing

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> asyncio.Future[Delivery]:
        """Queue a record; the future resolves with its delivery report. Call from the event loop."""
        loop = self._loop
        if self._closed or loop is None:
            raise ProducerUnavailable("producer is not running")
        fut: asyncio.Future[Delivery] = loop.create_future()

        def report(err: Any, msg: KafkaMessage) -> None:
            # called inside poll()/flush(); only those callers swap self._done, never concurrently
            if err is None:
                self._done.append((fut, Delivery(None, msg.partition(), msg.offset())))
            else:
                self._done.append((fut, Delivery(err.name() if hasattr(err, "name") else str(err))))

        try:
            self._producer.produce(topic, value, key, on_delivery=report, headers=headers)
        except BufferError:
            raise ProducerUnavailable("local producer queue is full") from None
        except confluent_kafka.KafkaException as exc:
            name = exc.args[0].name()
            if not kafka.is_permanent_produce_error(name):
                raise ProducerUnavailable(f"produce failed: {name}") from None
            fut.set_result(Delivery(name))  # refused before queueing (larger than the client allows)
            return fut
        self._deadlines.append((loop.time() + self._backstop_s, fut))
        if not self._busy:
            self._schedule(BUSY_POLL_S)
        return fut

    def queue_depth(self) -> int:
        """Records handed to librdkafka and not yet acknowledged."""
        return len(self._producer)

    def topic_ready(self, topic: str, timeout_s: float) -> bool:
        """Blocking: broker metadata for ``topic`` arrives within ``timeout_s`` and every partition has a leader."""
        try:
            md = self._producer.list_topics(topic=topic, timeout=timeout_s)
        except confluent_kafka.KafkaException:
            return False
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            return False
        return all(p.leader >= 0 and p.error is None for p in tmd.partitions.values())

    # ---------------------------------------------------------------- internals

    def _schedule(self, delay: float) -> None:
        assert self._loop is not None
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._busy = delay <= BUSY_POLL_S
        self._tick_handle = self._loop.call_later(delay, self._tick)

    def _tick(self) -> None:
        self._tick_handle = None
        try:
            self._producer.poll(0)
        except Exception:  # a callback must never stop the polling
            log.exception("producer_poll_failed")
        self._drain()
        self._sweep()
        if not self._closed:
            self._schedule(BUSY_POLL_S if self._deadlines else IDLE_POLL_S)

    def _drain(self) -> None:
        if not self._done:
            return
        batch, self._done = self._done, []
        on_error = self._on_delivery_error
        for fut, delivery in batch:
            if not fut.done():
                fut.set_result(delivery)
            if delivery.error is not None and on_error is not None:
                on_error(delivery.error)

    def _sweep(self) -> None:
        deadlines = self._deadlines
        if not deadlines:
            return
        now = self._loop.time() if self._loop is not None else 0.0
        while deadlines:
            deadline, fut = deadlines[0]
            if not fut.done():
                if deadline > now:
                    break
                fut.set_result(Delivery("_ANSWER_TIMEOUT"))
                if self._on_delivery_error is not None:
                    self._on_delivery_error("_ANSWER_TIMEOUT")
            deadlines.popleft()

    def _on_client_error(self, err: Any) -> None:
        name = err.name() if hasattr(err, "name") else str(err)
        fatal = bool(getattr(err, "fatal", lambda: False)())
        now = time.monotonic()
        # the same errors repeat on every reconnect attempt during an outage: each at most every 10 s
        if fatal or now - self._error_logged_at.get(name, -1e18) >= ERROR_LOG_INTERVAL_S:
            log.warning("kafka_client_error", error=name, fatal=fatal)
            self._error_logged_at[name] = now
        self.last_error = name
