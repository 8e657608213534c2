"""A stage with lag whose committed offset does not move is ``stuck`` on the real broker."""

from __future__ import annotations

import asyncio
import time

from confluent_kafka import TopicPartition

from vitalstream.health import _kafka_probe, compute, stuck_stages
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.platform.stuck import OffsetWatch


def commit(settings: Settings, group: str, topic: str, partition: int, offset: int) -> None:
    client = kafka.consumer(settings, "test-commit", group)
    try:
        client.commit(offsets=[TopicPartition(topic, partition, offset)], asynchronous=False)
    finally:
        client.close()


def test_a_group_with_lag_that_does_not_move_is_stuck_until_it_moves(settings: Settings) -> None:
    topic = settings.topic("metrics.scored")  # the sink stage's input
    group = settings.group_prefix + "sink"
    records = [kafka.OutRecord(topic, b"v%d" % i, partition=2) for i in range(5)]
    kafka.produce_all(kafka.producer(settings, "test"), records, timeout_s=15)
    commit(settings, group, topic, 2, 1)
    watch = OffsetWatch()

    first = _kafka_probe(settings)["positions"]
    assert first["sink"][2] == (1, 4)
    assert stuck_stages(watch, first, time.monotonic(), stuck_after_s=1.0) == {}
    time.sleep(1.2)
    stuck = stuck_stages(watch, _kafka_probe(settings)["positions"], time.monotonic(), stuck_after_s=1.0)
    assert [(p["partition"], p["offset"], p["lag"]) for p in stuck["sink"]] == [(2, 1, 4)]
    doc = asyncio.run(compute(settings.model_copy(update={"health_stuck_after_s": 1.0}), watch=watch))
    assert doc["status"] == "unhealthy" and doc["checks"]["stuck"]["sink"][0]["offset"] == 1, doc
    assert "sink stuck (partition 2 at offset 1)" in doc["reasons"]

    commit(settings, group, topic, 2, 3)
    assert stuck_stages(watch, _kafka_probe(settings)["positions"], time.monotonic(), stuck_after_s=1.0) == {}
