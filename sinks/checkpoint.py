"""Offsets: committed only after a batch's effects are durable, asynchronously, and lag observed.

A synchronous commit blocks the loop until the group coordinator answers, and librdkafka can wait
for a coordinator forever after a broker restart (librdkafka#3740, #3847): the chaos suite once
caught the sink silent for minutes. A commit that fails (reported to :meth:`Checkpoint.on_commit`)
is covered by the next one, which carries later offsets; if none follows, the next owner
redelivers from the last committed offset, and every write is idempotent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, TopicPartition

from sinks import metrics as m
from vitalstream.platform.observability import get_logger

log = get_logger("sinks.checkpoint")


def next_offsets(msgs: Sequence[Message]) -> list[TopicPartition]:
    """Per partition, the offset after the last message handled."""
    last: dict[tuple[str, int], int] = {}
    for msg in msgs:
        key = (str(msg.topic()), int(msg.partition() or 0))
        last[key] = max(last.get(key, -1), int(msg.offset() or 0))
    return [TopicPartition(t, p, o + 1) for (t, p), o in sorted(last.items())]


class Checkpoint:
    def __init__(self) -> None:
        self.last_commit_at: float | None = None
        """``time.perf_counter()`` of the latest acknowledged offset commit (benchmarks)."""

    def commit(self, consumer: Consumer, msgs: Sequence[Message]) -> None:
        """Issue the commit of ``msgs``' offsets; never waits for it."""
        try:
            consumer.commit(offsets=next_offsets(msgs), asynchronous=True)
        except KafkaException as exc:  # e.g. the partitions were revoked meanwhile
            log.warning("offset commit failed", error=str(exc.args[0]))

    def on_commit(self, err: KafkaError | None, partitions: list[TopicPartition]) -> None:
        """librdkafka's commit report (served by the consumer's poll)."""
        failed = [tp for tp in partitions if tp.error is not None]
        if err is not None or failed:
            m.COMMIT_FAILURES.inc()
            log.warning("offset commit failed", error=str(err or failed[0].error))
        else:
            self.last_commit_at = time.perf_counter()

    @staticmethod
    def observe_lag(consumer: Consumer, msgs: Sequence[Message]) -> None:
        seen = {(str(msg.topic()), int(msg.partition() or 0)): int(msg.offset() or 0) for msg in msgs}
        for (topic, partition), offset in seen.items():
            try:
                _lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, partition), cached=True)
            except KafkaException:
                continue
            if hi is not None and hi >= 0:
                m.CONSUMER_LAG.labels(topic, str(partition)).set(max(hi - offset - 1, 0))
