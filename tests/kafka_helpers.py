"""Reading topics back in tests (through the toolkit's read-to-end), and Kafka's Java partitioner."""

from __future__ import annotations

import time
from collections import defaultdict

from confluent_kafka import Message

from schemas.topics import CATALOGUE
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

_M = 0x5BD1E995


def murmur2(data: bytes) -> int:
    """Kafka's ``Utils.murmur2`` (the Java client's default partitioner), as an unsigned 32-bit int."""
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = int.from_bytes(data[i : i + 4], "little")
        k = (k * _M) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * _M) & 0xFFFFFFFF
        h = ((h * _M) & 0xFFFFFFFF) ^ k
    tail = data[length - length % 4 :]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h ^= tail[0]
        h = (h * _M) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * _M) & 0xFFFFFFFF
    return h ^ (h >> 15)


def java_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's Java producer picks for ``key`` (``toPositive(murmur2) % n``)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def consume_all(
    settings: Settings, short_topic: str, expected: int | None = None, timeout_s: float = 10.0
) -> list[Message]:
    """Every record of ``short_topic`` from the beginning.

    Without ``expected``: up to the high watermarks at call time. With it: keep reading until
    at least ``expected`` records arrived or ``timeout_s`` passed, then once more to the end, so
    extra (duplicate) records show too.
    """
    topic = settings.topic(short_topic)
    reader = kafka.consumer(settings, "test-reader")
    out: list[Message] = []
    positions: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s

    def read_pass() -> None:
        for msg in kafka.iter_to_end(reader, topic, timeout_s=timeout_s, start_offsets=positions):
            out.append(msg)
            positions[int(msg.partition() or 0)] = int(msg.offset() or 0) + 1

    try:
        read_pass()
        while expected is not None and len(out) < expected and time.monotonic() < deadline:
            time.sleep(0.1)
            read_pass()
        if expected is not None:
            read_pass()
        return out
    finally:
        reader.close()


def misplaced_keys(settings: Settings) -> dict[str, list[str]]:
    """Per catalogue topic, the keys found in another partition than Java's, or in two partitions."""
    found: dict[str, list[str]] = {}
    for spec in CATALOGUE:
        partitions_by_key: dict[bytes, set[int]] = defaultdict(set)
        for msg in consume_all(settings, spec.name):
            key = msg.key()
            if key is not None:
                partitions_by_key[key].add(int(msg.partition() or 0))
        wrong = [
            f"{key!r} in {sorted(parts)}"
            for key, parts in partitions_by_key.items()
            if parts != {java_partition(key, spec.partitions)}
        ]
        if wrong:
            found[spec.name] = wrong[:5] + ([f"... {len(wrong)} keys"] if len(wrong) > 5 else [])
    return found
