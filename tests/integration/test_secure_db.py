"""PostgreSQL service roles (migrations 0007, 0009, 0010) on the real server: each login can do its job and no more."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from sinks.jobs import UPSERT_JOBS, JobRow
from tests.fix_secure import login_url

NOW = datetime(2026, 12, 1, tzinfo=UTC)

pytestmark = pytest.mark.secure

UPSERT_CONNECTION = (
    "INSERT INTO provider_connections (user_id, provider, reference_id, status, sex, birth_year) "
    "VALUES ('u1', 'WHOOP', 'ref-1', 'connected', 'female', 1980) "
    "ON CONFLICT (user_id) DO UPDATE SET sex = 'female', birth_year = 1980, updated_at = now()"
)
"""The shape of ``sinks.lifecycle._upsert``: new values as parameters (``EXCLUDED.sex`` would need SELECT on sex)."""


def _connect(database_url: str, schema: str, login: tuple[str, str]) -> psycopg.Connection[Any]:
    return psycopg.connect(login_url(database_url, schema, login), autocommit=True)


def _allowed(conn: psycopg.Connection[Any], *statements: str) -> list[str]:
    """The statements that were not refused (each on its own: autocommit)."""
    return [s for s in statements if not _refused(conn, s)]


def _refused(conn: psycopg.Connection[Any], statement: str) -> bool:
    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        return True
    return False


def test_sink_role_writes_its_rows_but_cannot_drop_truncate_or_read_personal_columns(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    with _connect(database_url, db_schema, db_logins["sink"]) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("vs_sink",)
        conn.execute(UPSERT_CONNECTION)
        conn.execute(UPSERT_CONNECTION)  # the conflict path: UPDATE from EXCLUDED needs no SELECT of sex
        assert conn.execute("SELECT status, reference_id FROM provider_connections").fetchall() == [
            ("connected", "ref-1")
        ]
        conn.execute("SELECT ensure_observation_partitions(now() + interval '2 years', 1)")
        job = JobRow("ref-1", "terra", "sending", "u1", 3, 1, [1], None, None, NOW, NOW, NOW)
        conn.cursor().executemany(UPSERT_JOBS, [job, job._replace(status="complete", chunks=[1, 2, 3])])
        assert conn.execute("SELECT status FROM backfill_jobs").fetchall() == [("complete",)]
        for statement in (
            "SELECT sex FROM provider_connections",
            "SELECT birth_year FROM provider_connections",
            "SELECT * FROM provider_connections",
            "TRUNCATE latest_metrics",
            "TRUNCATE ingested_events",
            "TRUNCATE backfill_jobs",
            "DROP TABLE observations",
            "DROP TABLE latest_metrics",
            "CREATE TABLE sneaky (x int)",
        ):
            assert _refused(conn, statement), statement


def test_analyst_role_sees_no_personal_columns_and_writes_nothing(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    with _connect(database_url, db_schema, db_logins["analyst"]) as conn:
        conn.execute("SELECT * FROM analyst_connections").fetchall()
        conn.execute("SELECT * FROM pipeline_stats").fetchall()  # the view reads connections on its owner's rights
        conn.execute("SELECT subject, value FROM latest_metrics").fetchall()
        conn.execute("SELECT reference, status, chunks FROM backfill_jobs").fetchall()
        for statement in (
            "SELECT reference_id FROM provider_connections",
            "SELECT sex, birth_year FROM provider_connections",
            "INSERT INTO ingested_events (event_id, outcome, stage) VALUES ('x', 'processed', 's')",
            "DELETE FROM latest_metrics",
            "DELETE FROM backfill_jobs",
        ):
            assert _refused(conn, statement), statement
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'analyst_connections'"
            )
        }
        assert columns and not columns & {"reference_id", "sex", "birth_year"}


def test_reader_role_reads_current_values_and_observations_only(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    with _connect(database_url, db_schema, db_logins["reader"]) as conn:
        for table in ("latest_metrics", "observations", "data_quality_daily"):
            conn.execute(f"SELECT * FROM {table} LIMIT 1").fetchall()
        for statement in (
            "SELECT * FROM provider_connections",
            "SELECT * FROM ingested_events",
            "DELETE FROM latest_metrics",
            "DELETE FROM backfill_jobs",
        ):
            assert _refused(conn, statement), statement


def test_sslmode_in_the_url_is_honoured(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    """The test server has no TLS: a URL asking for it must fail rather than silently fall back."""
    url = login_url(database_url, db_schema, db_logins["reader"]) + "&sslmode=require"
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        psycopg.connect(url, connect_timeout=5).close()


def test_health_role_counts_what_health_reports_and_nothing_more(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    from vitalstream.health import _db_probe
    from vitalstream.platform.settings import Settings

    url = login_url(database_url, db_schema, db_logins["health"])
    assert _db_probe(Settings(database_url=SecretStr(url)))["latest"] == 0  # the real query
    with psycopg.connect(url, autocommit=True) as conn:
        allowed = _allowed(
            conn,
            "SELECT event_id FROM ingested_events",
            "SELECT subject, value FROM latest_metrics",
            "SELECT * FROM provider_connections",
            "SELECT * FROM console_accounts",
            "INSERT INTO ingested_events (event_id, outcome, stage) VALUES ('x', 'processed', 's')",
            "UPDATE latest_metrics SET confidence = 0",
            "TRUNCATE latest_metrics",
        )
    assert allowed == []


async def test_console_role_runs_its_pages_and_keeps_off_personal_and_key_tables(
    database_url: str, db_schema: str, db_logins: dict[str, tuple[str, str]]
) -> None:
    from vitalstream.console import accounts, audit, data

    url = login_url(database_url, db_schema, db_logins["console"])
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        assert await accounts.add_account(conn, "ada", "viewer", "a long enough password 1")
        session_id, _csrf = await accounts.start_session(conn, "ada", 60)
        assert await accounts.find_session(conn, session_id) is not None
        await audit.record(conn, actor="ada", role="viewer", action="login", outcome="ok")
        assert [e.action for e in await audit.recent(conn)] == ["login"]
        await data.overview(conn)
        await data.quality(conn, 7)
        await data.subject_metrics(conn, "s1")
        await data.metric_history(conn, "s1", "heart_rate")
        await data.backfill_jobs(conn)
        await accounts.end_session(conn, session_id)
        assert await accounts.remove_account(conn, "ada")
    with psycopg.connect(url, autocommit=True) as sync:
        allowed = _allowed(
            sync,
            "SELECT reference_id FROM provider_connections",
            "SELECT * FROM provider_connections",
            "SELECT * FROM api_keys",
            "INSERT INTO latest_metrics (subject) VALUES ('x')",
            "DELETE FROM ingested_events",
            "TRUNCATE console_audit",
            "DROP TABLE console_accounts",
            "CREATE TABLE sneaky (x int)",
        )
    assert allowed == []
