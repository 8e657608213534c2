"""``data_quality_daily`` is a recount of ``observations`` through redelivery, crashes, re-scores and purges.

Real Kafka and PostgreSQL, the real sink: the aggregate is checked against a recount after every
step, not against a number the test computed itself.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from schemas.records import ScoredObservation
from sinks import sample, store
from sinks.rows import observation_row
from tests.fix_sink import MakeSink, connect, quality_drift
from vitalstream.platform.settings import Settings

T0 = datetime(2026, 3, 1, 6, tzinfo=UTC)
USERS = [f"q{i}" for i in range(6)]


class Crash(Exception):
    """The sink dies at this point."""


def _scored(i: int, confidence: float, event_id: str, ordering_minutes: int = 0) -> ScoredObservation:
    user = USERS[i % len(USERS)]
    return sample.scored(
        f"terra:{user}",
        ("step_count", "body_weight")[i % 2],
        float(i),
        measured_at=T0 + timedelta(days=i % 3, minutes=i),
        provider=("GARMIN", "OURA")[(i // 2) % 2],
        confidence=confidence,
        event_id=event_id,
        user_id=user,
        ordering_ts=T0 + timedelta(minutes=ordering_minutes),
    )


def _totals(settings: Settings) -> tuple[int, int]:
    with connect(settings) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM observations), (SELECT coalesce(sum(count), 0) FROM data_quality_daily)"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def _assert_exact(settings: Settings) -> int:
    with connect(settings) as conn:
        assert quality_drift(conn) == []
    observations, counted = _totals(settings)
    assert counted == observations
    return observations


def test_daily_quality_equals_a_recount_after_redelivery_crashes_rescores_and_purges(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    base = [_scored(i, 30.0 + (i * 13) % 70, f"b{i:03d}", ordering_minutes=10) for i in range(240)]
    # the same observations again: an older event for the same slot (loses) and exact redeliveries
    stale = [_scored(i, 99.0, f"a{i:03d}", ordering_minutes=1) for i in range(0, 240, 5)]
    sample.produce(db_settings, "users", [sample.user_event("auth", u, f"auth-{u}", T0) for u in USERS])
    sample.produce(db_settings, "metrics.scored", base + stale + base[:50])

    commits = 0

    def crash_on_third_commit() -> None:  # after the database commit, before the offset commit
        nonlocal commits
        commits += 1
        if commits == 3:
            raise Crash

    doomed = make_sink(after_db_commit=crash_on_third_commit, sink_batch_size=64)
    with pytest.raises(Crash):
        doomed.drain(idle_s=2.0)
    doomed.close()
    assert 0 < _assert_exact(db_settings) < 240

    # a crash inside the transaction, after the observations were written: both roll back together
    rescored = [replace(_scored(i, 95.0 - i % 60, f"b{i:03d}", ordering_minutes=10), generation=1) for i in range(80)]
    with connect(db_settings) as conn:
        before = sample.digest(conn, ("observations", "data_quality_daily"))

        def die(_: store.BatchResult) -> None:
            raise Crash

        with pytest.raises(Crash):
            store.write_batch(conn, store.Batch(observations=[observation_row(r) for r in rescored]), True, die)
        assert sample.digest(conn, ("observations", "data_quality_daily")) == before

    assert make_sink(sink_batch_size=64).drain(idle_s=1.0) > 0  # the crashed batch comes again
    assert _assert_exact(db_settings) == 240

    # a newer scoring generation moves confidences and levels, not counts; a purge takes its rows out
    sample.produce(db_settings, "metrics.scored", rescored + base)
    sample.produce(db_settings, "users", [sample.user_event("deauth", USERS[5], "deauth-q5", T0 + timedelta(days=4))])
    make_sink(sink_batch_size=37).drain(idle_s=1.0)
    assert _assert_exact(db_settings) == 200
    with connect(db_settings) as conn:
        assert {r[0] for r in conn.execute("SELECT DISTINCT generation FROM data_quality_daily")} == {1}
        settled = sample.digest(conn, ("data_quality_daily",))

    # a replay of every topic from the earliest offset by a new consumer group changes nothing
    make_sink(group_prefix=f"replay{uuid.uuid4().hex[:6]}.", sink_batch_size=500).drain(idle_s=1.0)
    with connect(db_settings) as conn:
        assert sample.digest(conn, ("data_quality_daily",)) == settled
    assert _assert_exact(db_settings) == 200
