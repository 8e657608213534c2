"""Durable Kafka producer with an asyncio bridge.

``produce()`` hands the record to librdkafka (``acks=all``, idempotence on) and returns a
future that resolves from the delivery report. One background thread polls the producer;
delivery reports collected during a poll are handed to the event loop in one batch
(one ``call_soon_threadsafe`` per poll, not per message), so the loop never blocks.

``message.timeout.ms`` equals the produce timeout: librdkafka itself gives up on a message
it could not deliver in time, so a request answered 503 is, as far as the client can know,
not in the topic (the answer comes from the delivery report, not from a guess).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import confluent_kafka

from vitalstream.observability import get_logger

log = get_logger("gateway.producer")

POLL_INTERVAL_S = 0.1


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


def producer_config(
    bootstrap: str, *, linger_ms: int, timeout_s: float, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "client.id": "vitalstream-gateway",
        "acks": "all",
        "enable.idempotence": True,
        "linger.ms": linger_ms,
        "compression.type": "lz4",
        "message.timeout.ms": max(1000, int(timeout_s * 1000)),
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 512 * 1024,
        "message.max.bytes": 16 * 1024 * 1024,
        "socket.keepalive.enable": True,
        "reconnect.backoff.max.ms": 1000,
        "topic.metadata.refresh.interval.ms": 30_000,
    }
    if extra:
        cfg.update(extra)
    return cfg


class _LibrdkafkaLog:
    """librdkafka's log lines, through structlog (served by poll(), i.e. in the poll thread)."""

    def log(self, level: int, fmt: str, *args: object) -> None:
        message = fmt % args if args else fmt
        if level >= logging.ERROR:
            log.error("librdkafka", message=message)
        elif level >= logging.WARNING:
            log.warning("librdkafka", message=message)
        else:
            log.debug("librdkafka", message=message)


class DurableProducer:
    """confluent-kafka Producer + poll thread + delivery-report → asyncio future bridge."""

    def __init__(self, config: dict[str, Any], *, on_delivery_error: Callable[[str], None] | None = None) -> None:
        self._config = config
        self._producer: Any = confluent_kafka.Producer(
            {"logger": _LibrdkafkaLog(), **config}, error_cb=self._on_client_error
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._done: list[tuple[asyncio.Future[Delivery], Delivery]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._on_delivery_error = on_delivery_error
        self._closed = False
        self.last_error: str | None = None

    # ---------------------------------------------------------------- lifecycle

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin polling; delivery futures belong to ``loop``. Idempotent."""
        if self._thread is not None or self._loop is not None:
            return
        self._loop = loop
        import os
        if os.environ.get("GW_POLL_MODE") == "loop":
            self._tick_handle = loop.call_later(0.1, self._tick)
            self._soon = False
            return
        self._thread = threading.Thread(target=self._poll_forever, name="kafka-poll", daemon=True)
        self._thread.start()

    async def close(self, flush_timeout_s: float = 10.0) -> int:
        """Stop polling, flush what is queued (delivery reports still resolve), return what was left."""
        if self._closed:
            return 0
        self._closed = True
        self._stop.set()
        loop = asyncio.get_running_loop()
        if self._thread is not None:
            await loop.run_in_executor(None, self._thread.join)
        left: int = await loop.run_in_executor(None, self._producer.flush, flush_timeout_s)
        self._hand_over()
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
        if self._closed or self._loop is None:
            raise ProducerUnavailable("producer is not running")
        fut: asyncio.Future[Delivery] = self._loop.create_future()

        def report(err: Any, msg: KafkaMessage) -> None:
            # runs in whichever thread polls (the poll thread, or close()'s flush after it stopped);
            # only that thread swaps self._done, so appending to the current list is safe
            if err is None:
                self._done.append((fut, Delivery(None, msg.partition(), msg.offset())))
            else:
                self._done.append((fut, Delivery(err.name() if hasattr(err, "name") else str(err))))

        try:
            self._producer.produce(topic, value, key, on_delivery=report, headers=headers)
        except BufferError:
            raise ProducerUnavailable("local producer queue is full") from None
        except confluent_kafka.KafkaException as exc:
            raise ProducerUnavailable(f"produce failed: {exc.args[0].name()}") from None
        if self._thread is None and not self._soon:
            self._soon = True
            self._tick_handle.cancel()
            self._tick_handle = self._loop.call_later(0.001, self._tick)
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

    def _tick(self) -> None:
        self._soon = False
        self._producer.poll(0)
        if self._done:
            batch, self._done = self._done, []
            self._resolve(batch)
        if len(self._producer):
            self._soon = True
            self._tick_handle.cancel()
            self._tick_handle = self._loop.call_later(0.001, self._tick)
        else:
            self._tick_handle = self._loop.call_later(0.1, self._tick)

    def _poll_forever(self) -> None:
        poll = self._producer.poll
        while not self._stop.is_set():
            try:
                poll(POLL_INTERVAL_S)
            except Exception:  # a callback must never kill the poll thread
                log.exception("producer_poll_failed")
                time.sleep(POLL_INTERVAL_S)
            if self._done:
                self._hand_over()

    def _hand_over(self) -> None:
        batch, self._done = self._done, []
        if not batch:
            return
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
            loop.call_soon_threadsafe(self._resolve, batch)

    def _resolve(self, batch: list[tuple[asyncio.Future[Delivery], Delivery]]) -> None:
        for fut, delivery in batch:
            if not fut.done():
                fut.set_result(delivery)
            if delivery.error is not None and self._on_delivery_error is not None:
                self._on_delivery_error(delivery.error)

    def _on_client_error(self, err: Any) -> None:
        name = err.name() if hasattr(err, "name") else str(err)
        self.last_error = name
        log.warning("kafka_client_error", error=name, fatal=bool(getattr(err, "fatal", lambda: False)()))
