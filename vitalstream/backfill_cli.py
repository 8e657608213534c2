"""``vitalstream backfill ls|show``: Terra large requests from ``backfill_jobs`` (design §13)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

import click
import psycopg
from psycopg.rows import dict_row
from rich.console import Console
from rich.table import Table

from streams.tracking import missing_chunks
from vitalstream.console.data import ago
from vitalstream.platform.settings import Settings

COLUMNS = (
    "reference, source, status, user_id, expected_payloads, received_chunks, chunks, "
    "requested_start, requested_end, first_seen_at, last_seen_at, updated_at"
)
LIMIT = 500


def _query(settings: Settings, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Rows of ``sql``, or a one-line error saying what to do (no traceback, no URL)."""
    try:
        dsn = settings.database_dsn()
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    except psycopg.errors.UndefinedTable:
        raise click.ClickException("no backfill_jobs table: run `vitalstream db migrate`") from None
    except psycopg.OperationalError:
        raise click.ClickException(
            "cannot reach PostgreSQL at VITALSTREAM_DATABASE_URL: is it running (`vitalstream status`)?"
        ) from None


def _received(row: dict[str, Any]) -> str:
    expected = row["expected_payloads"]
    return f"{row['received_chunks']}/{'?' if expected is None else expected}"


def ls(settings: Settings, status: str | None, as_json: bool) -> None:
    where, params = ("WHERE status = %s", (status,)) if status else ("", ())
    sql = f"SELECT {COLUMNS} FROM backfill_jobs {where} ORDER BY last_seen_at DESC LIMIT {LIMIT}"
    rows = _query(settings, sql, params)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not rows:
        click.echo("no large requests tracked yet" if not status else f"no {status} large requests")
        return
    now = datetime.now(UTC)
    table = Table(title="Terra large requests")
    for col in ("reference", "user", "status", "received/expected", "first seen", "last seen"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(
            row["reference"],
            row["user_id"] or "-",
            row["status"],
            _received(row),
            f"{ago(row['first_seen_at'], now)} ago",
            f"{ago(row['last_seen_at'], now)} ago",
        )
    Console(width=None if sys.stdout.isatty() else 200).print(table)


def describe(row: dict[str, Any]) -> dict[str, Any]:
    """One job as ``backfill show`` prints it: the row plus the chunk numbers still missing."""
    chunks = [int(c) for c in row["chunks"]]
    return {**row, "chunks": chunks, "missing_chunks": missing_chunks(row["expected_payloads"], chunks)}


def show(settings: Settings, reference: str) -> None:
    rows = _query(settings, f"SELECT {COLUMNS} FROM backfill_jobs WHERE reference = %s", (reference,))
    if not rows:
        raise click.ClickException(f"no large request {reference!r} (see `vitalstream backfill ls`)")
    click.echo(json.dumps(describe(rows[0]), indent=2, default=str))
