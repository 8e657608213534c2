"""Sink throughput benchmark (``vitalstream bench sink``): not a test, a measurement.

Pre-fills ``metrics.scored`` with ``rows`` records, lets a sink with a fresh consumer group
drain them (decode, plan, COPY + three conditional upserts, offset commits) and reports
rows/s next to the ceiling measured in the same run: a plain COPY of the same rows into an
unindexed table (binary COPY, as the sink's staging uses). :func:`bench_sink` takes a
migrated database and existing topics (as ``vitalstream up`` / ``topics create`` /
``db migrate`` leave them); ``python -m sinks.bench --rows 100000`` makes its own scratch
schema and topic prefix from ``VITALSTREAM_KAFKA_BOOTSTRAP`` and ``VITALSTREAM_DATABASE_URL``
and removes them afterwards (see :mod:`sinks.bench_setup`); a ``vitalstream bench sink``
command would wrap exactly :func:`main`.
"""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from prometheus_client import REGISTRY

from schemas.records import ScoredObservation
from sinks import sample
from sinks.rows import OBSERVATION_COLUMNS, observation_row
from sinks.service import Sink
from sinks.sql import ROW_TYPES, cols
from vitalstream.platform.settings import Settings

TARGET_ROWS_PER_S = 30_000
METRICS = (
    "step_count",
    "heart_rate",
    "body_weight",
    "sleep_duration",
    "resting_heart_rate",
    "distance",
    "energy_burned",
    "oxygen_saturation",
    "respiratory_rate",
    "vo2_max",
)
PROVIDERS = ("GARMIN", "OURA", "WHOOP", "FITBIT")


def records(rows: int, run: str) -> list[ScoredObservation]:
    """``rows`` distinct observations: 1,000 subjects x 10 metrics x 4 providers x as many minutes as needed."""
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    out = []
    for i in range(rows):
        subject = f"terra:bench-{run}-{i % 1000}"
        metric = METRICS[(i // 1000) % len(METRICS)]
        provider = PROVIDERS[(i // 10_000) % len(PROVIDERS)]
        at = start + timedelta(minutes=i // 40_000)
        out.append(
            sample.scored(
                subject,
                metric,
                float(i % 997),
                measured_at=at,
                provider=provider,
                confidence=40.0 + (i * 7919) % 60,
                reliability=0.4 + (i % 5) / 10,
                event_id=f"bench-{run}-{i:09d}",
                ordering_ts=at,
                scored_at=at,
            )
        )
    return out


def copy_ceiling(dsn: str, recs: list[ScoredObservation]) -> float:
    """Rows/s of a plain COPY into an unindexed table (same rows, same columns, same server)."""
    rows = [observation_row(r) for r in recs]
    types = ROW_TYPES[: len(OBSERVATION_COLUMNS)]
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TEMP TABLE bench_copy_ceiling (LIKE observations INCLUDING DEFAULTS)")
        conn.execute("ALTER TABLE bench_copy_ceiling ALTER COLUMN components TYPE text")
        started = time.perf_counter()
        statement = f"COPY bench_copy_ceiling ({cols(OBSERVATION_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with conn.cursor().copy(statement) as copy:
            copy.set_types(types)  # the same binary COPY the sink uses
            for row in rows:
                copy.write_row(row)
        conn.commit()
        elapsed = time.perf_counter() - started
    return len(rows) / elapsed


def bench_sink(settings: Settings, rows: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    recs = records(rows, run)
    started = time.perf_counter()
    sample.produce(settings, "metrics.scored", recs)
    fill_s = time.perf_counter() - started

    sink = Sink(settings.model_copy(update={"group_prefix": f"{settings.group_prefix}bench-{run}."}))
    try:
        while not sink.consumer.assignment():  # join the group before the clock starts
            sink.step(timeout_s=0.1)
        handled, first = 0, None
        cpu_started, tx_started = time.process_time(), _transaction_seconds()
        deadline = time.monotonic() + max(120.0, rows / 1000)
        while time.monotonic() < deadline:
            before = time.perf_counter()
            n = sink.step(timeout_s=0.5)
            if n and first is None:
                first = before
            handled += n
            if not n and first is not None and sink.caught_up():
                break
        # from the step that got the first records to the offset commit of the last batch
        last = sink.last_commit_at
        cpu_s = time.process_time() - cpu_started  # the sink process: all its threads, librdkafka's too
        tx_s = _transaction_seconds() - tx_started
        elapsed = (last - first) if first is not None and last is not None else float("nan")
    finally:
        sink.close()
    with psycopg.connect(settings.database_dsn()) as conn:
        (written,) = conn.execute(  # type: ignore[misc]
            "SELECT count(*) FROM observations WHERE subject LIKE %s", (f"terra:bench-{run}-%",)
        ).fetchone()
    ceiling = copy_ceiling(settings.database_dsn(), recs)
    rate = handled / elapsed if not math.isnan(elapsed) and elapsed > 0 else 0.0
    return {
        "what": "sink upserts (observations + latest_metrics + ingested_events per record)",
        "rows": rows,
        "messages_handled": handled,
        "observations_written": int(written),
        "seconds": round(elapsed, 3),
        "rows_per_s": round(rate),
        "sink_process_cpu_us_per_row": round(cpu_s / handled * 1e6, 1) if handled else None,
        "db_transaction_seconds": round(tx_s, 3),
        "ceiling": "plain COPY into an unindexed table",
        "ceiling_rows_per_s": round(ceiling),
        "share_of_ceiling": round(rate / ceiling, 3) if ceiling else None,
        "batch_size": settings.sink_batch_size,
        "prefill_s": round(fill_s, 3),
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "target_met": rate >= TARGET_ROWS_PER_S,
    }


def _transaction_seconds() -> float:
    """Wall time the sink's batch transactions took so far (write + commit: the writer waiting on PostgreSQL)."""
    return REGISTRY.get_sample_value("vitalstream_sink_commit_seconds_sum") or 0.0


def main(argv: list[str] | None = None) -> int:
    """``python -m sinks.bench --rows 100000``: own schema and topics, removed afterwards."""
    import argparse
    import json

    from sinks.bench_setup import scratch

    parser = argparse.ArgumentParser(prog="python -m sinks.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=None, help="sink_batch_size (default: the setting's)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema and topics")
    args = parser.parse_args(argv)
    base = Settings()
    if args.batch_size:
        base = base.model_copy(update={"sink_batch_size": args.batch_size})
    with scratch(base, keep=args.keep) as settings:
        print(json.dumps(bench_sink(settings, args.rows), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
