"""The fetch stage (design §5.1): download each ping-mode payload within seconds of its arrival.

Runs inside the worker process beside the Faust agents, on a consumer group of its own
(:func:`~vitalstream.platform.control.fetch_group`, ``<prefix>worker-fetch``: the worker's
ACLs cover it, and a scoring-generation switch never downloads everything again). It reads
``webhooks.raw`` and ``webhooks.backfill``; a record that is not a ping (:func:`streams.ping.looks_like_ping` on the
raw bytes, then :func:`streams.ping.ping_of`) is done at once. A ping is downloaded in a
task of its own — at most ``fetch_concurrency`` at once, each bounded by
``s3_fetch_timeout_s`` — so a slow or silent host delays nothing but its own pings; the
downloaded payload goes back to the ping's topic as a raw record (:func:`streams.ping.fetched_record`),
a failure through the retry tiers or to the DLQ (:meth:`streams.agents.Stage.failure`, the
one contract). Offsets: a partition's committed offset never passes a record whose outputs
are not yet acknowledged (:class:`OffsetTracker`): at-least-once; a second download of the
same ping is harmless, the fetched record's event id dedups.

The consumer is polled without blocking on the event loop (``consume(timeout=0)``), so
rebalance callbacks run on the loop thread too and nothing here needs a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from schemas.records import RawWebhook
from streams.agents import Stage
from streams.agents_io import Out
from streams.errors import SchemaInvalidError
from streams.ping import Ping, fetched_headers, fetched_record, is_fetched, looks_like_ping, ping_of
from streams.s3 import PayloadFetcher
from vitalstream.platform import kafka
from vitalstream.platform.control import fetch_group
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings
from vitalstream.platform.stall import StallGuard, abandon

log = get_logger("streams.fetch")

IDLE_S = 0.02
"""Pause of the loop when nothing arrived: the added arrival latency at most."""
POLL_MAX = 500
FETCH_CONSUMER = {"fetch.min.bytes": 256 * 1024, "fetch.wait.max.ms": 100}
"""This stage reads every raw record but acts on pings alone: its fetches wait up to 100 ms for
data to gather, where a fetch per append (``fetch.min.bytes`` 1) cost the shared broker a request
for every webhook. A ping waits at most that much longer for its download to start."""
FINAL_COMMIT_S = 10.0
TP = tuple[str, int]
OUTCOMES: dict[str, str] = {
    "UrlExpiredError": "expired",
    "RefusedUrlError": "refused",
    "PayloadTooLargeError": "too_large",
    "DownloadUnavailableError": "unavailable",
}
"""Error class → the ``outcome`` label of the fetch metrics (anything else: ``failed``)."""


class OffsetTracker:
    """Per partition: offsets taken and not yet finished; what may be committed.

    The committable position of a partition is its lowest unfinished offset, or the one after
    the last taken when all are finished. An ``epoch`` per assignment keeps a download that
    finishes after its partition was revoked (and perhaps assigned back) from moving it.
    """

    def __init__(self) -> None:
        self._pending: dict[TP, set[int]] = {}
        self._next: dict[TP, int] = {}
        self._committed: dict[TP, int] = {}
        self._epoch: dict[TP, int] = {}

    def take(self, tp: TP, offset: int) -> int:
        """Record ``offset`` as taken; returns the epoch :meth:`finish` must present."""
        self._pending.setdefault(tp, set()).add(offset)
        self._next[tp] = max(self._next.get(tp, 0), offset + 1)
        return self._epoch.setdefault(tp, 0)

    def finish(self, tp: TP, offset: int, epoch: int) -> None:
        if self._epoch.get(tp) == epoch and tp in self._pending:
            self._pending[tp].discard(offset)

    def committable(self) -> dict[TP, int]:
        """Positions that moved since :meth:`committed` was last told."""
        out: dict[TP, int] = {}
        for tp, nxt in self._next.items():
            pending = self._pending.get(tp)
            pos = min(pending) if pending else nxt
            if pos != self._committed.get(tp):
                out[tp] = pos
        return out

    def committed(self, positions: dict[TP, int]) -> None:
        self._committed.update(positions)

    def partitions(self) -> list[TP]:
        return list(self._next)

    def forget(self, tps: Sequence[TP]) -> None:
        for tp in tps:
            self._pending.pop(tp, None)
            self._next.pop(tp, None)
            self._committed.pop(tp, None)
            self._epoch[tp] = self._epoch.get(tp, 0) + 1


@dataclass(frozen=True, slots=True)
class _Consumed:
    """A confluent-kafka message as :class:`streams.agents_io.ConsumedMessage`."""

    topic: str
    partition: int
    offset: int
    timestamp: float | None
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]

    @classmethod
    def of(cls, msg: Message) -> _Consumed:
        _kind, ts_ms = msg.timestamp()
        headers = _headers(msg)
        return cls(
            str(msg.topic()),
            int(msg.partition() or 0),
            int(msg.offset() or 0),
            ts_ms / 1000,
            msg.key(),
            msg.value(),
            headers,
        )


def _headers(msg: Message) -> list[tuple[str, bytes]]:
    found = msg.headers() or []
    pairs = found.items() if isinstance(found, dict) else found
    return [(k, v.encode() if isinstance(v, str) else bytes(v)) for k, v in pairs if v is not None]


@dataclass(frozen=True, slots=True)
class _Event:
    message: _Consumed


def payload_fetcher(settings: Settings) -> PayloadFetcher:
    return PayloadFetcher(
        settings.s3_fetch_timeout_s, settings.s3_max_bytes, allow_private=settings.fetch_allow_private
    )


class FetchStage(Stage):
    """Pings in, fetched raw records (or failure records) out; see the module docstring."""

    def __init__(self, *args: Any, fetcher: PayloadFetcher, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetcher = fetcher
        self.tracker = OffsetTracker()
        self.tasks: set[asyncio.Task[None]] = set()
        self.topics = [self.topic("webhooks.raw"), self.topic("webhooks.backfill")]  # pings of either lane
        self.stall = StallGuard(self.settings, "fetch", fetch_group(self.settings), self.topics)
        self.consumer: Consumer | None = None
        self.pacing = kafka.CommitPacing()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then finish the downloads in flight and commit."""
        consumer = self._subscribed()
        try:
            while not stop.is_set():
                room = self.settings.fetch_concurrency - len(self.tasks)
                msgs = consumer.consume(num_messages=min(room, POLL_MAX), timeout=0) if room > 0 else []
                for msg in msgs:
                    self._take(msg)
                if not msgs or self.pacing.due():
                    self._commit(consumer)
                if msgs:
                    self.stall.received()
                elif room > 0 and self.stall.due():
                    consumer = await self._unless_stalled(consumer)
                await asyncio.sleep(0 if msgs else IDLE_S)
            if self.tasks:
                await asyncio.wait(self.tasks, timeout=self.settings.s3_fetch_timeout_s + 5)
            # what a restart would otherwise download again; bounded: a lost coordinator can stall a commit
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.to_thread(self._commit, consumer, False), FINAL_COMMIT_S)
        finally:
            consumer.close()
            self.stall.close()
            await self.fetcher.close()

    def _subscribed(self) -> Consumer:
        self.consumer = kafka.consumer(self.settings, "fetch", fetch_group(self.settings), **FETCH_CONSUMER)
        self.consumer.subscribe(self.topics, on_revoke=self._revoked)
        return self.consumer

    async def _unless_stalled(self, consumer: Consumer) -> Consumer:
        """``consumer``, or its replacement once it lost its group (:mod:`vitalstream.platform.stall`).
        The old member's downloads in flight move no offset: the new member reads their records again."""
        stalled = await asyncio.to_thread(self.stall.check, consumer)
        if not stalled:
            return consumer
        self.tracker.forget(self.tracker.partitions())
        replacement = self._subscribed()
        self.stall.replaced(stalled)
        abandon(consumer, "fetch")
        return replacement

    def _take(self, msg: Message) -> None:
        err = msg.error()
        if err is not None:
            if err.fatal():
                raise KafkaException(err)
            log.warning("fetch consumer error", error=err.str())
            return
        tp, offset = (str(msg.topic()), int(msg.partition() or 0)), int(msg.offset() or 0)
        epoch = self.tracker.take(tp, offset)
        ping = self._ping(msg)
        if ping is None:
            self.tracker.finish(tp, offset, epoch)
            return
        raw, request = ping
        task = asyncio.ensure_future(self._download(_Consumed.of(msg), raw, request, epoch))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _ping(self, msg: Message) -> tuple[RawWebhook, Ping] | None:
        value = msg.value()
        if not value or not looks_like_ping(value) or is_fetched(_headers(msg)):
            return None
        try:
            raw = self.codec.decode_as(value, RawWebhook)
        except Exception:  # normalize dead-letters an undecodable record; nothing to fetch here
            return None
        request = ping_of(raw, self.settings.source_formats)
        return None if request is None else (raw, request)

    async def _download(self, msg: _Consumed, raw: RawWebhook, ping: Ping, epoch: int) -> None:
        started = time.perf_counter()
        outs: list[Out] = []
        try:
            body = await self.fetcher.fetch_bytes(ping.url, ping.expires_at)
            fetched = fetched_record(raw, body)
            if ping_of(fetched, self.settings.source_formats) is not None:
                raise SchemaInvalidError("the downloaded payload is itself an s3_payload event")
            outs.append(Out(msg.topic, msg.key, self.codec.encode(fetched), fetched_headers(msg.headers, ping.url)))
            outcome = "fetched"
        except Exception as exc:  # every failure is routed (retry tier or DLQ), never raised
            outcome = OUTCOMES.get(type(exc).__name__, "failed")
            dead = self.dead_context(raw, "fetch", "s3_payload")
            self.failure(_Event(msg), exc, "fetch", raw.event_id, outs, dead_outcome=dead)
        self.metrics.fetch_seconds.labels(outcome).observe(time.perf_counter() - started)
        await self.send(outs)
        self.metrics.fetch_outcomes.labels(outcome).inc()
        self.tracker.finish((msg.topic, msg.partition), msg.offset, epoch)

    def _commit(self, consumer: Any, asynchronous: bool = True) -> None:
        positions = self.tracker.committable()
        if not positions:
            return
        try:
            offsets = [TopicPartition(t, p, o) for (t, p), o in positions.items()]
            consumer.commit(offsets=offsets, asynchronous=asynchronous)
        except KafkaException as exc:  # e.g. revoked meanwhile: the next owner downloads again
            log.warning("fetch offset commit failed", error=str(exc.args[0]))
            return
        self.pacing.issued()
        self.tracker.committed(positions)

    def _revoked(self, consumer: Any, partitions: list[TopicPartition]) -> None:
        if consumer is not self.consumer:  # a replaced consumer closing: its partitions were forgotten
            return
        self._commit(consumer)
        self.tracker.forget([(str(tp.topic), int(tp.partition)) for tp in partitions])
