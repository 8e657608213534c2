"""Migrations on a real PostgreSQL: objects, partitions, views, the read-only analyst role."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime

import psycopg
import pytest

from sinks import migrate
from sinks.retention import partitions
from sinks.store import record_scoring_settings
from tests.fix_pg import with_search_path
from tests.fix_sink import quality_drift

LEDGER_COLUMNS = ("outcome_at", "ledger_offset", "source", "event_type", "observations", "rejected")
TABLES = {
    "observations",
    "latest_metrics",
    "provider_connections",
    "ingested_events",
    "data_quality_daily",
    "backfill_jobs",
}
VIEWS = {"webhook_processing_stats", "data_quality_trends", "pipeline_stats", "analyst_connections"}


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = f"m_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def test_upgrade_creates_everything_in_the_schema_and_is_idempotent(database_url: str, schema: str) -> None:
    assert migrate.current(database_url, schema) is None
    migrate.upgrade(database_url, schema)
    migrate.upgrade(database_url, schema)
    assert migrate.current(database_url, schema) == migrate.head() == "0011"
    with psycopg.connect(database_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        assert TABLES | {"alembic_version", "observations_default"} <= tables
        views = {r[0] for r in conn.execute("SELECT viewname FROM pg_views WHERE schemaname = %s", (schema,))}
        assert views == VIEWS
        assert conn.execute(
            "SELECT relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND relname = 'observations'",
            (schema,),
        ).fetchone() == ("p",)
        cols = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'latest_metrics'",
                (schema,),
            )
        }
        assert {"reliability", "user_id", "event_id", "ordering_ts", "updated_at"} <= cols
        ledger_cols = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'ingested_events'",
                (schema,),
            )
        }
        assert set(LEDGER_COLUMNS) <= ledger_cols
    parts = partitions(database_url, schema)
    monthly = [p for p in parts if p[1] is not None]
    assert len(monthly) >= 4 and any(u is None for _, u in parts)  # months ahead + DEFAULT
    now = datetime.now(UTC)
    assert any(u > now for _, u in monthly if u is not None)


def test_views_answer(db_settings: object, database_url: str, db_schema: str) -> None:
    with psycopg.connect(database_url, options=f"-csearch_path={db_schema}") as conn:
        for view in VIEWS:
            conn.execute(f"SELECT * FROM {view}").fetchall()
        (row,) = conn.execute("SELECT latest_metrics, events_processed FROM pipeline_stats").fetchall()
        assert row == (0, 0)


def test_analyst_can_read_but_not_write(database_url: str, db_schema: str) -> None:
    with psycopg.connect(database_url, options=f"-csearch_path={db_schema}") as conn:
        assert conn.execute("SELECT rolcanlogin FROM pg_roles WHERE rolname = 'vitalstream_analyst'").fetchone() == (
            False,
        )
        conn.execute("SET ROLE vitalstream_analyst")
        for rel in (*(TABLES - {"provider_connections"}), *VIEWS):
            conn.execute(f"SELECT * FROM {rel} LIMIT 1").fetchall()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("INSERT INTO ingested_events (event_id, outcome, stage) VALUES ('x', 'processed', 's')")
        conn.rollback()
        conn.execute("SET ROLE vitalstream_analyst")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM latest_metrics")
        conn.rollback()
        conn.execute("SET ROLE vitalstream_analyst")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE sneaky (x int)")


def test_late_partition_takes_its_rows_out_of_default(database_url: str, db_schema: str) -> None:
    with psycopg.connect(database_url, options=f"-csearch_path={db_schema}") as conn:
        conn.execute(
            "INSERT INTO observations (subject, metric, provider, measured_at, value, unit, confidence, level, "
            "reliability, event_id, ordering_ts, scored_at) VALUES ('s', 'm', 'P', '2019-05-03Z', 1, 'u', 50, "
            "'fair', 0.5, 'e', now(), now())"
        )
        assert conn.execute("SELECT count(*) FROM observations_default").fetchone() == (1,)
        created = [r[0] for r in conn.execute("SELECT ensure_observation_partitions('2019-05-20Z', 1)")]
        assert created == ["observations_p2019_05"]
        assert conn.execute("SELECT count(*) FROM observations_default").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM observations_p2019_05").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM ensure_observation_partitions('2019-05-20Z', 1)").fetchone() == (0,)


def test_downgrade_removes_objects_and_upgrade_restores(database_url: str, schema: str) -> None:
    migrate.upgrade(database_url, schema)
    migrate.downgrade(database_url, schema)
    assert migrate.current(database_url, schema) is None
    with psycopg.connect(database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))}
        assert left <= {"alembic_version"}
    migrate.upgrade(database_url, schema)
    assert migrate.current(database_url, schema) == migrate.head()


def _columns(database_url: str, schema: str) -> set[tuple[str, str]]:
    """(table, column) of every column in ``schema``."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s", (schema,)
        )
        return {(r[0], r[1]) for r in rows}


