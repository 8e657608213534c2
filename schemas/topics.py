"""The topic catalogue (design §4) as data: names, keys, value schemas, partitions, retention."""

from __future__ import annotations

from dataclasses import dataclass, field

PREFIX = "vitalstream."
DAY_MS = 24 * 3600 * 1000
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
"""The largest record a topic that carries raw bodies accepts (the 10 MiB body cap, encoded, plus headers)."""
RAW_BODY_CONFIG: dict[str, str] = {"max.message.bytes": str(MAX_MESSAGE_BYTES)}
"""Topic config of every topic whose records copy a raw webhook body (the broker default is ~1 MB)."""


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    """Name without the ``vitalstream.`` prefix."""
    key: str
    value_schema: str | None
    """Avro record name of the value, or None when the value is the original record (retry/DLQ)."""
    cleanup_policy: str
    retention_ms: int | None
    partitions: int = 6
    doc: str = ""
    extra_config: dict[str, str] = field(default_factory=dict)

    def full_name(self, prefix: str = PREFIX) -> str:
        return prefix + self.name

    def config(self) -> dict[str, str]:
        cfg = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        if self.retention_ms is not None:
            cfg["retention.ms"] = str(self.retention_ms)
        return cfg


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(
        "webhooks.raw",
        "provider user id (trace id if none)",
        "RawWebhook",
        "delete",
        7 * DAY_MS,
        doc="Every accepted webhook, body untouched. May hold personal data: not for analysts.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "webhooks.backfill",
        "provider user id (trace id if none)",
        "RawWebhook",
        "delete",
        7 * DAY_MS,
        doc="Historical traffic (Terra chunks, large requests, backfill sources, shed load) as webhooks.raw; "
        "normalized at lower priority, paused while live lag is high.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "metrics.normalized",
        "subject",
        "Observation",
        "delete",
        7 * DAY_MS,
        doc="One record per normalized value in canonical units.",
    ),
    TopicSpec(
        "metrics.scored",
        "subject",
        "ScoredObservation",
        "delete",
        30 * DAY_MS,
        doc="Observation + confidence 0-100, level and components.",
    ),
    TopicSpec(
        "metrics.latest",
        "subject|metric",
        "LatestMetric",
        "compact",
        None,
        doc="Current winner per (subject, metric); tombstone on purge.",
    ),
    TopicSpec(
        "metrics.quality_daily",
        "day|metric|provider",
        "QualityDaily",
        "compact",
        None,
        partitions=3,
        doc="Daily data-quality window per metric and provider (feeds data_quality_daily).",
    ),
    TopicSpec(
        "users",
        "provider user id",
        "UserEvent",
        "compact",
        None,
        partitions=3,
        doc="Connection lifecycle: auth, deauth, reauth, revoked, permissions.",
    ),
    TopicSpec(
        "ops.events",
        "source",
        "OpsEvent",
        "delete",
        7 * DAY_MS,
        partitions=1,
        doc="Provider healthcheck/processing/rate-limit/connection-error notices.",
    ),
    TopicSpec(
        "events.ledger",
        "event id",
        "EventOutcome",
        "delete",
        7 * DAY_MS,
        doc="One outcome per event (processed, ignored, dead_lettered): feeds ingested_events.",
    ),
    TopicSpec(
        "retry.5s",
        "original key",
        None,
        "delete",
        1 * DAY_MS,
        partitions=3,
        doc="First retry tier: original value + headers, due 5 s after failure.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "retry.1m",
        "original key",
        None,
        "delete",
        1 * DAY_MS,
        partitions=3,
        doc="Second retry tier, due 1 min after failure.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "retry.10m",
        "original key",
        None,
        "delete",
        1 * DAY_MS,
        partitions=3,
        doc="Third retry tier, due 10 min after failure.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "dlq",
        "original key",
        None,
        "delete",
        30 * DAY_MS,
        partitions=3,
        doc="Dead letters with vs.error.* / vs.original.* headers; replay with `vitalstream dlq replay`.",
        extra_config=RAW_BODY_CONFIG,
    ),
    TopicSpec(
        "dlq.replays",
        "DLQ partition:offset",
        "DlqReplay",
        "compact",
        None,
        partitions=1,
        doc="Who replayed which DLQ record, when.",
    ),
    TopicSpec(
        "backfill.jobs",
        "terra-reference",
        "BackfillJob",
        "compact",
        None,
        partitions=3,
        doc="Terra large requests: expected and received chunks, status (feeds backfill_jobs).",
    ),
    TopicSpec(
        "control",
        "'scoring'",
        "ScoringGeneration",
        "compact",
        None,
        partitions=1,
        doc="The live scoring generation; written by `vitalstream recompute` at switch-over, read by every worker.",
    ),
)

BY_NAME: dict[str, TopicSpec] = {t.name: t for t in CATALOGUE}
RETRY_TIERS: tuple[str, ...] = ("retry.5s", "retry.1m", "retry.10m")
RAW_BODY_TOPICS: tuple[str, ...] = tuple(t.name for t in CATALOGUE if t.extra_config is RAW_BODY_CONFIG)


def spec(name: str) -> TopicSpec:
    """Look a topic up by short (``dlq``) or full (``vitalstream.dlq``) name."""
    short = name.removeprefix(PREFIX)
    try:
        return BY_NAME[short]
    except KeyError:
        known = ", ".join(sorted(BY_NAME))
        raise KeyError(f"unknown topic {name!r}; the catalogue has: {known}") from None
