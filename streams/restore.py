"""Restore the worker's tables from their changelogs before Faust starts, in bulk.

Faust restores a table by handing every changelog record, one by one, through its
recovery service into the store: about 12,000 keys/s here, so 1 M keys took 81 s before
the worker could score anything (design §11 asks ≤ 30 s). Faust only reads changelog
records *after* the offset a partition's local store says it has ("persisted offset"), so
bringing the local stores up to the changelogs' ends first leaves it nothing to do.

:func:`prerestore` does that with a confluent-kafka consumer (batches of records) and
RocksDB write batches — the same stores Faust opens, in the same raw mode, each batch
written together with its persisted offset so an interrupted restore resumes where it
stopped. It runs for every partition of every table: a partition this worker is not
assigned later is consistent with its offset anyway, and Faust continues it if it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, TopicPartition
from rocksdict import Options, Rdict, WriteBatch

from streams.generation import seen_events_changelog
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

OFFSET_KEY = b"__faust\x00offset__"
"""Where Faust's RocksDB store keeps a partition's persisted changelog offset."""
BATCH = 20_000
POLL_S = 0.1


@dataclass(frozen=True)
class TableLog:
    table: str
    """The Faust table name (its store files are ``<table>-<partition>.db``)."""
    changelog: str


@dataclass(frozen=True)
class RestoreReport:
    records: int
    partitions: int
    seconds: float


def table_logs(settings: Settings, app_id: str) -> list[TableLog]:
    """The worker's tables and where their changelogs are (see :mod:`streams.app`)."""
    return [
        TableLog("seen-events", seen_events_changelog(settings)),
        TableLog("confidence", f"{app_id}-confidence-changelog"),
        TableLog("quality-daily", f"{app_id}-quality-daily-changelog"),
    ]


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return options


def _restore_partition(consumer: Consumer, db: Rdict, topic: str, partition: int, timeout_s: float) -> int:
    low, high = kafka.watermarks(consumer, topic, partition, timeout_s)  # retried just after topic creation
    persisted = db.get(OFFSET_KEY)
    start = max(low, int(persisted) + 1) if persisted is not None else low
    if start >= high:
        return 0
    consumer.assign([TopicPartition(topic, partition, start)])
    last, applied = start - 1, 0
    progress_at = time.monotonic()
    try:
        while last < high - 1:
            # a short wait: consume() returns early only once it has BATCH records or sees the end
            messages = consumer.consume(BATCH, timeout=POLL_S)
            if not messages:
                if time.monotonic() - progress_at > timeout_s:
                    raise TimeoutError(f"restoring {topic}[{partition}] stalled at offset {last + 1} of {high}")
                continue
            progress_at = time.monotonic()
            batch = WriteBatch(raw_mode=True)
            for msg in messages:
                err = msg.error()
                if err is not None:
                    if err.fatal():
                        raise KafkaException(err)
                    continue
                key, value, offset = msg.key(), msg.value(), msg.offset()
                if offset is None:
                    continue
                last = offset
                if key is None:
                    continue
                if value is None:
                    batch.delete(key)
                else:
                    batch.put(key, value)
                applied += 1
            batch.put(OFFSET_KEY, str(last).encode())  # with the data: a crash resumes exactly here
            db.write(batch)
    finally:
        consumer.unassign()
    return applied


def prerestore(settings: Settings, tabledir: Path, logs: list[TableLog], timeout_s: float = 30.0) -> RestoreReport:
    """Bring every local table partition up to its changelog's end (RocksDB stores only)."""
    started = time.monotonic()
    if not settings.worker_store.startswith("rocksdb"):
        return RestoreReport(0, 0, 0.0)
    tabledir.mkdir(parents=True, exist_ok=True)
    consumer = kafka.consumer(  # never commits: assign() only
        settings, "restore", f"{settings.group_prefix}restore", **{"enable.partition.eof": True}
    )
    records = partitions = 0
    try:
        for log in logs:
            if not kafka.topic_exists(consumer, log.changelog, timeout_s):
                continue
            meta = consumer.list_topics(log.changelog, timeout=timeout_s).topics[log.changelog]
            for partition in sorted(meta.partitions):
                db = Rdict(str(tabledir / f"{log.table}-{partition}.db"), options=_options())
                try:
                    records += _restore_partition(consumer, db, log.changelog, partition, timeout_s)
                finally:
                    db.close()
                partitions += 1
    finally:
        consumer.close()
    return RestoreReport(records, partitions, time.monotonic() - started)