def test_ledger_columns_come_and_go_with_revision_0002(database_url: str, schema: str) -> None:
    def columns() -> set[str]:
        return {c for t, c in _columns(database_url, schema) if t == "ingested_events"}

    migrate.upgrade(database_url, schema, revision="0001")
    assert not set(LEDGER_COLUMNS) & columns()
    migrate.upgrade(database_url, schema)
    assert set(LEDGER_COLUMNS) <= columns()
    migrate.downgrade(database_url, schema, revision="0001")
    assert migrate.current(database_url, schema) == "0001" and not set(LEDGER_COLUMNS) & columns()


def test_generation_columns_come_and_go_with_revision_0003(database_url: str, schema: str) -> None:
    def tables_with_generation() -> set[str]:
        return {t for t, c in _columns(database_url, schema) if c == "generation"}

    scored = {"observations", "latest_metrics", "data_quality_daily"}
    migrate.upgrade(database_url, schema, revision="0002")
    assert not scored & tables_with_generation()
    migrate.upgrade(database_url, schema)
    assert scored <= tables_with_generation()
    migrate.downgrade(database_url, schema, revision="0002")
    assert not scored & tables_with_generation()


def test_service_roles_come_and_go_with_revision_0009(database_url: str, schema: str) -> None:
    def analyst_reads_connections() -> bool:
        with psycopg.connect(database_url, options=f"-csearch_path={schema}") as conn:
            conn.execute("SET ROLE vitalstream_analyst")
            try:
                conn.execute("SELECT reference_id FROM provider_connections").fetchall()
            except psycopg.errors.InsufficientPrivilege:
                return False
            return True

    migrate.upgrade(database_url, schema, revision="0008")
    assert analyst_reads_connections()  # what 0001 granted, until 0008
    migrate.upgrade(database_url, schema)
    assert not analyst_reads_connections()
    migrate.downgrade(database_url, schema, revision="0008")
    assert analyst_reads_connections()
    migrate.upgrade(database_url, schema)
    assert not analyst_reads_connections()


LAB_COLUMNS = {"value_operator", "reference_low", "reference_high", "interpretation", "code"}


def test_lab_columns_come_and_go_with_revision_0004(database_url: str, schema: str) -> None:
    def columns() -> set[str]:
        return {c for t, c in _columns(database_url, schema) if t == "observations"}

    migrate.upgrade(database_url, schema, revision="0003")
    assert not LAB_COLUMNS & columns()
    migrate.upgrade(database_url, schema)
    assert columns() >= LAB_COLUMNS
    migrate.downgrade(database_url, schema, revision="0003")
    assert migrate.current(database_url, schema) == "0003" and not LAB_COLUMNS & columns()


