"""The sink on real Kafka and PostgreSQL: writes, idempotent redelivery, the §6 rule in any order."""

from __future__ import annotations

import itertools
import sys
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.records import ScoredObservation
from schemas.resolution import resolve
from sinks import sample
from sinks.rows import observation_row
from tests.fix_sink import MakeSink, connect, quality_drift
from tests.kafka_helpers import consume_all
from vitalstream.platform.runtime import THREAD_SWITCH_S
from vitalstream.platform.settings import Settings

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def test_records_land_in_observations_latest_ledger_and_quality(db_settings: Settings, make_sink: MakeSink) -> None:
    recs = [
        sample.scored(
            f"terra:u{i % 3}",
            "step_count",
            1000.0 + i,
            measured_at=T0 + timedelta(days=i % 4),
            event_id=f"e{i:03d}",
            user_id=f"u{i % 3}",
        )
        for i in range(40)
    ]
    sample.produce(db_settings, "metrics.scored", recs)
    assert make_sink().drain(idle_s=1.0) == 40
    with connect(db_settings) as conn:
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (12,)  # 3 users x 4 days
        latest = conn.execute(
            "SELECT subject, measured_at, event_id, user_id FROM latest_metrics ORDER BY 1"
        ).fetchall()
        assert [(s, m) for s, m, _, _ in latest] == [(f"terra:u{i}", T0 + timedelta(days=3)) for i in range(3)]
        assert all(u == s.removeprefix("terra:") for s, _, _, u in latest)
        assert conn.execute("SELECT outcome, count(*) FROM ingested_events GROUP BY 1").fetchall() == [
            ("processed", 40)
        ]
        assert conn.execute("SELECT count, avg_confidence FROM data_quality_daily").fetchall() == [(3, 80.0)] * 4
        assert quality_drift(conn) == []
        stats = conn.execute("SELECT latest_metrics, events_processed, high_confidence_rate FROM pipeline_stats")
        assert stats.fetchone() == (3, 40, 100.0)
        assert conn.execute("SELECT count(*) FROM observations_default").fetchone() == (0,)
    assert consume_all(db_settings, "dlq") == []


def everything(prefix: str) -> tuple[list[ScoredObservation], list[Any]]:
    scored = [
        sample.scored(
            f"{prefix}{i % 4}",
            metric,
            50.0 + i,
            measured_at=T0 + timedelta(days=i % 3),
            provider=("GARMIN", "OURA")[i % 2],
            confidence=40.0 + (i * 7) % 60,
            reliability=(0.3, 0.8)[i % 2],
            event_id=f"ev{i:03d}",
            ordering_ts=T0 + timedelta(days=i % 3, minutes=i),
        )
        for i in range(60)
        for metric in ("step_count", "body_weight")
    ]
    users = [sample.user_event("auth", f"u{i}", f"auth-{i}", T0, provider="GARMIN") for i in range(3)]
    users.append(sample.user_event("profile", "u1", "prof-1", T0 + timedelta(hours=1), sex="F", birth_year=1990))
    return scored, users


def test_redelivery_and_replay_from_earliest_change_no_table(db_settings: Settings, make_sink: MakeSink) -> None:
    scored, users = everything("terra:r")
    for _ in range(2):  # the producer sent everything twice already
        sample.produce(db_settings, "metrics.scored", scored)
        sample.produce(db_settings, "users", users)
    make_sink(sink_batch_size=37).drain(idle_s=1.0)
    with connect(db_settings) as conn:
        before = sample.digest(conn)
    assert before["observations"].endswith("/24") and before["provider_connections"].endswith("/3")

    # redelivery of every event, in reverse order, to the same group
    sample.produce(db_settings, "metrics.scored", list(reversed(scored)))
    sample.produce(db_settings, "users", list(reversed(users)))
    assert make_sink(sink_batch_size=500).drain(idle_s=1.0) == len(scored) + len(users)
    # and a replay of every topic from the earliest offset by a new consumer group
    fresh = make_sink(group_prefix=f"replay{uuid.uuid4().hex[:6]}.", sink_batch_size=11)
    assert fresh.drain(idle_s=1.0) == 3 * (len(scored) + len(users))
    with connect(db_settings) as conn:
        assert sample.digest(conn) == before
    assert consume_all(db_settings, "dlq") == []


CANDIDATES = [  # one slot per candidate set: what arrives last must not matter
    dict(provider="GARMIN", confidence=80.0, reliability=0.5, event_id="a", measured_at=T0),
    dict(provider="OURA", confidence=90.0, reliability=0.4, event_id="b", measured_at=T0),
    dict(provider="WHOOP", confidence=90.0, reliability=0.7, event_id="c", measured_at=T0),
    dict(provider="FITBIT", confidence=99.0, reliability=0.9, event_id="d", measured_at=T0 - timedelta(days=1)),
]


