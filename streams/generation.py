"""Scoring generations: which confidence state the live workers run, and the hand-over.

Generation 0 is the worker as first deployed (app id ``<prefix>worker``). ``vitalstream
recompute`` builds generation N (app id ``<prefix>worker-gN``: its own consumer group,
table changelogs and quality-deltas topic) from ``metrics.normalized`` beside the live
worker, then writes a :class:`~schemas.records.ScoringGeneration` under key ``scoring`` to
the compacted ``control`` topic. Every worker watches that key and, when it names another
generation, stops gracefully and starts again as that generation (:mod:`streams.main`):

- score and quality go on from the offsets the rebuild committed, with its tables;
- normalize and the retry tiers go on from the offsets of the generation they replace
  (:func:`carry_offsets` copies them to the new group before it first joins);
- ``seen-events`` (normalize's event-id dedup) keeps one changelog across generations
  (:func:`seen_events_changelog`), so the dedup window survives a switch.

Each generation keeps its local tables in its own directory (:func:`datadir_for`): Faust
names a table's store after the table, not the app, so two generations sharing a directory
would share their stores.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, OFFSET_INVALID, TopicPartition

from schemas.records import ScoringGeneration
from schemas.topics import RETRY_TIERS
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.control import CONTROL_KEY, base_app_id
from vitalstream.platform.settings import Settings


def datadir_for(settings: Settings, generation: int) -> Path:
    root = Path(settings.worker_datadir)
    return root if generation == 0 else root / f"g{generation}"


def seen_events_changelog(settings: Settings) -> str:
    """One changelog for the event-id dedup table whatever the generation (generation 0's name)."""
    return f"{base_app_id(settings)}-seen-events-changelog"


def carried_topics(settings: Settings) -> list[str]:
    """What a new generation's normalize and retry stages continue from the old one's offsets."""
    return [settings.topic("webhooks.raw"), *(settings.topic(t) for t in RETRY_TIERS)]


def committed(settings: Settings, group: str, topics: list[str], timeout_s: float = 10.0) -> dict[TopicPartition, int]:
    """Committed offsets of ``group`` on every partition of ``topics`` (absent partitions left out)."""
    consumer = kafka.consumer(settings, "generation", group)
    try:
        metadata = consumer.list_topics(timeout=timeout_s)
        wanted = [
            TopicPartition(t, p) for t in topics if t in metadata.topics for p in sorted(metadata.topics[t].partitions)
        ]
        return {
            TopicPartition(tp.topic, tp.partition): tp.offset
            for tp in consumer.committed(wanted, timeout=timeout_s)
            if tp.offset != OFFSET_INVALID and tp.offset >= 0
        }
    finally:
        consumer.close()


def commit(settings: Settings, group: str, offsets: dict[TopicPartition, int], timeout_s: float = 10.0) -> None:
    """Commit offsets for a group that has no member right now (a new generation before it starts)."""
    if not offsets:
        return
    consumer = kafka.consumer(settings, "generation", group)
    try:
        consumer.commit(
            offsets=[TopicPartition(tp.topic, tp.partition, off) for tp, off in offsets.items()], asynchronous=False
        )
    finally:
        consumer.close()


def carry_offsets(settings: Settings, from_group: str, to_group: str) -> int:
    """Give ``to_group`` the committed offsets of ``from_group`` on the carried topics where it has none.

    Idempotent: partitions the new group already committed are left alone. Returns how many
    partitions were carried.
    """
    topics = carried_topics(settings)
    already = committed(settings, to_group, topics)
    carry = {tp: off for tp, off in committed(settings, from_group, topics).items() if tp not in already}
    commit(settings, to_group, carry)
    return len(carry)


def prune_other_generations(settings: Settings, generation: int) -> list[Path]:
    """Remove local table directories of generations other than ``generation`` (they were restored
    from changelogs once and are never read again). Returns what was removed."""
    root = Path(settings.worker_datadir)
    if not root.is_dir():
        return []
    keep = datadir_for(settings, generation)
    removed: list[Path] = []
    for child in root.iterdir():
        is_generation_dir = child.is_dir() and child.name.startswith("g") and child.name[1:].isdigit()
        is_gen0_store = child.is_dir() and child.name.startswith("v") and child.name[1:].isdigit()
        if (is_generation_dir and child != keep) or (is_gen0_store and generation != 0):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child)
    return removed


class ControlWatch:
    """Notices a new live generation in the control topic (cheap, non-blocking polls).

    Create it *before* reading the active generation at startup: it starts at the control
    topic's end as it is then, so a switch written between the two is seen by one or both,
    never by neither.
    """

    def __init__(self, settings: Settings, generation: int) -> None:
        self.generation = generation
        self._codec = codec_for(settings)
        self._consumer = kafka.consumer(settings, "control-watch")
        topic = settings.topic("control")
        tp = TopicPartition(topic, 0, OFFSET_BEGINNING)
        if kafka.topic_exists(self._consumer, topic, 10):
            tp.offset = kafka.watermarks(self._consumer, topic, 0)[1]
        self._consumer.assign([tp])

    def poll(self) -> ScoringGeneration | None:
        """The newest control record naming another generation than ours, if one arrived."""
        found: ScoringGeneration | None = None
        for msg in self._consumer.consume(100, timeout=0):
            value = msg.value()
            if msg.error() or msg.key() != CONTROL_KEY or value is None:
                continue
            found = self._codec.decode_as(value, ScoringGeneration)
        if found is not None and found.generation != self.generation:
            return found
        return None

    def close(self) -> None:
        self._consumer.close()