def test_revision_0005_recounts_daily_quality_from_observations_and_keeps_it(database_url: str, schema: str) -> None:
    migrate.upgrade(database_url, schema, revision="0004")
    with psycopg.connect(with_search_path(database_url, schema), autocommit=True) as conn:
        conn.execute("SELECT ensure_observation_partitions('2026-05-01Z', 1)")
        for i, level in enumerate(("excellent", "good", "poor")):
            conn.execute(
                "INSERT INTO observations (subject, metric, provider, measured_at, value, unit, confidence, level, "
                "reliability, event_id, ordering_ts, scored_at) "
                "VALUES (%s, 'm', 'P', '2026-05-03T10:00Z', 1, 'u', %s, %s, 0.5, 'e', now(), now())",
                (f"s{i}", 90.0 - 30 * i, level),
            )
        # what the worker's aggregate had said: one observation short
        conn.execute(
            "INSERT INTO data_quality_daily (day, metric, provider, count, avg_confidence, excellent, good) "
            "VALUES ('2026-05-03', 'm', 'P', 2, 75, 1, 1), ('2026-04-01', 'm', 'P', 7, 50, 7, 0)"
        )
        migrate.upgrade(database_url, schema)
        assert quality_drift(conn) == [(date(2026, 4, 1), "m", "P", 7, 0)]  # a day with no observations stays
        conn.execute("UPDATE observations SET confidence = 10, level = 'poor', generation = 2 WHERE subject = 's0'")
        conn.execute("DELETE FROM observations WHERE subject = 's1'")
        assert quality_drift(conn) == [(date(2026, 4, 1), "m", "P", 7, 0)]
        row = conn.execute(
            "SELECT count, avg_confidence, excellent, poor, generation FROM data_quality_daily WHERE day = '2026-05-03'"
        ).fetchone()
        assert row == (2, 20.0, 0, 2, 2)
    migrate.downgrade(database_url, schema, revision="0004")
    assert ("data_quality_daily", "confidence_sum") not in _columns(database_url, schema)


def test_console_tables_come_and_go_with_revision_0006(database_url: str, schema: str) -> None:
    console = {"console_accounts", "console_sessions", "console_audit"}

    def tables() -> set[str]:
        return {t for t, _c in _columns(database_url, schema)}

    migrate.upgrade(database_url, schema, revision="0005")
    assert not console & tables()
    migrate.upgrade(database_url, schema)
    assert console <= tables()
    migrate.downgrade(database_url, schema, revision="0005")
    assert not console & tables()


def test_api_keys_and_the_reader_role_come_and_go_with_revision_0007(database_url: str, schema: str) -> None:
    def reader_grants() -> set[tuple[str, str]]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
                "WHERE grantee = 'vitalstream_reader' AND table_schema = %s",
                (schema,),
            )
            return {(r[0], r[1]) for r in rows}

    migrate.upgrade(database_url, schema, revision="0006")
    assert not {t for t, _ in _columns(database_url, schema)} & {"api_keys"}
    migrate.upgrade(database_url, schema)
    assert reader_grants() == {
        (t, "SELECT") for t in ("latest_metrics", "observations", "data_quality_daily", "api_keys")
    }
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO api_keys (name, prefix, key_hash, subjects, scopes) "
                "VALUES ('k', 'vsk_', '\\x00'::bytea, ARRAY['*'], ARRAY['write'])"
            )
    migrate.downgrade(database_url, schema, revision="0006")
    assert migrate.current(database_url, schema) == "0006"
    assert "api_keys" not in {t for t, _ in _columns(database_url, schema)} and reader_grants() == set()


def test_pipeline_stats_uses_the_configured_high_confidence_threshold(database_url: str, schema: str) -> None:
    migrate.upgrade(database_url, schema)
    with psycopg.connect(with_search_path(database_url, schema), autocommit=True) as conn:
        for subject, confidence in (("a", 90.0), ("b", 70.0)):
            conn.execute(
                "INSERT INTO latest_metrics (subject, metric, value, unit, measured_at, provider, confidence, level, "
                "reliability, event_id, ordering_ts) "
                "VALUES (%s, 'm', 1, 'u', now(), 'P', %s, 'good', 0.5, %s, now())",
                (subject, confidence, subject),
            )

        def rate() -> float:
            row = conn.execute("SELECT high_confidence_rate FROM pipeline_stats").fetchone()
            assert row is not None
            return float(row[0])

        assert rate() == 50.0  # the model's default, 80
        record_scoring_settings(conn, 95.0)
        assert rate() == 0.0
        record_scoring_settings(conn, 60.0)
        assert rate() == 100.0
