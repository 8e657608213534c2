"""The worker's own internal topic, created before Faust subscribes.

Faust declares internal topics while it starts, racing its own subscription: a consumer that
subscribed first logs "topic not found" and never reads it (seen under load in the chaos suite:
the quality deltas lagged forever). Creating it up front, idempotently, removes the race.
"""

from __future__ import annotations

import time

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    ResourceType,
)

from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

TOPIC_EXISTS = 36


def quality_deltas_topic(app_id: str) -> str:
    """One deltas topic per app id: a recompute app never mixes its deltas with the live worker's."""
    return f"{app_id}-quality-deltas"


def seen_changelog_config(settings: Settings) -> dict[str, str]:
    """The dedup table's changelog forgets ids after the dedup window (see :mod:`streams.expiry`)."""
    return {"cleanup.policy": "compact,delete", "retention.ms": str(settings.dedup_window_s * 1000)}


def ensure_topic(
    settings: Settings, name: str, partitions: int, timeout_s: float = 30.0, config: dict[str, str] | None = None
) -> None:
    """Create the topic if missing; with ``config``, also set those configs on an existing one."""
    admin = kafka.admin(settings, "topics")
    wanted = config or {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000)}
    if name in admin.list_topics(timeout=timeout_s).topics:
        if config:
            resource = ConfigResource(
                ResourceType.TOPIC,
                name,
                incremental_configs=[
                    ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in config.items()
                ],
            )
            admin.incremental_alter_configs([resource], request_timeout=timeout_s)[resource].result()
    else:
        new = NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=settings.replication_factor,
            config=wanted,
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
