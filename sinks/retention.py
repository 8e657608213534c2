"""Retention of ``observations``: whole monthly partitions are dropped, never rows one by one.

``vitalstream db retention --older-than 400d`` calls :func:`drop_partitions_older_than`;
:func:`ensure_future_partitions` keeps a few months ready ahead (the sink also creates
partitions on demand). Rows outside every monthly partition live in the DEFAULT partition,
which retention never touches.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from psycopg import sql

LIST_PARTITIONS = """
SELECT c.relname,
       (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \\(''([^'']+)''\\)'))[1]::timestamptz AS upper_bound
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'observations'::regclass
ORDER BY upper_bound NULLS LAST
"""


def _connect(dsn: str, schema: str | None) -> psycopg.Connection[tuple[object, ...]]:
    conn = psycopg.connect(dsn)
    if schema is not None:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        conn.commit()
    return conn


def partitions(dsn: str, schema: str | None = None) -> list[tuple[str, datetime | None]]:
    """Every partition of ``observations`` with its upper bound (None for DEFAULT), oldest first."""
    with _connect(dsn, schema) as conn:
        rows = conn.execute(LIST_PARTITIONS).fetchall()
    return [(str(name), upper if isinstance(upper, datetime) else None) for name, upper in rows]


def drop_partitions_older_than(
    dsn: str, days: float, schema: str | None = None, *, now: datetime | None = None, dry_run: bool = False
) -> list[str]:
    """Drop every monthly partition whose upper bound is at or before ``now - days``; return their names."""
    cutoff = (now or datetime.now(UTC)) - timedelta(days=days)
    dropped: list[str] = []
    with _connect(dsn, schema) as conn, conn.transaction():
        for name, upper in conn.execute(LIST_PARTITIONS).fetchall():
            if isinstance(upper, datetime) and upper <= cutoff:
                dropped.append(str(name))
        if not dry_run:
            for name in dropped:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
    return dropped


def ensure_future_partitions(
    dsn: str, months_ahead: int = 3, schema: str | None = None, *, now: datetime | None = None
) -> list[str]:
    """Create the partitions of this month and ``months_ahead`` more; return those created."""
    start = now or datetime.now(UTC)
    with _connect(dsn, schema) as conn, conn.transaction():
        rows = conn.execute("SELECT ensure_observation_partitions(%s, %s)", (start, months_ahead + 1)).fetchall()
    return [str(r[0]) for r in rows]
