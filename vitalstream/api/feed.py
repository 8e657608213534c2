"""The one ``metrics.latest`` consumer of an API process, on a thread of its own.

It reads the compacted topic to its end (toolkit ``iter_to_end``: never a partial view),
marks the hub ready, then follows the topic. Records are decoded on the thread and handed
to the hub on the event loop in batches; the thread never touches the hub itself.

The partitions are assigned by hand (every process reads all of them), so partitions added
to the topic later are found by asking the broker every ``VITALSTREAM_API_PARTITION_REFRESH_S``
and followed from their first offset: everything in a new partition came after this process
started reading, and a client's ``Last-Event-ID`` that does not name it resumes it from there.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from schemas.codec import Codec, DecodeError
from schemas.records import LatestMetric
from vitalstream.api.hub import Change, Hub
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("api.feed")
BATCH = 2000
JSON_OPTIONS = orjson.OPT_UTC_Z
FETCH_WAIT_MS = 50
"""How long the broker may hold a fetch with nothing new: bounds the stream's added latency."""


def metric_json(record: LatestMetric) -> bytes:
    """The API's metric object for a ``metrics.latest`` record (the same fields as the REST answer)."""
    return orjson.dumps(
        {
            "subject": record.subject,
            "metric": record.metric,
            "value": record.value,
            "unit": record.unit,
            "measured_at": record.measured_at,
            "measured_until": record.measured_until,
            "provider": record.provider,
            "confidence": record.confidence,
            "level": record.level,
            "generation": record.generation,
            "updated_at": record.updated_at,
        },
        option=JSON_OPTIONS,
    )


def position_of(msg: Message) -> tuple[int, int]:
    partition, offset = msg.partition(), msg.offset()
    assert partition is not None and offset is not None  # a consumed record always has both
    return partition, offset


def change_of(codec: Codec, msg: Message) -> Change:
    partition, offset = position_of(msg)
    key = (msg.key() or b"").decode("utf-8", "replace")
    subject, sep, metric = key.rpartition("|")
    value = msg.value()
    if value is None:
        return Change(partition, offset, subject if sep else "", metric, None)
    try:
        record = codec.decode_as(value, LatestMetric)
    except DecodeError as exc:
        log.warning("stream_record_unreadable", partition=partition, offset=offset, reason=str(exc))
        return Change(partition, offset, "", "", None)
    return Change(partition, offset, record.subject, record.metric, metric_json(record))


class Feed:
    def __init__(self, settings: Settings, hub: Hub, loop: asyncio.AbstractEventLoop) -> None:
        self._settings = settings
        self._hub = hub
        self._loop = loop
        self._topic = settings.topic("metrics.latest")
        self._codec = codec_for(settings)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="api-feed", daemon=True)
        self.last_record_at: datetime | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        if not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        overrides: dict[str, Any] = {"fetch.wait.max.ms": FETCH_WAIT_MS}
        client = kafka.consumer(self._settings, "api-stream", None, **overrides)
        try:
            starts = self._catch_up(client)
            if starts is None:
                return
            client.assign([TopicPartition(self._topic, p, o) for p, o in starts.items()])
            self._follow(client, set(starts))
        finally:
            client.close()

    def _catch_up(self, client: Consumer) -> dict[int, int] | None:
        """Read to the end (retrying until the broker answers); the offsets to follow from."""
        while not self._stop.is_set():
            try:
                partitions = kafka.partitions_of(client, self._topic)
                ends = kafka.end_offsets(client, self._topic, partitions)
                self._post(self._hub.start, partitions)
                last: dict[int, int] = {}
                batch: list[Change] = []
                for msg in kafka.iter_to_end(client, self._topic, timeout_s=30):
                    batch.append(change_of(self._codec, msg))
                    partition, offset = position_of(msg)
                    last[partition] = offset
                    if len(batch) >= BATCH:
                        self._post(self._hub.apply, batch)
                        batch = []
                self._post(self._hub.apply, batch)
                starts = {p: max(last.get(p, -1) + 1, ends[p][1]) for p in partitions}
                self._post(self._hub.advance, {p: o - 1 for p, o in starts.items()})
                self._post(self._hub.mark_ready)
                log.info("stream_ready", topic=self._topic, partitions=len(partitions))
                return starts
            except (KafkaException, kafka.ReadIncomplete) as exc:
                log.warning("stream_catch_up_failed", topic=self._topic, error=str(exc))
                self._stop.wait(2.0)
        return None

    def _follow(self, client: Consumer, partitions: set[int]) -> None:
        refresh_s = self._settings.api_partition_refresh_s
        next_refresh = time.monotonic() + refresh_s
        while not self._stop.is_set():
            if time.monotonic() >= next_refresh:
                partitions = self._assign_new(client, partitions)
                next_refresh = time.monotonic() + refresh_s
            messages = kafka.consume_ready(client, BATCH, wait_s=0.2)  # a change goes out as it arrives
            batch: list[Change] = []
            for msg in messages:
                err = msg.error()
                if err is None:
                    batch.append(change_of(self._codec, msg))
                elif err.code() != KafkaError._PARTITION_EOF:
                    log.warning("stream_consume_error", error=err.name())
                    time.sleep(0.5)
            if batch:
                self.last_record_at = datetime.now(UTC)
                self._post(self._hub.apply, batch)

    def _assign_new(self, client: Consumer, known: set[int]) -> set[int]:
        """Partitions added to the topic since ``known``, assigned from their first offset."""
        try:
            added = sorted(set(kafka.partitions_of(client, self._topic, timeout_s=5.0)) - known)
        except KafkaException as exc:
            log.warning("stream_partition_refresh_failed", topic=self._topic, error=str(exc))
            return known
        if added:
            client.incremental_assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in added])
            self._post(self._hub.start, added)
            log.info("stream_partitions_added", topic=self._topic, partitions=added)
        return known | set(added)