@pytest.mark.parametrize("batch_size", [1, 500])
def test_every_arrival_order_leaves_the_rules_answer(
    db_settings: Settings, make_sink: MakeSink, batch_size: int
) -> None:
    perms = list(itertools.permutations(range(len(CANDIDATES))))
    records = [
        sample.scored(f"perm{n}", "step_count", float(i), **CANDIDATES[i])  # type: ignore[arg-type]
        for n, perm in enumerate(perms)
        for i in perm
    ]
    sample.produce(db_settings, "metrics.scored", records)
    make_sink(sink_batch_size=batch_size).drain(idle_s=1.0)
    expected = resolve([observation_row(r) for r in records if r.observation.subject == "perm0"])
    with connect(db_settings) as conn:
        latest = conn.execute("SELECT subject, event_id, provider, value FROM latest_metrics").fetchall()
        assert len(latest) == len(perms)
        assert {(e, p, v) for _, e, p, v in latest} == {(expected.event_id, expected.provider, expected.value)}
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (len(records),)


def test_two_providers_for_the_same_day(db_settings: Settings, make_sink: MakeSink) -> None:
    day = T0 + timedelta(days=9)
    garmin = sample.scored(
        "alice",
        "step_count",
        9000.0,
        measured_at=day,
        provider="GARMIN",
        confidence=82.0,
        reliability=0.6,
        event_id="g1",
    )
    oura = sample.scored(
        "alice", "step_count", 9400.0, measured_at=day, provider="OURA", confidence=82.0, reliability=0.7, event_id="o1"
    )
    older = sample.scored(
        "alice",
        "step_count",
        12000.0,
        measured_at=day - timedelta(days=1),
        provider="APPLE",
        confidence=99.0,
        reliability=0.9,
        event_id="a1",
    )
    sample.produce(db_settings, "metrics.scored", [oura])
    make_sink().drain(idle_s=0.5)
    sample.produce(db_settings, "metrics.scored", [older, garmin])
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert conn.execute("SELECT provider, value FROM latest_metrics").fetchall() == [("OURA", 9400.0)]
        assert conn.execute("SELECT count(*) FROM observations WHERE subject = 'alice'").fetchone() == (3,)
    better = sample.scored(
        "alice",
        "step_count",
        9100.0,
        measured_at=day,
        provider="GARMIN",
        confidence=95.0,
        reliability=0.6,
        event_id="g2",
        ordering_ts=day + timedelta(hours=5),
    )
    sample.produce(db_settings, "metrics.scored", [better])
    make_sink().drain(idle_s=0.5)
    with connect(db_settings) as conn:
        assert conn.execute("SELECT provider, value, event_id FROM latest_metrics").fetchall() == [
            ("GARMIN", 9100.0, "g2")
        ]
        # the newer version of GARMIN's observation replaced the older one in place
        assert conn.execute("SELECT value, event_id FROM observations WHERE provider = 'GARMIN'").fetchall() == [
            (9100.0, "g2")
        ]


def test_lab_result_lands_with_its_range_flag_operator_and_code(db_settings: Settings, make_sink: MakeSink) -> None:
    crp = sample.scored("subject-7", "lab.crp[mg/L]", 0.5, unit="mg/L", provider="LAB_REPORT", event_id="lab-1")
    lab = replace(
        crp,
        observation=replace(
            crp.observation,
            value_operator="<",
            reference_low=0.0,
            reference_high=5.0,
            interpretation="normal",
            code="1988-5",
        ),
    )
    plain = sample.scored("subject-7", "step_count", 900.0, event_id="steps-1")
    sample.produce(db_settings, "metrics.scored", [lab, plain])
    assert make_sink().drain(idle_s=1.0) == 2
    with connect(db_settings) as conn:
        rows = conn.execute(
            "SELECT metric, value, value_operator, reference_low, reference_high, interpretation, code "
            "FROM observations ORDER BY metric"
        ).fetchall()
    assert rows == [
        ("lab.crp[mg/L]", 0.5, "<", 0.0, 5.0, "normal", "1988-5"),
        ("step_count", 900.0, None, None, None, None, None),
    ]


def test_a_pipelined_sink_hands_the_interpreter_lock_over_quickly(make_sink: MakeSink) -> None:
    """Its writer thread waits on PostgreSQL for every statement of a batch while the consume thread
    decodes the next: at the default 5 ms switch interval each wake waits for the lock (design §11)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)
    try:
        make_sink()
        assert sys.getswitchinterval() == pytest.approx(THREAD_SWITCH_S)
    finally:
        sys.setswitchinterval(before)
