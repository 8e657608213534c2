"""Prometheus metrics of the sink (module-level: one set per process)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

from schemas import timing

ROWS_WRITTEN = Counter("vitalstream_sink_rows_written_total", "Rows inserted or updated, by table", ["table"])
MESSAGES = Counter("vitalstream_sink_messages_total", "Messages consumed, by topic and result", ["topic", "result"])
DEAD_LETTERS = Counter(  # shared family with the worker: dashboards sum vitalstream_dlq_records_total by stage
    "vitalstream_dlq_records_total", "Records sent to the DLQ, by stage and error class", ["stage", "error_class"]
)
TOMBSTONES = Counter("vitalstream_sink_tombstones_total", "Tombstones published to metrics.latest")
COMMIT_FAILURES = Counter("vitalstream_sink_commit_failures_total", "Offset commits the broker did not accept")
TRANSIENT_ERRORS = Counter("vitalstream_sink_transient_errors_total", "Transient failures retried", ["error_class"])
BATCH_SIZE = Histogram(
    "vitalstream_sink_batch_size", "Messages per batch", buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
)
COMMIT_LATENCY = Histogram(
    "vitalstream_sink_commit_seconds",
    "Time to write and commit one batch transaction",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge("vitalstream_sink_consumer_lag", "High watermark minus next offset", ["topic", "partition"])
PAUSED = Gauge("vitalstream_sink_paused", "1 while the sink has paused its partitions (database unavailable)")
POOL = Gauge("vitalstream_sink_pool", "psycopg pool statistics", ["stat"])

STAGE_LATENCY = Histogram(
    timing.STAGE_METRIC,
    "Latency of one pipeline hop, from the vs.t.* headers (schemas.timing): normalize, score, sink",
    ["stage"],
    buckets=timing.LATENCY_BUCKETS,
)
END_TO_END = Histogram(
    timing.END_TO_END_METRIC,
    "Gateway produce (vs.t.accepted) to committed in PostgreSQL, per scored observation",
    buckets=timing.LATENCY_BUCKETS,
)
_HOP_CHILDREN = {hop: STAGE_LATENCY.labels(hop) for hop in timing.HOPS}

POOL_STATS = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting", "connections_errors")


def observe_pool(stats: dict[str, int]) -> None:
    for name in POOL_STATS:
        if name in stats:
            POOL.labels(name).set(stats[name])


def observe_latency(headers: Iterable[list[tuple[str, bytes]] | None], committed_ms: int) -> None:
    """Observe each record's hops (its ``vs.t.*`` headers) ending at the commit at ``committed_ms``."""
    for one in headers:
        for hop, seconds in timing.hops(one, committed_ms).items():
            child = _HOP_CHILDREN.get(hop)
            (END_TO_END if child is None else child).observe(seconds)
