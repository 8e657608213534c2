"""The bench's visibility poller on a real PostgreSQL: fine while few rows are missing, bounded when many are."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from vitalstream.bench import payloads
from vitalstream.bench.freshness import BASE_INTERVAL_S, LOOKUPS_PER_S, MAX_PROBE, VisibilityPoller

WINDOW_S = 1.0


@pytest.fixture
def rows_table(database_url: str) -> Iterator[str]:
    """A table of visible subjects, for the poller's query."""
    name = f"poller_rows_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE {name} (subject text PRIMARY KEY)")
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {name}")


def poller_for(database_url: str, table: str, rate: float, total: int) -> VisibilityPoller:
    run = uuid.uuid4().hex[:8]
    return VisibilityPoller(database_url, f"SELECT subject FROM {table} WHERE subject = ANY(%s)", run, rate, total)


def test_a_row_is_seen_within_a_base_interval_while_few_are_missing(database_url: str, rows_table: str) -> None:
    poller = poller_for(database_url, rows_table, rate=1000.0, total=5)
    poller.begin(time.monotonic())
    try:
        time.sleep(0.2)
        with psycopg.connect(database_url, autocommit=True) as conn:
            written = time.monotonic()
            conn.execute(f"INSERT INTO {rows_table} VALUES (%s)", (payloads.subject_of(poller.run, 3),))
        assert poller.wait_for({3}, timeout_s=2.0)
    finally:
        poller.stop()
    assert poller.seen[3] - written < 5 * BASE_INTERVAL_S
    assert set(poller.seen) == {3}
    assert max(poller.intervals_s) == BASE_INTERVAL_S


def test_a_backlog_of_missing_rows_keeps_the_poller_to_its_lookup_budget(database_url: str, rows_table: str) -> None:
    """3,000 due, none visible: at a fixed 10 ms the poller asked for 2,000 subjects about 100 times a second."""
    poller = poller_for(database_url, rows_table, rate=1_000_000.0, total=3000)
    poller.begin(time.monotonic())
    time.sleep(WINDOW_S)
    poller.stop()
    lookups = poller.polls * MAX_PROBE
    assert poller.polls >= 2, "the poller kept polling"
    assert lookups <= LOOKUPS_PER_S * WINDOW_S + MAX_PROBE, f"{lookups:,} look-ups in {WINDOW_S:g} s"
