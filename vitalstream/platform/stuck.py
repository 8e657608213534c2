"""Stuck stages: a committed offset that has not moved for a while although the stage has lag.

The health check itself is stateless per call; :class:`OffsetWatch` is the state it keeps in
the process between calls (the gateway runs the checks every few seconds for its gauges): per
(stage, partition), the committed offset last seen and when it last moved. The decision
(:func:`is_stuck`) is a pure function of that record, the partition's lag and the time.
"""

from __future__ import annotations

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
