"""Retention drops whole monthly partitions; future partitions are created ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from sinks import sample
from sinks.retention import drop_partitions_older_than, ensure_future_partitions, partitions
from sinks.service import Sink
from vitalstream.platform.settings import Settings


def test_retention_drops_old_partitions_whole(db_settings: Settings, database_url: str, db_schema: str) -> None:
    now = datetime.now(UTC)
    old = (now - timedelta(days=500)).replace(day=10)
    recent = now - timedelta(days=3)
    sample.produce(
        db_settings,
        "metrics.scored",
        [
            sample.scored("terra:r1", "step_count", 1.0, measured_at=old, event_id="old"),
            sample.scored("terra:r1", "body_weight", 2.0, measured_at=recent, event_id="new", unit="kg"),
        ],
    )
    sink = Sink(db_settings)
    try:
        sink.drain(idle_s=0.5)
    finally:
        sink.close()
    old_part = f"observations_p{old:%Y_%m}"
    assert old_part in {name for name, _ in partitions(database_url, db_schema)}

    assert drop_partitions_older_than(database_url, 400, db_schema, dry_run=True) == [old_part]
    dropped = drop_partitions_older_than(database_url, 400, db_schema)
    assert dropped == [old_part]
    assert drop_partitions_older_than(database_url, 400, db_schema) == []
    names = {name for name, _ in partitions(database_url, db_schema)}
    assert old_part not in names and "observations_default" in names
    with psycopg.connect(db_settings.database_dsn()) as conn:
        assert conn.execute("SELECT event_id FROM observations").fetchall() == [("new",)]


def test_future_partitions_are_created_ahead(database_url: str, db_schema: str) -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    created = ensure_future_partitions(database_url, months_ahead=2, schema=db_schema, now=later)
    assert len(created) == 3 and created[0] == f"observations_p{later:%Y_%m}"
    assert ensure_future_partitions(database_url, months_ahead=2, schema=db_schema, now=later) == []
