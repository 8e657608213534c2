"""Reconciliation with Terra and silent connections, on the real broker and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg

from schemas.records import OpsEvent
from sinks.reconcile import reconcile
from tests.integration.test_ops_tools import _env
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings


def _db(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_dsn(), autocommit=True)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _arrivals(conn: psycopg.Connection[Any], source: str, ages: list[timedelta], now: datetime) -> None:
    for i, age in enumerate(ages):
        conn.execute(
            "INSERT INTO ingested_events (event_id, outcome, stage, source, first_seen_at) VALUES (%s, 'processed',"
            " 'normalize', %s, %s)",
            (f"{source}-{i}-{age.total_seconds()}", source, now - age),
        )


def test_the_gap_compares_terras_count_with_the_hours_arrivals(db_settings: Settings) -> None:
    now = datetime.now(UTC)
    with _db(db_settings) as conn:
        # 30 Terra events in the hour before the healthcheck, 5 before it, 4 of another source
        _arrivals(conn, "terra", [timedelta(minutes=m + 1) for m in range(30)], now)
        _arrivals(conn, "terra", [timedelta(minutes=61 + m) for m in range(5)], now)
        _arrivals(conn, "acme", [timedelta(minutes=2 + m) for m in range(4)], now)
    assert reconcile(db_settings) is None, "no healthcheck yet: nothing to compare"
    codec = codec_for(db_settings)
    checks = [
        OpsEvent("h-old", "terra", "healthcheck", now - timedelta(hours=2), details={"sent_webhooks_last_hour": "9"}),
        OpsEvent("h-new", "terra", "healthcheck", now, details={"sent_webhooks_last_hour": "40"}),
        OpsEvent("p", "terra", "processing", now, details={"retry_after_seconds": "60"}),
    ]
    records = [kafka.OutRecord(db_settings.topic("ops.events"), codec.encode(e), b"terra") for e in checks]
    kafka.produce_all(kafka.producer(db_settings, "test"), records, timeout_s=15)

    result = reconcile(db_settings)
    assert result is not None
    assert (result.healthcheck.sent, result.arrived, result.gap) == (40, 30, 0.25)


def _connection(conn: psycopg.Connection[Any], user: str, status: str, connected_days_ago: int) -> None:
    conn.execute(
        "INSERT INTO provider_connections (user_id, provider, status, connected_at) VALUES (%s, 'OURA', %s,"
        " now() - make_interval(days => %s))",
        (user, status, connected_days_ago),
    )


def _latest(conn: psycopg.Connection[Any], user: str, metric: str, days_ago: float) -> None:
    conn.execute(
        "INSERT INTO latest_metrics (subject, metric, value, unit, measured_at, provider, confidence, level,"
        " reliability, event_id, ordering_ts, user_id, updated_at) VALUES (%s, %s, 1, 'x', now(), 'OURA', 90,"
        " 'excellent', 0.9, 'e', now(), %s, now() - make_interval(secs => %s))",
        (f"terra:{user}", metric, user, days_ago * 86400),
    )


def test_silent_connections_lists_connected_users_without_recent_data(db_settings: Settings) -> None:
    with _db(db_settings) as conn:
        _connection(conn, "quiet", "connected", 30)
        _latest(conn, "quiet", "step_count", 9)
        _connection(conn, "never-sent", "connected", 20)
        _connection(conn, "lively", "connected", 30)
        _latest(conn, "lively", "step_count", 9)
        _latest(conn, "lively", "heart_rate", 0.5)  # its newest value is recent
        _connection(conn, "new", "connected", 2)  # connected too recently to be silent
        _connection(conn, "gone", "deauthorized", 30)

    done = _cli(_env(db_settings), "connections", "silent", "--days", "7")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["never-sent", "quiet"]
    assert "last data never" in lines[0] and "OURA" in lines[1]
    assert "2 connection(s) without data for 7 day(s)" in done.stderr

    as_json = _cli(_env(db_settings), "connections", "silent", "--days", "10", "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [row["user_id"] for row in orjson.loads(as_json.stdout)] == ["never-sent"]


def test_silent_connections_without_a_database_is_one_line(db_settings: Settings) -> None:
    env = {**_env(db_settings), "VITALSTREAM_DATABASE_URL": "postgresql://vs@127.0.0.1:1/none"}
    done = _cli(env, "connections", "silent", "--days", "7")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: cannot reach PostgreSQL at VITALSTREAM_DATABASE_URL: is it running (`vitalstream status`)?"
    ]
    assert "Traceback" not in done.stderr and done.stdout == ""
