"""A consumer that receives nothing although its partitions have records: the sink rejoins its group.

librdkafka can lose a group after a broker restart without telling the application
(librdkafka#3740, #3847). CI caught it once (12-02, the single-broker restart of the fault
suite): once the broker was back, the sink polled for three minutes and received nothing, the
broker removed it from the group for missing heartbeats, and it never rejoined, while the lag
of its topics grew. No error reached the loop; the consumer only ever returned nothing.

So the sink judges its consumer from outside. While the loop has received nothing for
``check_every_s``, it reads its group's committed offsets and lags every ``check_every_s`` with a
reader that never subscribes (:func:`vitalstream.platform.kafka.group_positions`), and a
partition is stalled when it has lag and its committed offset has not moved for
``stall_after_s`` (:mod:`vitalstream.platform.stuck`, the rule of the health check's stuck
stages). The partitions watched are the consumer's assignment or, while it has none, every
partition of its topics: a member with nothing assigned is healthy as long as another member
moves those offsets. A broker that does not answer decides nothing (an outage is not a stall:
librdkafka reconnects by itself), and records arriving start the watch again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from vitalstream.platform.stuck import OffsetWatch, StuckPartition


class StallWatch:
    """When to look at the group from outside, and what the looks say (plain data, no I/O)."""

    def __init__(self, stall_after_s: float, now: float) -> None:
        self.stall_after_s = stall_after_s
        self.check_every_s = stall_after_s / 3
        self._offsets = OffsetWatch()
        self._received_at = now
        self._checked_at = now

    def received(self, now: float) -> None:
        """Records arrived: the consumer is alive; the watch starts again."""
        self._received_at = now
        self._offsets = OffsetWatch()

    def due(self, now: float) -> bool:
        """Nothing received for ``check_every_s``, and no look for as long."""
        return min(now - self._received_at, now - self._checked_at) >= self.check_every_s

    def unanswered(self, now: float) -> None:
        """The look failed (brokers away): try again at the next check."""
        self._checked_at = now

    def observe(self, positions: Mapping[tuple[str, int], tuple[int, int]], now: float) -> list[StuckPartition]:
        """One look, ``{(topic, partition): (committed offset, lag)}``; returns the stalled partitions."""
        self._checked_at = now
        by_topic: dict[str, dict[int, tuple[int, int]]] = defaultdict(dict)
        for (topic, partition), position in positions.items():
            by_topic[topic][partition] = position
        stalled: list[StuckPartition] = []
        for topic, partitions in sorted(by_topic.items()):
            stalled += self._offsets.observe(topic, partitions, now, self.stall_after_s)
        return stalled
