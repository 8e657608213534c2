"""A group consumer that receives nothing although its partitions have records has lost its group.

librdkafka can lose a consumer group after a broker restart without telling the application
(librdkafka#3740, #3847). CI caught it once (12-02, the single-broker restart of the fault
suite): once the broker was back, the sink polled for three minutes and received nothing, the
broker removed it from the group for missing heartbeats, and it never rejoined, while the lag
of its topics grew. No error reached the loop; the consumer only ever returned nothing.

So a loop judges its consumer from outside with a :class:`StallGuard`. While the loop has
received nothing for ``check_every_s`` (a third of ``consumer_stall_after_s``), the guard reads the group's
committed offsets and lags every ``check_every_s`` with a reader that never subscribes
(:func:`kafka.group_positions`). A partition is stalled when it has lag and its committed
offset has not moved for ``consumer_stall_after_s`` (:class:`~vitalstream.platform.stuck.StallWatch`, the rule of
the health check's stuck stages). The partitions watched are the consumer's assignment or,
while it has none, every partition of its topics: a member with nothing assigned is healthy as
long as another member moves those offsets. A broker that does not answer decides nothing (an
outage is not a stall: librdkafka reconnects by itself), and records arriving start the watch
again. The loop then replaces its consumer (:func:`abandon` the old one) and counts it in
``vitalstream_consumer_rejoins_total{consumer}``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from confluent_kafka import Consumer, KafkaException, TopicPartition
from prometheus_client import Counter

from vitalstream.platform import kafka
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings
from vitalstream.platform.stuck import StallWatch, StuckPartition

log = get_logger("platform.stall")
LOOK_TIMEOUT_S = 3.0

REJOINS = Counter(
    "vitalstream_consumer_rejoins_total",
    "Group consumers replaced because they received nothing while their partitions had records",
    ["consumer"],
)


class StallGuard:
    """The outside view of one loop's subscribed consumer (see the module docstring)."""

    def __init__(self, settings: Settings, client_id: str, group: str, topics: Sequence[str]) -> None:
        self.settings = settings
        self.client_id = client_id
        self.group = group
        self.topics = list(topics)
        self.watch = StallWatch(settings.consumer_stall_after_s, time.monotonic())
        self._reader: Consumer | None = None

    def received(self) -> None:
        self.watch.received(time.monotonic())

    def due(self) -> bool:
        return self.watch.due(time.monotonic())

    def check(self, consumer: Consumer) -> list[StuckPartition]:
        """One look from outside, the stalled partitions. It blocks while the brokers answer (a
        request each: a few milliseconds), or up to ``LOOK_TIMEOUT_S`` a request when they do not;
        a look that fails is not retried before the next check."""
        now = time.monotonic()
        try:
            positions = kafka.group_positions(self.reader(), self._watched(consumer), LOOK_TIMEOUT_S, attempts=1)
            return self.watch.observe(positions, now)
        except KafkaException:
            self.watch.unanswered(now)
            return []

    def replaced(self, stalled: Sequence[StuckPartition]) -> None:
        """The loop replaced its consumer: say so once, count it, give the new one time to join."""
        log.warning(
            "the consumer receives nothing although its partitions have records: rejoining the group",
            consumer=self.client_id,
            stalled=[f"{s.stage}[{s.partition}]" for s in stalled[:10]],
            lag=sum(s.lag for s in stalled),
            for_s=round(max(s.for_s for s in stalled), 1),
        )
        REJOINS.labels(self.client_id).inc()
        self.received()

    def reader(self) -> Consumer:
        """A consumer of the group that never subscribes: it reads the group's offsets from outside."""
        if self._reader is None:
            self._reader = kafka.consumer(self.settings, self.client_id, self.group)
        return self._reader

    def _watched(self, consumer: Consumer) -> list[TopicPartition]:
        assignment: list[TopicPartition] = consumer.assignment()
        if assignment:
            return assignment
        known = self.reader().list_topics(timeout=LOOK_TIMEOUT_S).topics
        return [TopicPartition(t, p) for t in self.topics if t in known for p in sorted(known[t].partitions)]

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def abandon(consumer: Consumer, name: str) -> None:
    """Close a replaced consumer on a thread of its own: its close may wait for a coordinator
    forever (librdkafka#3740). Its uncommitted records come again to the new member."""

    def close() -> None:
        try:
            consumer.close()
        except Exception as exc:  # the consumer was lost already; its close has nothing left to save
            log.warning("closing a replaced consumer failed", consumer=name, error=type(exc).__name__)

    threading.Thread(target=close, name=f"{name}-replaced-consumer", daemon=True).start()
