"""Transient failures: pause every assigned partition, back off with jitter, resume where reading stopped.

The sink never skips a record because PostgreSQL or Kafka is away: the write is retried until it
succeeds or the process stops. While it backs off, the consumer keeps polling (its group
membership stays alive and rebalances are served) with its partitions paused; a record fetched
before the pause took effect is remembered and read again after resuming.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

from confluent_kafka import Consumer, KafkaException, TopicPartition
from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from schemas.deadletter import describe
from sinks import metrics as m
from sinks.deadletter import error_class
from sinks.errors import is_transient
from vitalstream.platform.observability import get_logger

log = get_logger("sinks.backpressure")
T = TypeVar("T")
MAX_BACKOFF_S = 10.0


class Backpressure:
    def __init__(self, consumer: Consumer, stop: threading.Event) -> None:
        self._consumer = consumer
        self._stop = stop
        self._paused = False
        self._rewind: dict[tuple[str, int], int] = {}

    def retrying(self, fn: Callable[[], T]) -> T:
        """``fn()``, retried through transient failures with the partitions paused meanwhile."""
        retrying = Retrying(
            retry=retry_if_exception(is_transient),
            wait=wait_random_exponential(multiplier=0.1, max=MAX_BACKOFF_S),
            stop=lambda _state: self._stop.is_set(),
            sleep=self._sleep_paused,
            before_sleep=self._on_transient,
            reraise=True,
        )
        result = retrying(fn)
        self._resume()
        return result

    def rebind(self, consumer: Consumer) -> None:
        """The sink replaced its consumer (:mod:`vitalstream.platform.stall`): pause, resume and poll that one."""
        self._consumer = consumer
        self._paused = False
        self._rewind.clear()

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions revoked: their next owner reads them, not us."""
        for tp in partitions:
            self._rewind.pop((tp.topic, tp.partition), None)

    def _on_transient(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        name = error_class(exc) if exc else "unknown"
        m.TRANSIENT_ERRORS.labels(name).inc()
        log.warning(
            "transient failure: pausing and retrying",
            error=name,
            detail=describe(exc).message if exc else None,
            attempt=state.attempt_number,
        )
        self._pause()

    def _pause(self) -> None:
        if self._paused:
            return
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.pause(assignment)
        self._paused = True
        m.PAUSED.set(1)

    def _resume(self) -> None:
        if not self._paused:
            return
        assignment = self._consumer.assignment()
        if assignment:
            self._consumer.resume(assignment)
        for (topic, partition), offset in sorted(self._rewind.items()):
            try:
                self._consumer.seek(TopicPartition(topic, partition, offset))
            except KafkaException as exc:
                log.warning("seek after resume failed", topic=topic, partition=partition, error=describe(exc).message)
        self._rewind.clear()
        self._paused = False
        m.PAUSED.set(0)

    def _sleep_paused(self, seconds: float) -> None:
        """Back off while keeping the group membership alive (poll serves rebalances)."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            msg = self._consumer.poll(min(remaining, 0.5))
            if msg is not None and msg.error() is None:
                # fetched before the pause took effect: read it again after resuming
                key, offset = (str(msg.topic()), int(msg.partition() or 0)), int(msg.offset() or 0)
                self._rewind[key] = min(self._rewind.get(key, offset), offset)
