"""The sink's offset commits: only what is durable, at most one per interval under load, at once when idle."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import TopicPartition

from sinks.checkpoint import Checkpoint
from tests.unit.test_sink_inbound import Msg
from vitalstream.platform.kafka import CommitPacing


@dataclass
class Consumer:
    """What the checkpoint uses of a confluent-kafka consumer: its assignment, and commit."""

    owned: set[tuple[str, int]]
    commits: list[dict[tuple[str, int], int]] = field(default_factory=list)

    def assignment(self) -> list[TopicPartition]:
        return [TopicPartition(t, p) for t, p in sorted(self.owned)]

    def commit(self, offsets: list[TopicPartition], asynchronous: bool) -> None:
        assert asynchronous
        self.commits.append({(tp.topic, tp.partition): tp.offset for tp in offsets})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def checkpoint() -> tuple[Checkpoint, Consumer, Clock]:
    clock = Clock()
    return Checkpoint(CommitPacing(0.1, clock)), Consumer({("t", 0), ("t", 1)}), clock


def test_batches_finished_within_the_interval_share_one_commit_of_their_latest_offsets() -> None:
    cp, consumer, clock = checkpoint()
    c: Any = consumer
    cp.commit(c, [Msg("t", None, 4, 0)])  # the first: nothing was issued before
    clock.now += 0.03
    cp.commit(c, [Msg("t", None, 9, 0), Msg("t", None, 2, 1)])
    clock.now += 0.03
    cp.commit(c, [Msg("t", None, 7, 0)])  # an older offset never moves a partition back
    assert consumer.commits == [{("t", 0): 5}]
    clock.now += 0.05
    cp.commit(c, [Msg("t", None, 3, 1)])
    assert consumer.commits == [{("t", 0): 5}, {("t", 0): 10, ("t", 1): 4}]


def test_falling_idle_commits_what_is_pending_at_once() -> None:
    cp, consumer, clock = checkpoint()
    c: Any = consumer
    cp.commit(c, [Msg("t", None, 1, 0)])
    cp.commit(c, [Msg("t", None, 8, 1)])
    cp.flush(c)
    cp.flush(c)  # nothing pending: no empty commit
    assert consumer.commits == [{("t", 0): 2}, {("t", 1): 9}]


def test_revoked_partitions_are_committed_before_they_go_and_never_after() -> None:
    cp, consumer, clock = checkpoint()
    c: Any = consumer
    cp.commit(c, [Msg("t", None, 1, 0)])
    cp.commit(c, [Msg("t", None, 5, 1), Msg("t", None, 3, 0)])
    cp.revoked(c, [TopicPartition("t", 1)])  # still assigned inside librdkafka's revoke callback
    assert consumer.commits[-1] == {("t", 0): 4, ("t", 1): 6}
    consumer.owned = {("t", 0)}
    clock.now += 1.0
    cp.commit(c, [Msg("t", None, 9, 1), Msg("t", None, 6, 0)])  # a batch in flight at the revoke finishes after it
    assert consumer.commits[-1] == {("t", 0): 7}, "another owner's offsets would move back"
