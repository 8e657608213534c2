"""Failures: poison records to the DLQ, PostgreSQL restarting, a sink killed between commits."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pydantic import SecretStr

from sinks import metrics, sample
from tests.fix_kafka import make_settings
from tests.fix_pg import with_search_path
from tests.fix_sink import MakeSink, connect
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics
from vitalstream.stack.postgres import PostgresServer

T0 = datetime(2026, 4, 1, tzinfo=UTC)


@dataclass(frozen=True)
class OwnedDatabase:
    """A PostgreSQL server these tests own (they stop and crash it), and settings on a fresh schema."""

    server: PostgresServer
    settings: Settings


@pytest.fixture(scope="module")
def owned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """Always launched here with initdb/pg_ctl (design §12), whatever server the other tests use:
    stopping a shared or containerised one is not ours to do."""
    server = PostgresServer(Path(tmp_path_factory.mktemp("owned-pg")), fast=True)
    server.init()
    server.start()
    yield server
    server.stop(mode="immediate")


@pytest.fixture
def owned_db(owned_server: PostgresServer, kafka_bootstrap: str) -> Iterator[OwnedDatabase]:
    from sinks.migrate import upgrade

    schema = f"t_{uuid.uuid4().hex[:12]}"
    upgrade(owned_server.url, schema=schema)
    settings = make_settings(kafka_bootstrap, database_url=SecretStr(with_search_path(owned_server.url, schema)))
    report = ensure_topics(settings)
    assert not report.problems, report.problems
    yield OwnedDatabase(owned_server, settings)
    owned_server.start()  # no-op when running


def headers_of(msg: Any) -> dict[str, bytes]:
    return dict(msg.headers() or [])


def test_permanent_failures_are_isolated_dead_lettered_and_their_batch_mates_commit(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    good = [sample.scored(f"terra:g{i}", "step_count", float(i), event_id=f"good{i:02d}") for i in range(30)]
    nul = sample.scored("terra:g3", "body_weight", 70.0, event_id="nul", device="bad\x00device")  # psycopg refuses
    backwards = sample.scored(
        "terra:g5",
        "sleep_duration",
        8.0,
        event_id="backwards",  # a CHECK refuses
        measured_until=T0 - timedelta(days=400),
    )
    out_of_range = sample.scored("terra:g4", "step_count", 5.0, event_id="conf", confidence=150.0)  # never sent
    trace = [("trace", b"t-1")]
    sample.produce(
        db_settings,
        "metrics.scored",
        [*good[:10], nul, *good[10:20], backwards, *good[20:], out_of_range],
        headers=trace,
    )  # type: ignore[arg-type]
    sample.produce(db_settings, "metrics.scored", [b"\xc3\x01not avro at all"], key=b"terra:junk")
    make_sink(sink_batch_size=500).drain(idle_s=1.0)

    dlq = consume_all(db_settings, "dlq", expected=4)
    by_event = {headers_of(m).get("vs.event_id", b"").decode(): m for m in dlq}
    assert sorted(by_event) == ["", "backwards", "conf", "nul"]
    nul_msg = by_event["nul"]
    h = headers_of(nul_msg)
    assert h["vs.error.stage"] == b"sink"
    assert h["vs.error.class"] == b"psycopg.DataError"
    assert b"NUL" in h["vs.error.message"] and b"Traceback" in h["vs.error.stacktrace"]
    assert h["vs.original.topic"] == db_settings.topic("metrics.scored").encode()
    assert int(h["vs.original.partition"]) >= 0 and int(h["vs.original.offset"]) >= 0
    assert int(h["vs.original.timestamp"]) > 0 and h["vs.attempts"] == b"1" and h["vs.first_failure_at"]
    assert h["trace"] == b"t-1" and nul_msg.key() == b"terra:g3"
    assert sample.Codec().decode(nul_msg.value()) == nul
    assert headers_of(by_event["backwards"])["vs.error.class"] == b"psycopg.errors.CheckViolation"
    assert headers_of(by_event["conf"])["vs.error.class"] == b"sinks.rows.InvalidRecord"
    assert headers_of(by_event[""])["vs.error.class"] == b"schemas.codec.DecodeError"

    with connect(db_settings) as conn:
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (30,)
        assert conn.execute("SELECT count(*) FROM latest_metrics").fetchone() == (30,)
        ledger = dict(conn.execute("SELECT event_id, outcome FROM ingested_events").fetchall())
        assert ledger == {
            **{r.observation.event_id: "processed" for r in good},
            "nul": "dead_lettered",
            "backwards": "dead_lettered",
            "conf": "dead_lettered",
        }

    # ops fix the record and replay it: the ledger turns to processed
    fixed = sample.scored("terra:g3", "body_weight", 70.0, event_id="nul", device="fixed")
    sample.produce(db_settings, "metrics.scored", [fixed], headers=[("vs.replay.of", b"0:0")])
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert conn.execute("SELECT outcome FROM ingested_events WHERE event_id = 'nul'").fetchone() == ("processed",)
        assert conn.execute("SELECT device FROM observations WHERE event_id = 'nul'").fetchone() == ("fixed",)
    assert len(consume_all(db_settings, "dlq")) == 4


def test_postgres_restart_mid_stream_loses_and_duplicates_nothing(owned_db: OwnedDatabase, make_sink: MakeSink) -> None:
    db_settings, restartable = owned_db.settings, owned_db.server
    records = [
        sample.scored(
            f"terra:p{i % 50}", "step_count", float(i), measured_at=T0 + timedelta(days=i // 50), event_id=f"p{i:04d}"
        )
        for i in range(3000)
    ]
    sample.produce(db_settings, "metrics.scored", records[:500])
    sink = make_sink(db_settings, sink_batch_size=50)
    sink.drain(idle_s=0.5)
    transient_before = sum(s.value for s in metrics.TRANSIENT_ERRORS.collect()[0].samples if s.name.endswith("_total"))
    restartable.stop("fast")  # PostgreSQL goes away between two batches of the stream ...
    sample.produce(db_settings, "metrics.scored", records[500:])
    restarter = threading.Timer(5.0, restartable.start)  # ... and comes back a few seconds later
    restarter.start()
    try:
        sink.drain(idle_s=2.0, max_s=180)
    finally:
        restarter.join()
    sink.drain(idle_s=1.0)
    transient_after = sum(s.value for s in metrics.TRANSIENT_ERRORS.collect()[0].samples if s.name.endswith("_total"))
    assert transient_after > transient_before, "the outage was not noticed: did the test stop PostgreSQL?"
    assert metrics.PAUSED._value.get() == 0
    with connect(db_settings) as conn:
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (3000,)
        assert conn.execute("SELECT outcome, count(*) FROM ingested_events GROUP BY 1").fetchall() == [
            ("processed", 3000)
        ]
        assert conn.execute("SELECT count(*) FROM latest_metrics").fetchone() == (50,)
    assert consume_all(db_settings, "dlq") == []


def test_postgres_crash_right_after_a_batch_commit_loses_no_ledger_or_observation_rows(
    owned_db: OwnedDatabase, make_sink: MakeSink
) -> None:
    """Offsets are committed after the database commit, so that commit must be durable.

    The test server runs with ``synchronous_commit=off`` (``PostgresServer(fast=True)``, like the
    chaos rig): an acknowledged COMMIT may still sit in the WAL buffers, and an immediate stop
    (a crash) then loses it after the sink has committed the batch's offsets, leaving events in
    neither ``ingested_events`` nor the DLQ. A long WAL-writer delay makes that window seconds
    wide instead of ~200 ms, so the loss is deterministic when the sink's sessions do not ask for
    synchronous commits. Ledger records also arrive while the server is down.
    """

    def batch(tag: str, n: int) -> tuple[list[Any], list[Any]]:
        scored = [
            sample.scored(
                f"terra:{tag}{i % 5}",
                "step_count",
                float(i),
                event_id=f"{tag}{i:03d}",
                measured_at=T0 + timedelta(hours=i),
            )
            for i in range(n)
        ]
        outcomes = [
            sample.outcome(f"{tag}{i:03d}", "processed", T0 + timedelta(seconds=i), observations=1) for i in range(n)
        ]
        return scored, outcomes

    db_settings, restartable, database_url = owned_db.settings, owned_db.server, owned_db.server.url
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET wal_writer_delay = '10s'")
        conn.execute("ALTER SYSTEM SET wal_writer_flush_after = '1GB'")
        conn.execute("SELECT pg_reload_conf()")
    try:
        warm_scored, warm_outcomes = batch("w", 40)
        sample.produce(db_settings, "metrics.scored", warm_scored)
        sample.produce(db_settings, "events.ledger", warm_outcomes)
        sink = make_sink(db_settings, sink_batch_size=30)
        sink.drain(idle_s=0.5)
        before_scored, before_outcomes = batch("b", 40)  # committed just before the crash
        sample.produce(db_settings, "metrics.scored", before_scored)
        sample.produce(db_settings, "events.ledger", before_outcomes)
        sink.drain(idle_s=0.3)
        restartable.stop("immediate")  # a crash: no shutdown checkpoint, WAL buffers gone
        during_scored, during_outcomes = batch("d", 40)  # arrive while the server is down
        sample.produce(db_settings, "events.ledger", during_outcomes)
        sample.produce(db_settings, "metrics.scored", during_scored)
        restarter = threading.Timer(3.0, restartable.start)
        restarter.start()
        try:
            sink.drain(idle_s=2.0, max_s=120)
        finally:
            restarter.join()
        sink.drain(idle_s=1.0)
    finally:
        restartable.start()  # no-op when it is running
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM RESET wal_writer_delay")
            conn.execute("ALTER SYSTEM RESET wal_writer_flush_after")
            conn.execute("SELECT pg_reload_conf()")
    expected = {f"{tag}{i:03d}" for tag in "wbd" for i in range(40)}
    with connect(db_settings) as conn:
        rows = conn.execute("SELECT event_id, outcome, outcome_at IS NOT NULL FROM ingested_events").fetchall()
        got = {e for e, outcome, from_ledger in rows if outcome == "processed" and from_ledger}
        assert sorted(expected - got) == [], "events in neither ingested_events (from the ledger) nor the DLQ"
        observed = {r[0] for r in conn.execute("SELECT event_id FROM observations")}
        assert sorted(expected - observed) == []
    assert consume_all(db_settings, "dlq") == []


class Crash(Exception):
    """The process dies after the database commit, before the offsets are committed."""


def test_sink_killed_between_db_commit_and_offset_commit_has_no_duplicate_effect(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    scored = [
        sample.scored(
            f"terra:k{i % 7}",
            "step_count",
            float(i),
            measured_at=T0 + timedelta(days=i % 5),
            event_id=f"k{i:03d}",
            confidence=50.0 + i % 40,
        )
        for i in range(200)
    ]
    users = [sample.user_event("auth", f"k{i}", f"auth-k{i}", T0) for i in range(7)]
    sample.produce(db_settings, "users", users)
    sample.produce(db_settings, "metrics.scored", scored)

    def crash_when_everything_is_in() -> None:
        with connect(db_settings) as conn:
            (n,) = conn.execute("SELECT count(*) FROM ingested_events").fetchone()  # type: ignore[misc]
        if n >= len(scored) + len(users):
            raise Crash

    doomed = make_sink(after_db_commit=crash_when_everything_is_in, sink_batch_size=64)
    with pytest.raises(Crash):
        doomed.drain(idle_s=2.0)
    doomed.close()
    with connect(db_settings) as conn:
        after_crash = sample.digest(conn)
    assert after_crash["observations"].endswith("/35") and after_crash["ingested_events"].endswith("/207")

    survivor = make_sink(sink_batch_size=64)
    redelivered = survivor.drain(idle_s=1.0)
    assert redelivered > 0, "the last batch's offsets were not committed, so it must come again"
    with connect(db_settings) as conn:
        assert sample.digest(conn) == after_crash
    assert consume_all(db_settings, "dlq") == []
