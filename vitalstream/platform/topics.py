"""Create and verify the topic catalogue (``vitalstream topics create``), and cluster probes."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from confluent_kafka import KafkaException
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from schemas.topics import CATALOGUE, TopicSpec
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings


@dataclass
class TopicsReport:
    created: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def admin_client(settings: Settings) -> AdminClient:
    return kafka.admin(settings, "topics")


def topic_config(spec: TopicSpec, settings: Settings) -> dict[str, str]:
    cfg = spec.config()
    if settings.replication_factor > 1:
        cfg["min.insync.replicas"] = str(settings.min_insync_replicas)
    return cfg


def ensure_topics(
    settings: Settings, specs: tuple[TopicSpec, ...] = CATALOGUE, timeout_s: float = 30.0
) -> TopicsReport:
    """Create missing topics; verify (and fix) partitions and configs of existing ones. Idempotent."""
    admin = admin_client(settings)
    report = TopicsReport()
    try:
        existing = admin.list_topics(timeout=timeout_s).topics
    except KafkaException as exc:
        raise ConnectionError(
            f"Kafka at {settings.kafka_bootstrap} did not answer ({exc.args[0]}): is the broker up? "
            "(`vitalstream status`, or set VITALSTREAM_KAFKA_BOOTSTRAP)"
        ) from None
    to_create = [
        NewTopic(
            settings.topic(s.name),
            num_partitions=s.partitions,
            replication_factor=settings.replication_factor,
            config=topic_config(s, settings),
        )
        for s in specs
        if settings.topic(s.name) not in existing
    ]
    if to_create:
        for name, fut in admin.create_topics(to_create, request_timeout=timeout_s).items():
            try:
                fut.result()
                report.created.append(name)
            except KafkaException as exc:
                if exc.args[0].code() == 36:  # TOPIC_ALREADY_EXISTS: a concurrent creator won
                    report.verified.append(name)
                else:
                    report.problems.append(f"{name}: {exc.args[0].str()}")
    if report.created:
        _wait_visible(admin, report.created, timeout_s)
    present = [s for s in specs if settings.topic(s.name) in existing]
    if present:
        _verify(admin, settings, present, existing, report, timeout_s)
    return report


def _wait_visible(admin: AdminClient, names: list[str], timeout_s: float) -> None:
    """Block until new topics have a leader for every partition (creation propagates asynchronously)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        topics = admin.list_topics(timeout=timeout_s).topics
        if all(
            n in topics and topics[n].partitions and all(p.leader >= 0 for p in topics[n].partitions.values())
            for n in names
        ):
            return
        time.sleep(0.05)


def _verify(
    admin: AdminClient,
    settings: Settings,
    specs: list[TopicSpec],
    existing: Mapping[str, object],
    report: TopicsReport,
    timeout_s: float,
) -> None:
    resources = [ConfigResource(ConfigResource.Type.TOPIC, settings.topic(s.name)) for s in specs]
    configs = admin.describe_configs(resources, request_timeout=timeout_s)
    grow: list[NewPartitions] = []
    for spec, res in zip(specs, resources, strict=True):
        name = settings.topic(spec.name)
        actual = {k: v.value for k, v in configs[res].result().items()}
        wanted = topic_config(spec, settings)
        wrong = {k: v for k, v in wanted.items() if actual.get(k) != v}
        partitions = len(getattr(existing[name], "partitions", {}))
        if partitions < spec.partitions:
            grow.append(NewPartitions(name, spec.partitions))
        if wrong:
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in wrong.items()]
            fix = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
            try:
                admin.incremental_alter_configs([fix], request_timeout=timeout_s)[fix].result()
                report.fixed.append(f"{name}: " + ", ".join(f"{k}={v}" for k, v in wrong.items()))
            except KafkaException as exc:
                report.problems.append(f"{name}: cannot set {wrong}: {exc.args[0].str()}")
        else:
            report.verified.append(name)
    if grow:
        for name, fut in admin.create_partitions(grow, request_timeout=timeout_s).items():
            try:
                fut.result()
                report.fixed.append(f"{name}: partitions raised")
            except KafkaException as exc:
                report.problems.append(f"{name}: {exc.args[0].str()}")


def broker_reachable(settings: Settings, timeout_s: float = 2.0) -> bool:
    try:
        admin_client(settings).list_topics(timeout=timeout_s)
        return True
    except KafkaException:
        return False
