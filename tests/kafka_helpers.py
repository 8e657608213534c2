"""Reading topics back in tests (through the toolkit's read-to-end), and where keys sit."""

from __future__ import annotations

import time
from collections import defaultdict

from confluent_kafka import Message
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource

from schemas.topics import CATALOGUE
from vitalstream.platform import kafka
from vitalstream.platform.partitioning import java_partition
from vitalstream.platform.settings import Settings


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


def lower_max_message_bytes(settings: Settings, short: str, limit: int) -> None:
    """Set a topic's max.message.bytes and wait until the broker reports it."""
    admin = kafka.admin(settings, "test")
    entry = ConfigEntry("max.message.bytes", str(limit), incremental_operation=AlterConfigOpType.SET)
    res = ConfigResource(ConfigResource.Type.TOPIC, settings.topic(short), incremental_configs=[entry])
    admin.incremental_alter_configs([res])[res].result()
    plain = ConfigResource(ConfigResource.Type.TOPIC, settings.topic(short))
    deadline = time.monotonic() + 10
    while admin.describe_configs([plain])[plain].result()["max.message.bytes"].value != str(limit):
        assert time.monotonic() < deadline, "the lowered max.message.bytes never showed"
        time.sleep(0.1)
