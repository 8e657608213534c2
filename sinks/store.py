"""Database side of the sink: the connection pool and the batch transaction.

Every pooled session commits synchronously (:func:`require_durable_commit`): offsets are
committed once COMMIT returns, so COMMIT must mean durable.

One batch = one transaction: lifecycle events first (in offset order), then the
connection states of the batch's users, then binary COPY into per-connection staging
tables and one ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` per table. ``ingested_events``
takes the worker's ledger records first, then the sink's provisional outcomes (the rules
are in :mod:`sinks.outcomes`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from schemas.records import UserEvent
from sinks import lifecycle, sql
from sinks.jobs import JobRow, write_jobs
from sinks.outcomes import OutcomeRow, latest_outcomes
from sinks.plan import STAGE, ConnectionState, ObservationPlan, merge_ledger, plan_observations
from sinks.rows import LedgerRow, ObservationRow
from vitalstream.platform.settings import Settings

Key = tuple[str, str]
# Partitions are created on demand only this close to now; anything else lands in DEFAULT.
PARTITION_PAST_MONTHS = 24
PARTITION_AHEAD_MONTHS = 3


def make_pool(settings: Settings, dsn: str | None = None, *, min_size: int = 1) -> ConnectionPool:
    """A pool whose every connection carries the statement, lock and idle-in-transaction timeouts
    and durable commits (see :func:`require_durable_commit`)."""
    timeouts = (
        ("statement_timeout", settings.db_statement_timeout_ms),
        ("lock_timeout", settings.db_lock_timeout_ms),
        ("idle_in_transaction_session_timeout", settings.db_idle_in_tx_timeout_ms),
    )

    def configure(conn: psycopg.Connection[Any]) -> None:
        for name, ms in timeouts:
            conn.execute(f"SET {name} = {int(ms)}")
        require_durable_commit(conn)
        conn.execute("SET application_name = 'vitalstream-sink'")
        conn.commit()

    pool = ConnectionPool(
        dsn or settings.database_dsn(),
        min_size=min(min_size, settings.db_pool_max),
        max_size=settings.db_pool_max,
        configure=configure,
        check=ConnectionPool.check_connection,
        timeout=2.0,  # fail fast into the pause-and-back-off path when the server is away
        reconnect_timeout=float("inf"),
        open=False,
        name="vitalstream-sink",
    )
    pool.open(wait=False)
    return pool


def require_durable_commit(conn: psycopg.Connection[Any]) -> None:
    """Make COMMIT return only once the transaction is durable (WAL flushed) on this session.

    The sink commits a batch's offsets as soon as its COMMIT returns. Under a server-wide
    ``synchronous_commit = off`` (a throughput setting; the test servers run with it) COMMIT
    returns before the WAL is flushed, and a crash or ``pg_ctl stop -m immediate`` within the
    WAL writer's delay silently undoes transactions whose offsets are already committed: their
    events end in neither ``ingested_events`` nor the DLQ (design §7, §10.2). Only ``off`` is
    raised (to ``on``, PostgreSQL's default); a stronger level the operator chose is kept.
    """
    row = conn.execute("SHOW synchronous_commit").fetchone()
    if row is None or row[0] == "off":
        conn.execute("SET synchronous_commit = on")


@dataclass(slots=True)
class Batch:
    """What one transaction writes. ``user_events`` are applied in order; rows get planned."""

    observations: list[ObservationRow] = field(default_factory=list)
    user_events: list[UserEvent] = field(default_factory=list)
    outcomes: list[OutcomeRow] = field(default_factory=list)
    replayed_event_ids: set[str] = field(default_factory=set)
    jobs: list[JobRow] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.observations) + len(self.user_events) + len(self.outcomes) + len(self.jobs)


@dataclass(slots=True)
class BatchResult:
    rows: dict[str, int] = field(default_factory=dict)
    tombstones: list[Key] = field(default_factory=list)
    ignored_user_events: list[UserEvent] = field(default_factory=list)


def month_start(ts: datetime) -> date:
    ts = ts.astimezone(UTC)
    return date(ts.year, ts.month, 1)


def months_needing_partitions(rows: Iterable[ObservationRow], known: set[date], now: datetime) -> set[date]:
    lo = month_start(now - timedelta(days=31 * PARTITION_PAST_MONTHS))
    hi = month_start(now + timedelta(days=31 * PARTITION_AHEAD_MONTHS))
    months = {month_start(r.measured_at) for r in rows}
    return {m for m in months if m not in known and lo <= m <= hi}


def ensure_partitions(conn: psycopg.Connection[Any], months: Iterable[date]) -> list[str]:
    """Create the monthly partitions (own short transaction; idempotent)."""
    created: list[str] = []
    with conn.transaction():
        for m in sorted(months):
            created += [r[0] for r in conn.execute(sql.ENSURE_PARTITION, (datetime(m.year, m.month, 1, tzinfo=UTC),))]
    return created


def _copy(cur: psycopg.Cursor[Any], statement: str, types: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    if not rows:
        return
    with cur.copy(statement) as copy:
        copy.set_types(types)
        write = copy.write_row
        for row in rows:
            write(row)


def staged_rows(plan: ObservationPlan) -> list[tuple[object, ...]]:
    """Observation and latest-candidate rows with their two flags (a row may be both)."""
    latest = {id(r) for r in plan.latest}
    observed = {id(r) for r in plan.observations}
    out: list[tuple[object, ...]] = [(*r, True, id(r) in latest) for r in plan.observations]
    out += [(*r, False, True) for r in plan.latest if id(r) not in observed]
    return out


def _states(conn: psycopg.Connection[Any], rows: Sequence[ObservationRow]) -> dict[str, ConnectionState]:
    users = sorted({r.user_id for r in rows if r.user_id is not None})
    if not users:
        return {}
    return {u: ConnectionState(s, rb) for u, s, rb in conn.execute(sql.CONNECTION_STATES, (users,))}


def write_batch(
    conn: psycopg.Connection[Any],
    batch: Batch,
    purge_on_deauth: bool,
    before_commit: Callable[[BatchResult], None] | None = None,
) -> BatchResult:
    """Write ``batch`` in one transaction; ``before_commit`` runs last inside it (e.g. flush tombstones)."""
    result = BatchResult()
    with conn.transaction():
        cur = conn.cursor()
        cur.execute(sql.STAGING_DDL)
        ledger: list[LedgerRow] = []
        for ev in batch.user_events:
            try:
                with conn.transaction():  # savepoint: an unknown kind leaves the rest intact
                    result.tombstones += lifecycle.apply_user_event(conn, ev, purge_on_deauth)
                ledger.append(LedgerRow(ev.event_id, "processed", STAGE, None))
            except lifecycle.UnknownKind as exc:
                result.ignored_user_events.append(ev)
                ledger.append(LedgerRow(ev.event_id, "ignored", STAGE, exc.reason))
        plan = plan_observations(batch.observations, _states(conn, batch.observations), purge_on_deauth)
        ledger += plan.ledger
        outcomes = latest_outcomes(batch.outcomes)

        _copy(cur, sql.COPY_ROWS, sql.ROW_TYPES, staged_rows(plan))
        _copy(cur, sql.COPY_OUTCOMES, sql.OUTCOME_TYPES, outcomes)
        _copy(cur, sql.COPY_LEDGER, sql.LEDGER_TYPES, merge_ledger(ledger))
        if plan.observations:
            cur.execute(sql.UPSERT_OBSERVATIONS)
            result.rows["observations"] = max(cur.rowcount, 0)
        if plan.latest:
            cur.execute(sql.UPSERT_LATEST)
            result.rows["latest_metrics"] = max(cur.rowcount, 0)
        events = 0
        if outcomes:  # the worker's ledger before the sink's provisional rows (which then yield)
            cur.execute(sql.UPSERT_OUTCOMES)
            events += max(cur.rowcount, 0)
        if ledger:
            cur.execute(sql.UPSERT_LEDGER)
            events += max(cur.rowcount, 0)
        if outcomes or ledger:
            result.rows["ingested_events"] = events
        if batch.replayed_event_ids:
            cur.execute(sql.LEDGER_REPLAYED, (sorted(batch.replayed_event_ids),))
        if batch.user_events:
            result.rows["provider_connections"] = len(batch.user_events) - len(result.ignored_user_events)
        if batch.jobs:
            result.rows["backfill_jobs"] = write_jobs(cur, batch.jobs)
        if before_commit is not None:
            before_commit(result)
    return result


def record_scoring_settings(conn: psycopg.Connection[Any], high_confidence_threshold: float) -> None:
    """What views need of the confidence model (``pipeline_stats``' high-confidence rate)."""
    with conn.transaction():
        conn.execute(
            "UPDATE scoring_settings SET high_confidence_threshold = %s, updated_at = now()"
            " WHERE high_confidence_threshold IS DISTINCT FROM %s",
            (high_confidence_threshold, high_confidence_threshold),
        )


def record_dead_letters(conn: psycopg.Connection[Any], rows: Sequence[LedgerRow]) -> None:
    if not rows:
        return
    with conn.transaction():
        conn.cursor().executemany(sql.INSERT_DEAD_LETTER, rows)
