"""The event ledger on real Kafka and PostgreSQL: ``events.ledger`` → ``ingested_events`` (design §10.2)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from sinks import sample
from tests.fix_sink import MakeSink, connect
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def ledger(conn: psycopg.Connection[Any]) -> dict[str, tuple[Any, ...]]:
    rows = conn.execute("SELECT event_id, outcome, stage, reason, outcome_at FROM ingested_events").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_ledger_records_become_ingested_events(db_settings: Settings, make_sink: MakeSink) -> None:
    records = [
        sample.outcome("p1", "processed", T0, source="terra", event_type="body", observations=7, rejected=1),
        sample.outcome("i1", "ignored", T0, reason="no values in the payload", source="terra"),
        sample.outcome("d1", "dead_lettered", T0, stage="score", reason="x.Bad: broken"),
    ]
    sample.produce(db_settings, "events.ledger", records)
    assert make_sink().drain(idle_s=1.0) == 3
    with connect(db_settings) as conn:
        assert ledger(conn) == {
            "p1": ("processed", "normalize", None, T0),
            "i1": ("ignored", "normalize", "no values in the payload", T0),
            "d1": ("dead_lettered", "score", "x.Bad: broken", T0),
        }
        assert conn.execute(
            "SELECT source, event_type, observations, rejected, ledger_offset >= 0 FROM ingested_events "
            "WHERE event_id = 'p1'"
        ).fetchone() == ("terra", "body", 7, 1, True)
        assert conn.execute(
            "SELECT events_processed, events_ignored, events_dead_lettered FROM pipeline_stats"
        ).fetchone() == (1, 1, 1)
    assert consume_all(db_settings, "dlq") == []


def test_latest_record_wins_and_a_replayed_event_ends_processed(db_settings: Settings, make_sink: MakeSink) -> None:
    t1, t2 = T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)
    history = [
        # dead-lettered by the worker, then replayed from the DLQ successfully
        sample.outcome("replayed", "dead_lettered", t1, reason="s3 timeout"),
        sample.outcome("replayed", "processed", t2, observations=3),
        # processed by normalize, then one observation dead-lettered by score
        sample.outcome("scored-dead", "processed", t1),
        sample.outcome("scored-dead", "dead_lettered", t2, stage="score", reason="bad"),
        # same instant: the later offset wins
        sample.outcome("tie", "processed", t1),
        sample.outcome("tie", "ignored", t1, reason="later offset"),
    ]
    sample.produce(db_settings, "events.ledger", history[:1] + history[2:3] + history[4:5])
    make_sink().drain(idle_s=0.5)  # first halves in one run, second halves in the next
    sample.produce(db_settings, "events.ledger", history[1:2] + history[3:4] + history[5:6])
    make_sink().drain(idle_s=0.5)
    # and everything once more, in one batch: the same answer
    sample.produce(
        db_settings,
        "events.ledger",
        [sample.outcome("batch", o.outcome, o.at, stage=o.stage) for o in history if o.event_id == "replayed"],
    )
    make_sink(sink_batch_size=500).drain(idle_s=0.5)
    with connect(db_settings) as conn:
        got = {k: v[:2] for k, v in ledger(conn).items()}
        assert got == {
            "replayed": ("processed", "normalize"),
            "scored-dead": ("dead_lettered", "score"),
            "tie": ("ignored", "normalize"),
            "batch": ("processed", "normalize"),
        }
        replayed = conn.execute("SELECT reason, outcome_at FROM ingested_events WHERE event_id = 'replayed'")
        assert replayed.fetchone() == (None, t2)


def test_replaying_the_ledger_and_redelivery_change_nothing(db_settings: Settings, make_sink: MakeSink) -> None:
    records = []
    for i in range(40):
        at = T0 + timedelta(seconds=i)
        records.append(sample.outcome(f"e{i:02d}", "processed", at, observations=i))
        if i % 3 == 0:
            records.append(sample.outcome(f"e{i:02d}", "dead_lettered", at + timedelta(seconds=1), stage="score"))
        if i % 6 == 0:
            records.append(sample.outcome(f"e{i:02d}", "processed", at + timedelta(seconds=2)))  # replayed
    sample.produce(db_settings, "events.ledger", records)
    make_sink(sink_batch_size=7).drain(idle_s=1.0)
    with connect(db_settings) as conn:
        before = sample.digest(conn, ["ingested_events"])
        outcomes = dict(conn.execute("SELECT event_id, outcome FROM ingested_events").fetchall())
    assert before["ingested_events"].endswith("/40")
    assert outcomes == {f"e{i:02d}": "dead_lettered" if i % 3 == 0 and i % 6 else "processed" for i in range(40)}

    sample.produce(db_settings, "events.ledger", list(reversed(records)))  # redelivered, out of order
    make_sink(sink_batch_size=500).drain(idle_s=1.0)
    fresh = make_sink(group_prefix=f"replay{uuid.uuid4().hex[:6]}.", sink_batch_size=13)  # from the earliest offset
    assert fresh.drain(idle_s=1.0) == 2 * len(records)
    with connect(db_settings) as conn:
        assert sample.digest(conn, ["ingested_events"]) == before


def test_sink_outcomes_and_the_ledger_meet(db_settings: Settings, make_sink: MakeSink) -> None:
    """Scored records write processed provisionally; the ledger overrides that, never a sink dead letter."""
    good = sample.scored("terra:l1", "step_count", 10.0, event_id="good")
    later_dead = sample.scored("terra:l2", "step_count", 10.0, event_id="later-dead")
    poison = sample.scored("terra:l3", "step_count", 10.0, event_id="poison", device="nul\x00")
    sample.produce(db_settings, "metrics.scored", [good, later_dead, poison])
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert {k: v[:2] for k, v in ledger(conn).items()} == {
            "good": ("processed", "sink"),
            "later-dead": ("processed", "sink"),
            "poison": ("dead_lettered", "sink"),
        }

    sample.produce(
        db_settings,
        "events.ledger",
        [
            sample.outcome("good", "processed", T0, observations=1),
            sample.outcome("later-dead", "processed", T0),
            sample.outcome("later-dead", "dead_lettered", T0 + timedelta(seconds=1), stage="score"),
            sample.outcome("poison", "processed", T0 + timedelta(seconds=5)),  # the sink's dead letter stands
        ],
    )
    make_sink().drain(idle_s=0.5)
    sample.produce(db_settings, "metrics.scored", [good, later_dead])  # redelivered: changes nothing
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert {k: v[:2] for k, v in ledger(conn).items()} == {
            "good": ("processed", "normalize"),
            "later-dead": ("dead_lettered", "score"),
            "poison": ("dead_lettered", "sink"),
        }

    fixed = sample.scored("terra:l3", "step_count", 10.0, event_id="poison", device="fixed")
    sample.produce(db_settings, "metrics.scored", [fixed], headers=[("vs.replay.of", b"0:0")])
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert ledger(conn)["poison"][:2] == ("processed", "sink")
    assert len(consume_all(db_settings, "dlq")) == 1


def test_a_bad_ledger_record_is_dead_lettered_and_its_batch_mates_commit(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    sample.produce(
        db_settings, "events.ledger", [sample.outcome("ok", "processed", T0), sample.outcome("weird", "exploded", T0)]
    )
    make_sink().drain(idle_s=0.5)
    (dead,) = consume_all(db_settings, "dlq", expected=1)
    headers: Any = dead.headers()
    assert dict(headers)["vs.error.class"] == b"sinks.rows.InvalidRecord"
    with connect(db_settings) as conn:
        assert {k: v[:2] for k, v in ledger(conn).items()} == {
            "ok": ("processed", "normalize"),
            "weird": ("dead_lettered", "sink"),
        }
