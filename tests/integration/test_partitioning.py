"""One partitioning rule on the real broker: the toolkit writes where Java would; repair removes stale copies."""

from __future__ import annotations

from tests.kafka_helpers import consume_all, misplaced_keys
from vitalstream.platform import kafka
from vitalstream.platform.partitioning import java_partition, repair_compacted, stale_copies
from vitalstream.platform.settings import Settings


def test_the_toolkit_places_every_key_where_the_java_client_would(settings: Settings) -> None:
    topic = settings.topic("metrics.latest")
    records = [kafka.OutRecord(topic, b"v", f"subject-{i}|heart_rate".encode()) for i in range(200)]
    kafka.produce_all(kafka.producer(settings, "test"), records)
    assert misplaced_keys(settings) == {}


def test_repair_tombstones_a_stale_copy_in_another_partition_only(settings: Settings) -> None:
    topic = settings.topic("metrics.latest")
    key = b"subject-x|body_weight"
    home = java_partition(key, 6)
    elsewhere = (home + 1) % 6
    old_writer = [kafka.OutRecord(topic, b"stale", key, partition=elsewhere), kafka.OutRecord(topic, b"current", key)]
    kafka.produce_all(kafka.producer(settings, "test"), old_writer)
    assert list(stale_copies(settings, topic, 6)) == [(key, elsewhere)]

    report = repair_compacted(settings)

    assert report.tombstones["metrics.latest"] == 1
    assert list(stale_copies(settings, topic, 6)) == []
    by_partition = {(m.partition(), m.value()) for m in consume_all(settings, "metrics.latest") if m.key() == key}
    assert by_partition == {(elsewhere, b"stale"), (home, b"current"), (elsewhere, None)}
    assert repair_compacted(settings).tombstones["metrics.latest"] == 0, "idempotent"
