"""Kafka's Java partitioner, and the repair of compacted topics written by another partitioner.

Every writer places keys with murmur2 (see :mod:`vitalstream.platform.kafka`). Versions before
the toolkit wrote some records (recompute's publish, DLQ replays) with librdkafka's CRC32
partitioner, so a compacted topic may hold a second, stale live value of a key in another
partition — forever, since compaction works per partition. :func:`repair_compacted` finds such
copies and writes a tombstone for the key *into that partition*, which compaction then removes;
the copy in the key's own partition is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from schemas.topics import CATALOGUE
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (the Java client's default partitioner), as an unsigned 32-bit int."""
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * _M) & 0xFFFFFFFF
        k ^= k >> 24
        h = ((h * _M) & 0xFFFFFFFF) ^ ((k * _M) & 0xFFFFFFFF)
    tail = data[length - length % 4 :]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


def java_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java producer picks for ``key`` (``toPositive(murmur2) % n``)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass
class RepairReport:
    tombstones: dict[str, int] = field(default_factory=dict)
    """Per topic: stale copies deleted (tombstones written into their partitions)."""


def stale_copies(settings: Settings, topic: str, partitions: int) -> Iterator[tuple[bytes, int]]:
    """(key, partition) of every live value that sits outside its key's Java partition."""
    live: dict[tuple[bytes, int], bool] = {}
    reader = kafka.consumer(settings, "repair")
    try:
        for msg in kafka.iter_to_end(reader, topic):
            key = msg.key()
            if key is not None:
                live[(key, int(msg.partition() or 0))] = msg.value() is not None
    finally:
        reader.close()
    for (key, partition), alive in live.items():
        if alive and partition != java_partition(key, partitions):
            yield key, partition


def repair_compacted(settings: Settings) -> RepairReport:
    """Tombstone every stale copy in every compacted catalogue topic (idempotent)."""
    report = RepairReport()
    producer = kafka.producer(settings, "repair")
    for spec in CATALOGUE:
        if "compact" not in spec.cleanup_policy:
            continue
        topic = settings.topic(spec.name)
        tombstones = [
            kafka.OutRecord(topic, None, key, partition=partition)
            for key, partition in stale_copies(settings, topic, spec.partitions)
        ]
        report.tombstones[spec.name] = kafka.produce_all(producer, tombstones)
    return report
