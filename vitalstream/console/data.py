"""What the pages show, read from PostgreSQL (the queries) and shaped for people (pure helpers)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from schemas.personal import MASK
from vitalstream.console.charts import LEVELS

WINDOW_S = 15 * 60
RECENT_ACTIVITY = 12


@dataclass(frozen=True)
class Throughput:
    """The last 15 minutes of the ``ingested_events`` ledger: every accepted webhook ends there."""

    events: int
    dead_lettered: int

    @property
    def per_second(self) -> float:
        return round(self.events / WINDOW_S, 2)

    @property
    def success_rate(self) -> float | None:
        return round(100 * (self.events - self.dead_lettered) / self.events, 1) if self.events else None


async def overview(conn: AsyncConnection[Any]) -> dict[str, Any]:
    cur = await conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE outcome = 'dead_lettered') FROM ingested_events"
        " WHERE first_seen_at > now() - make_interval(secs => %s)",
        (WINDOW_S,),
    )
    row = await cur.fetchone()
    throughput = Throughput(int(row[0]), int(row[1])) if row else Throughput(0, 0)
    cur = await conn.execute("SELECT level, count(*) FROM latest_metrics GROUP BY level")
    levels = {str(level): int(n) for level, n in await cur.fetchall()}
    async with conn.cursor(row_factory=dict_row) as dcur:
        await dcur.execute(
            "SELECT event_id, outcome, stage, reason, source, event_type, observations, updated_at"
            " FROM ingested_events ORDER BY updated_at DESC LIMIT %s",
            (RECENT_ACTIVITY,),
        )
        activity = await dcur.fetchall()
    return {"throughput": throughput, "levels": levels, "activity": activity}


async def quality(conn: AsyncConnection[Any], days: int) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT day, metric, provider, count, avg_confidence, excellent, good, fair, poor FROM data_quality_daily"
            " WHERE day > current_date - %s ORDER BY metric, provider, day",
            (days,),
        )
        return await cur.fetchall()


def quality_series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One series per (metric, provider): days in order with average confidence and level counts."""
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        s = series.setdefault(
            (r["metric"], r["provider"]),
            {"metric": r["metric"], "provider": r["provider"], "days": [], "levels": dict.fromkeys(LEVELS, 0)},
        )
        s["days"].append((r["day"].isoformat(), float(r["avg_confidence"]), int(r["count"])))
        for level in LEVELS:
            s["levels"][level] += int(r[level])
    return list(series.values())


async def subject_metrics(conn: AsyncConnection[Any], subject: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT metric, value, unit, measured_at, measured_until, provider, confidence, level, generation,"
            " updated_at, user_id FROM latest_metrics WHERE subject = %s ORDER BY metric",
            (subject,),
        )
        return await cur.fetchall()


async def metric_history(
    conn: AsyncConnection[Any], subject: str, metric: str, limit: int = 60
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT measured_at, value, unit, provider, confidence, level FROM observations"
            " WHERE subject = %s AND metric = %s ORDER BY measured_at DESC LIMIT %s",
            (subject, metric, limit),
        )
        return list(reversed(await cur.fetchall()))


def mask_rows(rows: list[dict[str, Any]], fields: tuple[str, ...], unmasked: bool) -> list[dict[str, Any]]:
    """Personal fields replaced by the mask unless the reader may see them."""
    if unmasked:
        return rows
    return [{k: (MASK if k in fields and v is not None else v) for k, v in r.items()} for r in rows]


async def backfill_jobs(conn: AsyncConnection[Any]) -> list[dict[str, Any]] | None:
    """The ``backfill_jobs`` rows, or None when that table does not exist (yet)."""
    cur = await conn.execute("SELECT to_regclass('backfill_jobs') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return None
    async with conn.cursor(row_factory=dict_row) as dcur:
        await dcur.execute(
            "SELECT reference, user_id, status, expected_payloads, received_chunks, first_seen_at, last_seen_at"
            " FROM backfill_jobs ORDER BY last_seen_at DESC LIMIT 200"
        )
        return await dcur.fetchall()


def ago(at: datetime | None, now: datetime) -> str:
    """A short age (``42s``, ``5m``, ``3h``, ``2d``) for tables of recent things."""
    if at is None:
        return "—"
    seconds = max(0, int((now - at).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
