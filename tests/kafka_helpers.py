"""Reading topics back in tests: everything up to the high watermarks, or until N records arrived."""

from __future__ import annotations

import logging
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition  # type: ignore[import-untyped]

from vitalstream.platform.settings import Settings

QUIET = logging.getLogger("tests.librdkafka")
QUIET.setLevel(logging.CRITICAL)


def consume_all(
    settings: Settings, short_topic: str, expected: int | None = None, timeout_s: float = 10.0
) -> list[Message]:
    """Every record of ``short_topic`` from the beginning.

    Without ``expected``: up to the high watermarks at call time. With it: keep reading
    until at least ``expected`` records arrived or ``timeout_s`` passed (then return what came).
    """
    topic = settings.topic(short_topic)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap,
            "group.id": f"test-reader-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "logger": QUIET,
        }
    )
    try:
        md = consumer.list_topics(topic, timeout=10)
        partitions = sorted(md.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])

        def high(p: int) -> int:
            for attempt in range(50):  # right after creation a partition may not have its leader yet
                try:
                    return int(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1])
                except KafkaException:
                    if attempt == 49:
                        raise
                    time.sleep(0.1)
            raise AssertionError("unreachable")

        def highs() -> dict[int, int]:
            return {p: high(p) for p in partitions}

        out: list[Message] = []
        positions = {p: 0 for p in partitions}
        target = highs()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            msg = consumer.poll(0.1)
            if msg is not None and not msg.error():
                out.append(msg)
                positions[msg.partition()] = msg.offset() + 1
                continue
            if all(positions[p] >= target[p] for p in partitions):
                if expected is None or len(out) >= expected:
                    # Read anything that arrived meanwhile, so extra (duplicate) records show too.
                    target = highs()
                    if all(positions[p] >= target[p] for p in partitions):
                        break
                else:
                    target = highs()
        return out
    finally:
        consumer.close()
