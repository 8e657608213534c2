"""``vitalstream connections silent --days N``: connected users from whom no data came for N days.

A connection is ``provider_connections`` with status ``connected`` (not replaced by a reauth).
Its last data is the newest ``latest_metrics.updated_at`` of its user id: a newer value always
moves it (the §6 rule lets a newer ``measured_at`` win), and the table holds a few rows per
user where ``observations`` holds every sample. A user connected less than N days ago is not
silent yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import click
import psycopg

from vitalstream.platform.settings import Settings

SILENT_SQL = """
SELECT c.user_id, c.provider, c.connected_at, last.at
FROM provider_connections c
LEFT JOIN LATERAL (SELECT max(l.updated_at) AS at FROM latest_metrics l WHERE l.user_id = c.user_id) last ON true
WHERE c.status = 'connected' AND c.replaced_by IS NULL
  AND (last.at IS NULL OR last.at < now() - make_interval(days => %(days)s))
  AND (c.connected_at IS NULL OR c.connected_at < now() - make_interval(days => %(days)s))
ORDER BY last.at NULLS FIRST, c.user_id
LIMIT %(limit)s
"""


@dataclass(frozen=True, slots=True)
class Silent:
    user_id: str
    provider: str | None
    connected_at: datetime | None
    last_data_at: datetime | None


def silent_connections(dsn: str, days: int, limit: int = 10_000) -> list[Silent]:
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        conn.execute("SET statement_timeout = 30000")
        rows = conn.execute(SILENT_SQL, {"days": days, "limit": limit}).fetchall()
    return [Silent(*row) for row in rows]


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.isoformat(timespec="seconds")


def print_silent(settings: Settings, days: int, as_json: bool) -> None:
    """The CLI's side: one line per silent connection (or JSON), a one-line error without a database."""
    import orjson

    try:
        found = silent_connections(settings.database_dsn(), days)
    except RuntimeError as exc:  # no VITALSTREAM_DATABASE_URL
        raise click.ClickException(str(exc)) from None
    except psycopg.OperationalError:
        raise click.ClickException(
            "cannot reach PostgreSQL at VITALSTREAM_DATABASE_URL: is it running (`vitalstream status`)?"
        ) from None
    except psycopg.Error as exc:
        raise click.ClickException(
            f"PostgreSQL refused the query ({type(exc).__name__}): is the schema migrated (`vitalstream db migrate`)?"
        ) from None
    if as_json:
        rows = [
            {
                "user_id": s.user_id,
                "provider": s.provider,
                "connected_at": s.connected_at,
                "last_data_at": s.last_data_at,
            }
            for s in found
        ]
        click.echo(orjson.dumps(rows).decode())
        return
    for s in found:
        click.echo(
            f"{s.user_id}\t{s.provider or '-'}\tlast data {_when(s.last_data_at)}\tconnected {_when(s.connected_at)}"
        )
    click.echo(f"{len(found)} connection(s) without data for {days} day(s)", err=True)
