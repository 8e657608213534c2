"""The worker's own internal topic, created before Faust subscribes.

Faust declares internal topics while it starts, racing its own subscription: a consumer that
subscribed first logs "topic not found" and never reads it (seen under load in the chaos suite:
the quality deltas lagged forever). Creating it up front, idempotently, removes the race.
"""

from __future__ import annotations

import logging
import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from vitalstream.settings import Settings

QUIET = logging.getLogger("streams.librdkafka.admin")
QUIET.setLevel(logging.CRITICAL)
TOPIC_EXISTS = 36


def quality_deltas_topic(app_id: str) -> str:
    """One deltas topic per app id: a recompute app never mixes its deltas with the live worker's."""
    return f"{app_id}-quality-deltas"


def ensure_topic(settings: Settings, name: str, partitions: int, timeout_s: float = 30.0) -> None:
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap, "logger": QUIET})  # type: ignore[dict-item]
    if name not in admin.list_topics(timeout=timeout_s).topics:
        new = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=settings.replication_factor,
            config={"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)},
        )
        try:
            admin.create_topics([new], request_timeout=timeout_s)[name].result()
        except KafkaException as exc:
            if exc.args[0].code() != TOPIC_EXISTS:
                raise
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        meta = admin.list_topics(name, timeout=timeout_s).topics.get(name)
        if meta is not None and meta.partitions and all(p.leader >= 0 for p in meta.partitions.values()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"topic {name} has no leader after {timeout_s:.0f}s")
