"""Prometheus metrics of the stream worker (served on the worker's ``/metrics`` with Faust's own)."""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram


class WorkerMetrics:
    """One instance per app; label values are bounded (vocabulary, providers, stages, classes)."""

    def __init__(self, registry: CollectorRegistry = REGISTRY, prefix: str = "vitalstream_worker") -> None:
        self.registry = registry
        self.events = Counter(
            f"{prefix}_events_processed", "Raw webhook events by outcome", ["outcome"], registry=registry
        )
        self.observations = Counter(
            f"{prefix}_observations",
            "Normalized observations by metric and provider",
            ["metric", "provider"],
            registry=registry,
        )
        self.rejections = Counter(
            f"{prefix}_rejections", "Observations rejected by plausibility bounds", ["reason"], registry=registry
        )
        self.scored = Counter(f"{prefix}_scored", "Observations scored (duplicates excluded)", registry=registry)
        self.seen_expired = Counter(
            f"{prefix}_seen_expired", "Event ids forgotten by normalize after the dedup window", registry=registry
        )
        self.duplicates = Counter(
            f"{prefix}_duplicates", "Redeliveries skipped, by stage", ["stage"], registry=registry
        )
        # The next three use shared names (no worker prefix): the sink exports the same families,
        # so dashboards and alerts sum them across services.
        self.retries = Counter(
            "vitalstream_retries", "Records sent to a retry tier", ["stage", "error_class", "tier"], registry=registry
        )
        self.dead_letters = Counter(
            "vitalstream_dlq_records", "Records sent to the DLQ", ["stage", "error_class"], registry=registry
        )
        self.republished = Counter(
            f"{prefix}_retry_republished", "Retried records re-published to their topic", ["tier"], registry=registry
        )
        self.confidence = Histogram(
            "vitalstream_confidence",
            "Confidence of scored observations",
            buckets=(10, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95, 100),
            registry=registry,
        )
        self.batch = Histogram(
            f"{prefix}_batch_size",
            "Records per processed batch",
            ["stage"],
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000),
            registry=registry,
        )
        self.fetch_seconds = Histogram(
            f"{prefix}_fetch_duration_seconds",
            "Ping-mode downloads by outcome (fetched, expired, refused, too_large, unavailable, failed)",
            ["outcome"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=registry,
        )
        self.fetch_outcomes = Counter(
            f"{prefix}_fetch_outcomes", "Ping-mode downloads by outcome", ["outcome"], registry=registry
        )
        self.produce_retries = Counter(
            f"{prefix}_produce_retries",
            "Produce attempts retried because Kafka did not acknowledge",
            registry=registry,
        )
        self.backfill_jobs = Gauge(
            "vitalstream_backfill_jobs",
            "Terra large requests in this worker's partitions, by status",
            ["status"],
            registry=registry,
        )
        self.live_lag = Gauge(
            f"{prefix}_live_lag",
            "Records of webhooks.raw and metrics.normalized on this worker's partitions not yet processed",
            registry=registry,
        )
        self.backfill_lag = Gauge(
            f"{prefix}_backfill_lag",
            "Records of webhooks.backfill on this worker's partitions not yet processed",
            registry=registry,
        )
        self.live_added_delay = Gauge(
            f"{prefix}_live_added_delay_seconds",
            "How much longer live records now take from accept to scored than at their best in the last minute "
            "(the backfill lane holds its slices while this is above VITALSTREAM_BACKFILL_TARGET_DELAY_MS)",
            registry=registry,
        )
        self.backfill_paused = Gauge(
            f"{prefix}_backfill_paused",
            "1 while this worker's webhooks.backfill partitions are paused (live lag or backlog), else 0",
            registry=registry,
        )
