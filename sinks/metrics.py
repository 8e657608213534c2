"""Prometheus metrics of the sink (module-level: one set per process)."""

from __future__ import annotations

import bisect
import math
import threading
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

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

POOL_STATS = ("pool_min", "pool_max", "pool_size", "pool_available", "requests_waiting", "connections_errors")


def observe_pool(stats: dict[str, int]) -> None:
    for name in POOL_STATS:
        if name in stats:
            POOL.labels(name).set(stats[name])


class LatencyBudget(Collector):
    """``vitalstream_stage_latency_seconds{stage="normalize|score|sink", lane="live|backfill"}`` and
    ``vitalstream_end_to_end_latency_seconds{lane}``, from the ``vs.t.*`` headers of committed rows.

    The lane keeps a backfill's rows (seconds old by design) out of live freshness. A collector
    of its own rather than ``Histogram.observe``: the sink observes four values per row at up to
    tens of thousands of rows per second, and ``observe`` (a lock, float buckets) cost ~17 µs a
    row; here a batch is counted in integer milliseconds under one lock (~3 µs a row).
    """

    def __init__(self, bounds_s: Sequence[float] = timing.LATENCY_BUCKETS) -> None:
        self.bounds_s = tuple(bounds_s)
        self._bounds_ms = [round(b * 1000, 3) for b in self.bounds_s]
        # per lane: normalize, score, sink, end to end
        self._counts = [[[0] * (len(self.bounds_s) + 1) for _ in range(4)] for _ in timing.LANES]
        self._sums_ms = [[0, 0, 0, 0] for _ in timing.LANES]
        self._lock = threading.Lock()

    def observe(self, headers: Iterable[list[tuple[str, bytes]] | None], committed_ms: int) -> None:
        """Count every record's hops, each ending at the commit at ``committed_ms``."""
        stamps, hop_millis, lane_index, where = timing.stamps, timing.hop_millis, timing.lane_index, bisect.bisect_left
        bounds = self._bounds_ms
        with self._lock:
            for one in headers:
                lane = lane_index(one)
                counts, sums = self._counts[lane], self._sums_ms[lane]
                for i, ms in enumerate(hop_millis(*stamps(one), committed_ms)):
                    if ms is not None:
                        counts[i][where(bounds, ms)] += 1
                        sums[i] += ms

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts = [[list(c) for c in lane] for lane in self._counts]
            sums = [list(lane) for lane in self._sums_ms]
        stages = HistogramMetricFamily(
            timing.STAGE_METRIC,
            "Latency of one pipeline hop, from the vs.t.* headers (schemas.timing): normalize, score, sink",
            labels=["stage", "lane"],
        )
        e2e = HistogramMetricFamily(
            timing.END_TO_END_METRIC,
            "Gateway produce (vs.t.accepted) to committed in PostgreSQL, per scored row",
            labels=["lane"],
        )
        for n, lane in enumerate(timing.LANES):
            for i, hop in enumerate(timing.HOPS):
                stages.add_metric([hop, lane], self._cumulative(counts[n][i]), sums[n][i] / 1000.0)
            e2e.add_metric([lane], self._cumulative(counts[n][3]), sums[n][3] / 1000.0)
        yield stages
        yield e2e

    def _cumulative(self, counts: list[int]) -> list[tuple[str, float]]:
        out, running = [], 0
        for bound, n in zip((*self.bounds_s, math.inf), counts, strict=True):
            running += n
            out.append(("+Inf" if math.isinf(bound) else repr(bound), float(running)))
        return out


LATENCY = LatencyBudget()
REGISTRY.register(LATENCY)
