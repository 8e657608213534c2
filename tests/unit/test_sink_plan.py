"""Batch planning: in-batch dedupe, the §6 rule whatever the order, purge/re-key routing (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.resolution import resolve
from sinks.plan import ConnectionState, merge_ledger, plan_observations, rekey, route
from sinks.rows import LedgerRow, ObservationRow, observation_row
from sinks.rule import sql_order_by, sql_wins
from sinks.sample import scored

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def row(**kw: object) -> ObservationRow:
    return observation_row(scored(**kw))  # type: ignore[arg-type]


CANDIDATES = [
    row(provider="GARMIN", confidence=80.0, reliability=0.5, event_id="a", measured_at=T0),
    row(provider="OURA", confidence=90.0, reliability=0.4, event_id="b", measured_at=T0),
    row(provider="WHOOP", confidence=90.0, reliability=0.7, event_id="c", measured_at=T0),
    row(provider="FITBIT", confidence=10.0, reliability=0.1, event_id="d", measured_at=T0 - timedelta(days=1)),
]


def test_every_permutation_plans_the_rule_winner() -> None:
    expected = resolve(CANDIDATES)
    for perm in itertools.permutations(CANDIDATES):
        plan = plan_observations(perm, {}, purge_on_deauth=True)
        assert plan.latest == [expected]
        assert len(plan.observations) == 4  # different providers/slots: four observation keys


def test_two_providers_same_day_higher_confidence_then_reliability() -> None:
    a = row(provider="GARMIN", confidence=85.0, reliability=0.9, event_id="a")
    b = row(provider="OURA", confidence=86.0, reliability=0.1, event_id="b")
    assert plan_observations([a, b], {}, True).latest == [b]
    c = row(provider="POLAR", confidence=86.0, reliability=0.2, event_id="c")
    assert plan_observations([c, a, b], {}, True).latest == [c]


def test_newer_version_of_the_same_observation_wins_in_any_order() -> None:
    old = row(event_id="e1", ordering_ts=T0, value=100.0)
    new = row(event_id="e2", ordering_ts=T0 + timedelta(hours=1), value=200.0)
    for batch in ([old, new], [new, old]):
        assert plan_observations(batch, {}, True).observations == [new]


def test_redelivery_in_batch_is_one_row() -> None:
    r = row()
    plan = plan_observations([r, r, r], {}, True)
    assert plan.observations == [r] and plan.latest == [r]
    assert plan.ledger == [LedgerRow("ev-1", "processed", "sink", None)]


def test_purged_users_rows_are_ignored_and_replaced_users_rekeyed() -> None:
    states = {"gone": ConnectionState("deauthorized"), "old": ConnectionState("replaced", "new")}
    a = row(subject="terra:gone", event_id="x")
    b = row(subject="terra:old", event_id="y")
    c = row(subject="alice", user_id="old", event_id="z", metric="body_weight")
    plan = plan_observations([a, b, c], states, purge_on_deauth=True)
    assert plan.ignored == 1
    assert {(r.subject, r.user_id) for r in plan.observations} == {("terra:new", "new"), ("alice", "new")}
    assert {(r.event_id, r.outcome) for r in plan.ledger} == {("x", "ignored"), ("y", "processed"), ("z", "processed")}
    kept = plan_observations([a], states, purge_on_deauth=False)
    assert kept.observations == [a]


def test_route_and_rekey() -> None:
    r = row(subject="terra:u1")
    assert route(r, {}, True) is r
    assert rekey(r, "u2").subject == "terra:u2"
    assert rekey(row(subject="bob", user_id="u1"), "u2").subject == "bob"


def test_ledger_keeps_strongest_outcome() -> None:
    rows = [
        LedgerRow("e", "ignored", "sink", "x"),
        LedgerRow("e", "processed", "sink", None),
        LedgerRow("f", "dead_lettered", "sink", "bad"),
        LedgerRow("f", "processed", "sink", None),
    ]
    assert sorted(merge_ledger(rows)) == [
        LedgerRow("e", "processed", "sink", None),
        LedgerRow("f", "dead_lettered", "sink", "bad"),
    ]


def test_sql_rule_uses_the_same_terms_in_the_same_order() -> None:
    assert sql_wins("n", "o") == (
        "(n.measured_at, n.generation, n.confidence, n.reliability, n.ordering_ts, n.event_id) > "
        "(o.measured_at, o.generation, o.confidence, o.reliability, o.ordering_ts, o.event_id)"
    )
    assert sql_order_by("o").startswith("o.measured_at DESC, o.generation DESC, o.confidence DESC")


slots = st.sampled_from([T0, T0 + timedelta(days=1)])
candidates = st.builds(
    lambda m, c, r, o, e: row(
        measured_at=m, confidence=c, reliability=r, ordering_ts=T0 + timedelta(minutes=o), event_id=e, provider=f"P{e}"
    ),
    slots,
    st.sampled_from([50.0, 80.0]),
    st.sampled_from([0.3, 0.6]),
    st.integers(0, 2),
    st.text("abc", min_size=1, max_size=2),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(candidates, min_size=1, max_size=6), st.randoms())
def test_plan_agrees_with_resolve_for_any_order(values: list[ObservationRow], rnd: object) -> None:
    shuffled = list(values)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    (winner,) = plan_observations(shuffled, {}, True).latest
    assert winner.event_id == resolve(values).event_id
