"""Stuck stages: a committed offset that has not moved for a while although the stage has lag.

The health check itself is stateless per call; :class:`OffsetWatch` is the state it keeps in
the process between calls (the gateway runs the checks every few seconds for its gauges): per
(stage, partition), the committed offset last seen and when it last moved. The decision
(:func:`is_stuck`) is a pure function of that record, the partition's lag and the time.
:class:`StallWatch` applies the same rule to one consumer that has received nothing
(:mod:`vitalstream.platform.stall`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Seen:
    offset: int
    moved_at: float
    """When the committed offset last changed, or the partition last had no lag (monotonic seconds)."""


@dataclass(frozen=True, slots=True)
class StuckPartition:
    stage: str
    partition: int
    offset: int
    lag: int
    for_s: float

    def as_dict(self) -> dict[str, int | float | str]:
        return {"partition": self.partition, "offset": self.offset, "lag": self.lag, "for_s": round(self.for_s, 1)}


def next_seen(previous: Seen | None, offset: int, lag: int, now: float) -> Seen:
    """The record after one observation: it restarts when the offset moved or there is nothing to read."""
    if previous is None or previous.offset != offset or lag <= 0:
        return Seen(offset, now)
    return previous


def is_stuck(seen: Seen, lag: int, now: float, stuck_after_s: float) -> bool:
    """Lag to read and the committed offset unchanged for ``stuck_after_s`` or more."""
    return lag > 0 and now - seen.moved_at >= stuck_after_s


@dataclass
class OffsetWatch:
    """Last-moved time per (stage, partition), kept across health checks in one process."""

    seen: dict[tuple[str, int], Seen] = field(default_factory=dict)

    def observe(
        self, stage: str, partitions: dict[int, tuple[int, int]], now: float, stuck_after_s: float
    ) -> list[StuckPartition]:
        """Record ``{partition: (committed offset, lag)}`` of ``stage``; returns its stuck partitions."""
        stuck: list[StuckPartition] = []
        for partition, (offset, lag) in sorted(partitions.items()):
            seen = next_seen(self.seen.get((stage, partition)), offset, lag, now)
            self.seen[(stage, partition)] = seen
            if is_stuck(seen, lag, now, stuck_after_s):
                stuck.append(StuckPartition(stage, partition, offset, lag, now - seen.moved_at))
        return stuck


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
