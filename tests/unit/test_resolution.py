"""The design §6 conflict-resolution rule: a total order independent of arrival order."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.records import LatestMetric
from schemas.resolution import rank_key, resolve, wins

T0 = datetime(2025, 3, 1, tzinfo=UTC)


@dataclass(frozen=True)
class C:
    measured_at: int
    confidence: float
    reliability: float
    ordering_ts: int
    event_id: str
    generation: int = 0


def test_newer_measured_at_wins_whatever_its_confidence() -> None:
    old = C(1, 99.0, 1.0, 9, "z")
    new = C(2, 1.0, 0.1, 0, "a")
    assert wins(new, old)
    assert not wins(old, new)  # an older value never overwrites a newer one


def test_same_slot_higher_confidence_then_reliability_then_ordering_ts_then_event_id() -> None:
    base = C(5, 80.0, 0.8, 10, "m")
    assert wins(C(5, 80.01, 0.1, 0, "a"), base)
    assert not wins(C(5, 79.99, 1.0, 99, "z"), base)
    assert wins(C(5, 80.0, 0.9, 0, "a"), base)
    assert not wins(C(5, 80.0, 0.7, 99, "z"), base)
    assert wins(C(5, 80.0, 0.8, 11, "a"), base)
    assert not wins(C(5, 80.0, 0.8, 9, "z"), base)
    assert wins(C(5, 80.0, 0.8, 10, "n"), base)
    assert not wins(C(5, 80.0, 0.8, 10, "l"), base)


def test_newer_generation_wins_the_same_slot_but_never_an_older_slot() -> None:
    live = C(5, 95.0, 0.9, 10, "z", generation=0)
    rescored = C(5, 40.0, 0.1, 0, "a", generation=7)  # a recompute's lower score of the same slot
    assert wins(rescored, live) and not wins(live, rescored)
    older_slot = C(4, 99.0, 1.0, 99, "z", generation=7)
    assert not wins(older_slot, live)  # a re-scored older value never overwrites a newer one
    assert wins(C(6, 1.0, 0.1, 0, "a", generation=0), rescored)  # nor does a generation beat a newer value
    assert rank_key(rescored)[:2] == (5, 7)


def test_identical_candidate_does_not_replace_incumbent() -> None:
    a = C(5, 80.0, 0.8, 10, "m")
    assert not wins(a, C(5, 80.0, 0.8, 10, "m"))


def test_works_on_latest_metric_records_with_datetimes() -> None:
    def lm(at: datetime, conf: float, provider: str, eid: str) -> LatestMetric:
        return LatestMetric(
            subject="s",
            metric="step_count",
            value=1.0,
            unit="steps",
            measured_at=at,
            provider=provider,
            confidence=conf,
            level="good",
            event_id=eid,
            ordering_ts=T0,
            updated_at=T0,
        )

    garmin = lm(T0, 88.0, "GARMIN", "e1")
    oura = lm(T0, 71.0, "OURA", "e2")
    yesterday = lm(T0 - timedelta(days=1), 99.0, "FITBIT", "e3")
    assert resolve([yesterday, oura, garmin]) is garmin
    assert resolve([garmin, yesterday, oura]) is garmin


def test_resolve_needs_a_candidate() -> None:
    with pytest.raises(ValueError, match="at least one"):
        resolve([])


candidates = st.builds(
    C,
    measured_at=st.integers(0, 3),
    confidence=st.sampled_from([0.0, 50.0, 50.01, 99.5]),
    reliability=st.sampled_from([0.1, 0.5, 0.95]),
    ordering_ts=st.integers(0, 3),
    event_id=st.sampled_from(["a", "b", "c", "e-10", "e-9"]),
    generation=st.sampled_from([0, 0, 1_795_000_000]),
)


@given(st.lists(candidates, min_size=1, max_size=6))
def test_every_permutation_gives_the_same_winner(items: list[C]) -> None:
    expected = rank_key(max(items, key=rank_key))
    for perm in itertools.permutations(items):
        assert rank_key(resolve(perm)) == expected


@given(candidates, candidates, candidates)
def test_wins_is_a_strict_total_order(a: C, b: C, c: C) -> None:
    # antisymmetric and total: exactly one of a>b, b>a, a≡b
    assert [wins(a, b), wins(b, a), rank_key(a) == rank_key(b)].count(True) == 1
    # transitive
    if wins(a, b) and wins(b, c):
        assert wins(a, c)
    # agrees with the documented row-value comparison the SQL sink implements
    assert wins(a, b) == (rank_key(a) > rank_key(b))


@given(st.lists(candidates, min_size=1, max_size=40), st.randoms(use_true_random=False))
def test_incremental_fold_in_any_arrival_order_matches_resolve(items: list[C], rnd: object) -> None:
    shuffled = list(items)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    current = None
    for item in shuffled:
        if current is None or wins(item, current):
            current = item
    assert current is not None
    assert rank_key(current) == rank_key(resolve(items))
