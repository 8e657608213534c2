"""Scale-out probes of the chaos suite: who owns which partitions of a consumer group, and how
fast the worker group catches up with a backlog.

Throughput is measured as a catch-up: the workers are paused (SIGSTOP, shorter than their
session timeout, so no rebalance) while a burst of webhooks goes through the gateway into
``webhooks.raw``, then resumed, and the records they publish to ``metrics.scored``
are counted (the sum of its high watermarks) until none came for a while once the group has
committed all of ``metrics.normalized`` (a quiet ``metrics.scored`` alone is not the end: score may
not have started while normalize works through the burst). Nothing else feeds ``metrics.scored``
meanwhile, so the figure is the group's own rate, normalize and score both.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaException, TopicPartition

from tests.chaos.harness import Load, Rig, start_load
from vitalstream.platform import kafka
from vitalstream.platform.control import app_id_for

GROUP_TIMEOUT_S = 120.0
"""A member's arrival or departure settles within seconds; the rest is room for a loaded machine."""
QUIET_S = 3.0
"""Catch-up is over once ``metrics.scored`` grew by nothing for this long."""
MAX_PAUSE_S = 6.0
"""Well inside the workers' session timeout (10 s): a longer pause would make the group evict them."""


def group_id(settings: Any, kind: str) -> str:
    """The consumer group of the worker (its Faust app id) or of the sink."""
    return app_id_for(settings, 0) if kind == "worker" else settings.group_prefix + kind


@dataclass(frozen=True)
class Group:
    state: str
    owned: list[set[tuple[str, int]]]
    """Per member, the (topic, partition) it was assigned."""


def describe(settings: Any, kind: str) -> Group | None:
    """The group as its coordinator describes it; None when the coordinator cannot say now."""
    group = group_id(settings, kind)
    admin = kafka.admin(settings, "chaos")  # held until the answer came: a dropped client never answers
    try:
        desc = admin.describe_consumer_groups([group], request_timeout=10)[group].result(timeout=15)
    except (KafkaException, TimeoutError):
        return None
    owned = [{(tp.topic, tp.partition) for tp in m.assignment.topic_partitions} for m in desc.members]
    return Group(str(desc.state.name), owned)


def wait_group(rig: Rig, kind: str, members: int, topic: str) -> float:
    """Wait until the group is stable with ``members`` members, each owning a partition of ``topic``
    and all of them together every partition of it; returns the seconds it took."""
    t0 = time.monotonic()
    full_name = rig.settings.topic(topic)
    partitions = {(full_name, p) for p in range(kafka_partitions(rig.settings, full_name))}
    last: Group | None = None
    while time.monotonic() - t0 < GROUP_TIMEOUT_S:
        last = describe(rig.settings, kind)
        if last is not None and last.state == "STABLE" and len(last.owned) == members:
            shares = [owned & partitions for owned in last.owned]
            if all(shares) and set().union(*shares) == partitions:
                return time.monotonic() - t0
        rig.sleep(0.5)
    raise AssertionError(f"the {kind} group never settled with {members} members owning {topic}: {last}")


def kafka_partitions(settings: Any, topic: str) -> int:
    reader = kafka.consumer(settings, "chaos")
    try:
        return len(kafka.partitions_of(reader, topic))
    finally:
        reader.close()


@contextmanager
def paused(rig: Rig, services: list[str]) -> Iterator[None]:
    pids = [rig.pipeline.pids[s] for s in services]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


def catch_up(rig: Rig, workers: list[str], webhooks: int, rate: float, seed: int) -> tuple[Load, dict[str, Any]]:
    """Pause ``workers``, send a burst of ``webhooks``, resume them and time their catch-up: until
    every accepted event of the burst has its outcome in ``events.ledger``, the group committed all
    of ``metrics.normalized`` and ``metrics.scored`` stopped growing; the figure ends at its last growth."""
    normalized_topic = rig.settings.topic("metrics.normalized")
    normalized = [TopicPartition(normalized_topic, p) for p in range(kafka_partitions(rig.settings, normalized_topic))]
    reader = kafka.consumer(rig.settings, "chaos-rate")
    group_reader = kafka.consumer(rig.settings, "chaos-rate-group", group_id(rig.settings, "worker"))

    def published(short_topic: str) -> int:
        return sum(high for _low, high in kafka.end_offsets(reader, rig.settings.topic(short_topic)).values())

    def scored_everything() -> bool:
        """The group committed every record of ``metrics.normalized``: score has taken the burst."""
        return all(lag == 0 for _start, lag in kafka.group_positions(group_reader, normalized).values())

    try:
        with paused(rig, workers):
            scored_start, ledger_start = published("metrics.scored"), published("events.ledger")
            burst = start_load(rig, seconds=webhooks / rate, seed=seed, rate=rate)
            rig.sleep(min(MAX_PAUSE_S, webhooks / rate + 1.0))
        t0 = last_at = time.monotonic()
        burst.join(rig)  # on a slow machine the tail of the burst goes on after the resume
        last = scored_start
        while True:
            now = published("metrics.scored")
            if now != last:
                last, last_at = now, time.monotonic()
            done = published("events.ledger") - ledger_start >= len(burst.accepted())
            if done and time.monotonic() - last_at >= QUIET_S and scored_everything():
                break
            assert time.monotonic() - t0 < GROUP_TIMEOUT_S, "the resumed workers never caught up with the burst"
            rig.sleep(0.1)
    finally:
        reader.close()
        group_reader.close()
    seconds = last_at - t0
    observations = last - scored_start
    figures = {
        "workers": len(workers),
        "webhooks": len(burst.accepted()),
        "observations": observations,
        "seconds": round(seconds, 2),
        "observations_per_s": round(observations / seconds) if seconds > 0 else None,
    }
    return burst, figures
