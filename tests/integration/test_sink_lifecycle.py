"""Connection lifecycle: deauth/revoked purge (with tombstones) and reauth re-keying."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sinks import sample
from tests.fix_sink import MakeSink, connect
from tests.kafka_helpers import consume_all
from vitalstream.platform.settings import Settings

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def tombstones(settings: Settings) -> list[bytes]:
    msgs = consume_all(settings, "metrics.latest")
    assert all(m.value() is None for m in msgs)
    return sorted(m.key() for m in msgs)


def test_deauth_purges_the_users_rows_publishes_tombstones_and_ignores_later_data(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    ev = sample.user_event
    sample.produce(
        db_settings,
        "users",
        [
            ev("auth", "u1", "a1", T0, provider="GARMIN"),
            ev("auth", "u2", "a2", T0, provider="GARMIN"),
            ev("auth", "g1", "a3", T0, provider="GARMIN", reference_id="alice"),
            ev("auth", "o1", "a4", T0, provider="OURA", reference_id="alice"),
        ],
    )
    sample.produce(
        db_settings,
        "metrics.scored",
        [
            sample.scored("terra:u1", "step_count", 1.0, event_id="s1"),
            sample.scored("terra:u1", "body_weight", 70.0, event_id="s2", unit="kg"),
            sample.scored("terra:u2", "step_count", 2.0, event_id="s3"),
            # two providers of one person (reference id subject): GARMIN wins until purged
            sample.scored(
                "alice", "step_count", 900.0, event_id="s4", provider="GARMIN", user_id="g1", confidence=90.0
            ),
            sample.scored("alice", "step_count", 800.0, event_id="s5", provider="OURA", user_id="o1", confidence=60.0),
        ],
    )
    make_sink().drain(idle_s=1.0)
    sample.produce(
        db_settings,
        "users",
        [ev("deauth", "u1", "d1", T0 + timedelta(days=1)), ev("revoked", "g1", "d2", T0 + timedelta(days=1))],
    )
    make_sink().drain(idle_s=1.0)

    with connect(db_settings) as conn:
        assert conn.execute("SELECT subject, metric, provider FROM latest_metrics ORDER BY 1").fetchall() == [
            ("alice", "step_count", "OURA"),
            ("terra:u2", "step_count", "GARMIN"),
        ]
        assert conn.execute("SELECT count(*) FROM observations WHERE user_id IN ('u1', 'g1')").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM observations").fetchone() == (2,)
        assert dict(conn.execute("SELECT user_id, status FROM provider_connections").fetchall()) == {
            "u1": "deauthorized",
            "u2": "connected",
            "g1": "revoked",
            "o1": "connected",
        }
        before = sample.digest(conn)
    assert tombstones(db_settings) == [b"terra:u1|body_weight", b"terra:u1|step_count"]

    # late data of the purged user, and a redelivery of the deauth: nothing comes back
    sample.produce(db_settings, "metrics.scored", [sample.scored("terra:u1", "step_count", 3.0, event_id="late")])
    sample.produce(db_settings, "users", [ev("deauth", "u1", "d1", T0 + timedelta(days=1))])
    make_sink().drain(idle_s=1.0)
    with connect(db_settings) as conn:
        after = sample.digest(conn)
        assert conn.execute("SELECT outcome FROM ingested_events WHERE event_id = 'late'").fetchone() == ("ignored",)
    assert {k: v for k, v in after.items() if k != "ingested_events"} == {
        k: v for k, v in before.items() if k != "ingested_events"
    }
    assert len(tombstones(db_settings)) == 2


def test_reauth_rekeys_old_user_to_new_resolving_key_clashes(db_settings: Settings, make_sink: MakeSink) -> None:
    ev = sample.user_event
    day = T0 + timedelta(days=2)
    sample.produce(db_settings, "users", [ev("auth", "old", "a-old", T0, provider="WHOOP", scopes="read")])
    sample.produce(
        db_settings,
        "metrics.scored",
        [
            sample.scored(
                "terra:old", "step_count", 100.0, measured_at=day, provider="WHOOP", event_id="o1", ordering_ts=day
            ),
            sample.scored("terra:old", "body_weight", 80.0, measured_at=T0, provider="WHOOP", event_id="o2", unit="kg"),
            # the new user id already has a newer version of the same observation: it must survive
            sample.scored(
                "terra:new",
                "step_count",
                120.0,
                measured_at=day,
                provider="WHOOP",
                event_id="n1",
                ordering_ts=day + timedelta(hours=3),
            ),
        ],
    )
    make_sink().drain(idle_s=1.0)
    sample.produce(db_settings, "users", [ev("reauth", "new", "r1", T0 + timedelta(days=3), old_user_id="old")])
    make_sink().drain(idle_s=1.0)

    with connect(db_settings) as conn:
        obs = conn.execute("SELECT subject, metric, value, user_id FROM observations ORDER BY 2").fetchall()
        assert obs == [("terra:new", "body_weight", 80.0, "new"), ("terra:new", "step_count", 120.0, "new")]
        assert conn.execute("SELECT subject, metric, value FROM latest_metrics ORDER BY 2").fetchall() == [
            ("terra:new", "body_weight", 80.0),
            ("terra:new", "step_count", 120.0),
        ]
        conns = {
            r[0]: r[1:]
            for r in conn.execute("SELECT user_id, status, replaced_by, provider, scopes FROM provider_connections")
        }
        assert conns == {"old": ("replaced", "new", "WHOOP", "read"), "new": ("connected", None, "WHOOP", "read")}
        before = sample.digest(conn)
    assert tombstones(db_settings) == [b"terra:old|body_weight", b"terra:old|step_count"]

    # a late observation of the old id lands on the new one; redelivering the reauth changes nothing
    sample.produce(
        db_settings,
        "metrics.scored",
        [sample.scored("terra:old", "sleep_duration", 7.5, measured_at=T0, provider="WHOOP", event_id="o3", unit="s")],
    )
    sample.produce(db_settings, "users", [ev("reauth", "new", "r1", T0 + timedelta(days=3), old_user_id="old")])
    make_sink().drain(idle_s=1.0)
    with connect(db_settings) as conn:
        assert conn.execute("SELECT subject, user_id FROM observations WHERE event_id = 'o3'").fetchone() == (
            "terra:new",
            "new",
        )
        assert conn.execute("SELECT count(*) FROM observations WHERE subject = 'terra:old'").fetchone() == (0,)
        assert sample.digest(conn, ["provider_connections"]) == {"provider_connections": before["provider_connections"]}
