"""Confidence scoring (design §6): the formula's terms, the state, dedup, the current winner."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.confidence_model import DEFAULT_MODEL, model_from_dict
from schemas.records import Observation
from schemas.resolution import rank_key
from schemas.vocabulary import VOCABULARY, MetricSpec
from streams.confidence import (
    DEDUP_WINDOW,
    SubjectMetricState,
    level_for,
    plausibility,
    score,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
WEIGHT = VOCABULARY["body_weight"]
STEPS = VOCABULARY["step_count"]
HR = VOCABULARY["heart_rate"]
M = DEFAULT_MODEL

_ids = itertools.count()


def obs(
    value: float = 80.0,
    *,
    metric: str = "body_weight",
    provider: str = "WITHINGS",
    at: datetime = T0,
    until: datetime | None = None,
    event_id: str | None = None,
    provenance: str = "sensed",
    completeness: float = 1.0,
    device: str | None = None,
    ordering_ts: datetime | None = None,
) -> Observation:
    return Observation(
        subject="u1",
        metric=metric,
        value=value,
        unit=VOCABULARY[metric].unit,
        measured_at=at,
        measured_until=until,
        provider=provider,
        event_id=event_id or f"evt-{next(_ids)}",
        ordering_ts=ordering_ts or at,
        provenance=provenance,
        completeness=completeness,
        device=device,
    )


def history(values: list[float], spec: MetricSpec = WEIGHT, **kw: object) -> SubjectMetricState:
    state = SubjectMetricState()
    for i, v in enumerate(values):
        o = obs(v, at=T0 - timedelta(days=len(values) - i), **kw)  # type: ignore[arg-type]
        state = score(o, state, spec, M, T0).state
    return state


# --- the formula -----------------------------------------------------------------------------
def test_first_value_scores_with_neutral_consistency_and_publishes() -> None:
    out = score(obs(80.0), None, WEIGHT, M, T0)
    c = out.scored.components
    assert c == {"P": 1.0, "R": 0.95, "C": 0.8, "F": 1.0, "M": 1.0, "A": 1.0}
    assert out.scored.confidence == round(100 * (0.35 * 0.95 + 0.25 * 0.8 + 0.15 + 0.10 + 0.15), 2)
    assert out.scored.level == "excellent" and out.scored.reliability == 0.95
    assert out.latest is not None and out.latest.value == 80.0 and out.latest.provider == "WITHINGS"
    assert not out.duplicate and out.state.count == 1


def test_plausibility_is_1_inside_typical_and_0_at_hard_bounds() -> None:
    for spec in VOCABULARY.values():
        assert plausibility(spec.typical_low, spec) == 1.0
        assert plausibility(spec.typical_high, spec) == 1.0
        assert plausibility((spec.typical_low + spec.typical_high) / 2, spec) == 1.0
        if spec.hard_low < spec.typical_low:
            assert plausibility(spec.hard_low, spec) == 0.0
            mid = (spec.hard_low + spec.typical_low) / 2
            assert plausibility(mid, spec) == pytest.approx(0.5)
        if spec.hard_high > spec.typical_high:
            assert plausibility(spec.hard_high, spec) == 0.0
            assert 0.0 < plausibility((spec.hard_high + spec.typical_high) / 2, spec) < 1.0
        assert plausibility(spec.hard_high + 1, spec) == 0.0
        assert plausibility(spec.hard_low - 1, spec) == 0.0
        assert plausibility(math.nan, spec) == 0.0
        assert plausibility(math.inf, spec) == 0.0


def test_implausible_value_has_zero_confidence_and_does_not_enter_history() -> None:
    state = history([80, 81, 80])
    out = score(obs(700.0), state, WEIGHT, M, T0)
    assert out.scored.confidence == 0.0 and out.scored.level == "poor"
    assert out.state.count == 3


def test_confidence_falls_with_age() -> None:
    o = obs(80.0)
    scores = [score(o, None, WEIGHT, M, T0 + timedelta(days=d)).scored for d in (0, 7, 14, 60)]
    assert scores[1].components["F"] == pytest.approx(0.5**0.5, abs=1e-4)
    assert scores[2].components["F"] == pytest.approx(0.5, abs=1e-4)  # one half-life (14 d)
    confs = [s.confidence for s in scores]
    assert confs == sorted(confs, reverse=True) and confs[0] > confs[-1]


def test_freshness_counts_from_interval_end_and_never_exceeds_1() -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    o = obs(9000, metric="step_count", provider="GARMIN", at=day, until=day + timedelta(days=1))
    assert score(o, None, STEPS, M, day + timedelta(days=1)).scored.components["F"] == 1.0
    assert score(o, None, STEPS, M, day + timedelta(days=2)).scored.components["F"] == 0.5
    assert score(obs(80.0, at=T0 + timedelta(hours=5)), None, WEIGHT, M, T0).scored.components["F"] == 1.0


def test_half_life_override_from_model() -> None:
    fast = model_from_dict({"half_life_overrides_s": {"body_weight": 3600}})
    out = score(obs(80.0), None, WEIGHT, fast, T0 + timedelta(hours=1))
    assert out.scored.components["F"] == 0.5


def test_confidence_falls_with_disagreement_between_providers() -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    end = day + timedelta(days=1)

    def steps(value: float, provider: str) -> Observation:
        return obs(value, metric="step_count", provider=provider, at=day, until=end)

    base = score(steps(10000, "GARMIN"), None, STEPS, M, end).state
    agree = score(steps(10100, "FITBIT"), SubjectMetricState.from_dict(base.to_dict()), STEPS, M, end).scored
    far = score(steps(3000, "FITBIT"), SubjectMetricState.from_dict(base.to_dict()), STEPS, M, end).scored
    assert agree.components["A"] > 0.99
    assert far.components["A"] < 0.1
    assert far.confidence < agree.confidence
    # another slot (the previous day) does not count as agreement or disagreement
    other_day = obs(3000, metric="step_count", provider="FITBIT", at=day - timedelta(days=1), until=day)
    assert score(other_day, SubjectMetricState.from_dict(base.to_dict()), STEPS, M, end).scored.components["A"] == 1.0


def test_samples_agree_within_the_slot_window_only() -> None:
    state = score(obs(60, metric="heart_rate", provider="POLAR"), None, HR, M, T0).state
    near = obs(120, metric="heart_rate", provider="GARMIN", at=T0 + timedelta(minutes=2))
    far = obs(120, metric="heart_rate", provider="GARMIN", at=T0 + timedelta(minutes=20))
    assert score(near, SubjectMetricState.from_dict(state.to_dict()), HR, M, T0).scored.components["A"] < 0.5
    assert score(far, SubjectMetricState.from_dict(state.to_dict()), HR, M, T0).scored.components["A"] == 1.0


def test_same_provider_is_not_its_own_agreement() -> None:
    state = score(obs(80.0), None, WEIGHT, M, T0).state
    assert score(obs(95.0), state, WEIGHT, M, T0).scored.components["A"] == 1.0


def test_confidence_rises_with_a_more_reliable_source() -> None:
    scale = score(obs(80.0, provider="WITHINGS"), None, WEIGHT, M, T0).scored
    band = score(obs(80.0, provider="FITBIT"), None, WEIGHT, M, T0).scored
    typed = score(obs(80.0, provider="WITHINGS", provenance="self_reported"), None, WEIGHT, M, T0).scored
    assert scale.confidence > band.confidence
    assert scale.confidence > typed.confidence
    strap = score(obs(60, metric="heart_rate", provider="GARMIN", device="HRM-Pro"), None, HR, M, T0).scored
    wrist = score(obs(60, metric="heart_rate", provider="GARMIN", device="Fenix 7"), None, HR, M, T0).scored
    assert strap.confidence > wrist.confidence


def test_consistency_is_neutral_until_three_values() -> None:
    state = SubjectMetricState()
    for i, v in enumerate([80.0, 95.0, 60.0]):
        out = score(obs(v, at=T0 + timedelta(days=i)), state, WEIGHT, M, T0 + timedelta(days=i))
        assert out.scored.components["C"] == M.neutral_consistency
        state = out.state
    assert state.count == 3
    assert score(obs(78.0, at=T0 + timedelta(days=5)), state, WEIGHT, M, T0).scored.components["C"] != 0.8


def test_consistency_penalises_outliers_against_own_history() -> None:
    state = history([80.0, 80.4, 79.8, 80.2, 80.1, 79.9])
    usual = score(obs(80.3), SubjectMetricState.from_dict(state.to_dict()), WEIGHT, M, T0).scored
    odd = score(obs(92.0), SubjectMetricState.from_dict(state.to_dict()), WEIGHT, M, T0).scored
    assert usual.components["C"] > 0.9
    assert odd.components["C"] < 0.05
    assert odd.confidence < usual.confidence


def test_one_outlier_cannot_drag_the_baseline() -> None:
    state = history([80.0, 80.5, 79.5, 80.0, 80.2])
    before = state.location
    score(obs(400.0), state, WEIGHT, M, T0)  # plausible (below hard 650) but wild
    assert abs(state.location - before) < 2.0
    assert state.spread < 3.0


def test_history_follows_a_real_trend() -> None:
    values = [90.0 - 0.2 * i for i in range(100)]  # steady weight loss
    state = history(values)
    # an EW mean lags a linear trend by slope·(1-α)/α = 0.2·19 ≈ 3.8 kg: it follows, it is not stuck at 90
    assert state.location == pytest.approx(values[-1] + 3.8, abs=0.5)
    # and the next value on the trend is still judged consistent
    assert score(obs(values[-1] - 0.2), state, WEIGHT, M, T0).scored.components["C"] > 0.5


def test_level_for_uses_model_thresholds() -> None:
    assert [level_for(x, M) for x in (85, 70, 50, 49.99)] == ["excellent", "good", "fair", "poor"]


# --- dedup and state --------------------------------------------------------------------------
def test_redelivered_observation_never_changes_state_twice() -> None:
    state = history([80.0, 81.0, 79.0])
    o = obs(83.0, event_id="evt-dup")
    first = score(o, state, WEIGHT, M, T0)
    assert not first.duplicate and first.latest is not None
    snapshot = first.state.to_dict()
    again = score(o, first.state, WEIGHT, M, T0)
    assert again.duplicate and again.latest is None
    assert again.state.to_dict() == snapshot
    assert again.scored.observation == o  # still scored, for idempotent downstream writes


def test_same_event_different_samples_are_not_duplicates() -> None:
    state = SubjectMetricState()
    for i in range(5):
        out = score(
            obs(60 + i, metric="heart_rate", provider="POLAR", event_id="evt-batch", at=T0 + timedelta(seconds=i)),
            state,
            HR,
            M,
            T0,
        )
        assert not out.duplicate
    assert state.count == 5


def test_old_redelivery_of_the_current_winner_is_a_duplicate() -> None:
    o = obs(80.0, event_id="evt-w")
    state = score(o, None, WEIGHT, M, T0).state
    for i in range(DEDUP_WINDOW + 5):  # push evt-w out of the dedup window with older values
        score(obs(80.0, at=T0 - timedelta(days=1, minutes=i)), state, WEIGHT, M, T0)
    assert state.winner is not None and state.winner.event_id == "evt-w"
    assert score(o, state, WEIGHT, M, T0 + timedelta(days=30)).duplicate


def test_dedup_window_is_bounded() -> None:
    state = SubjectMetricState()
    for i in range(DEDUP_WINDOW * 3):
        score(obs(60.0, metric="heart_rate", provider="POLAR", at=T0 + timedelta(seconds=i)), state, HR, M, T0)
    assert len(state.seen) == DEDUP_WINDOW
    assert len(json.dumps(state.to_dict())) < 2000


def test_state_round_trips_through_json() -> None:
    state = SubjectMetricState()
    score(obs(60, metric="heart_rate", provider="POLAR"), state, HR, M, T0)
    score(obs(62, metric="heart_rate", provider="GARMIN", at=T0 + timedelta(seconds=30)), state, HR, M, T0)
    d = state.to_dict()
    back = SubjectMetricState.from_dict(json.loads(json.dumps(d)))
    assert back == state
    assert back.to_dict() == d
    assert SubjectMetricState.from_dict(SubjectMetricState().to_dict()) == SubjectMetricState()
    with pytest.raises(ValueError, match="version"):
        SubjectMetricState.from_dict({**d, "v": 99})


@given(
    values=st.lists(st.floats(2, 650, allow_nan=False), min_size=0, max_size=20),
    providers=st.lists(st.sampled_from(["WITHINGS", "FITBIT", "GARMIN"]), min_size=20, max_size=20),
)
@settings(max_examples=60, deadline=None)
def test_state_round_trip_property(values: list[float], providers: list[str]) -> None:
    state = SubjectMetricState()
    for i, v in enumerate(values):
        score(obs(v, provider=providers[i], at=T0 + timedelta(hours=i)), state, WEIGHT, M, T0)
    d = state.to_dict()
    back = SubjectMetricState.from_dict(json.loads(json.dumps(d)))
    assert back.to_dict() == d
    # the restored state scores the next value exactly like the original
    nxt = obs(81.0, at=T0 + timedelta(days=3))
    assert score(nxt, back, WEIGHT, M, T0).scored == score(nxt, state, WEIGHT, M, T0).scored


# --- the current winner -------------------------------------------------------------------------
def test_older_value_never_overwrites_newer() -> None:
    state = score(obs(80.0, at=T0), None, WEIGHT, M, T0).state
    late_old = score(obs(70.0, at=T0 - timedelta(days=1), provider="WITHINGS"), state, WEIGHT, M, T0)
    assert late_old.latest is None
    assert state.winner is not None and state.winner.value == 80.0
    newer = score(obs(81.0, at=T0 + timedelta(hours=1), provider="FITBIT"), state, WEIGHT, M, T0)
    assert newer.latest is not None and newer.latest.value == 81.0


def test_same_slot_higher_confidence_wins() -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    end = day + timedelta(days=1)
    low = obs(9000, metric="step_count", provider="OURA", at=day, until=end)
    high = obs(9100, metric="step_count", provider="GARMIN", at=day, until=end)
    state = score(low, None, STEPS, M, end).state
    out = score(high, state, STEPS, M, end)
    assert out.latest is not None and out.latest.provider == "GARMIN"
    assert out.latest.measured_until == end and out.latest.unit == "steps"
    state2 = score(high, None, STEPS, M, end).state
    assert score(low, state2, STEPS, M, end).latest is None


@given(st.permutations(list(range(6))))
@settings(max_examples=40, deadline=None)
def test_final_winner_is_the_greatest_scored_observation_in_any_order(order: list[int]) -> None:
    day = datetime(2025, 3, 1, tzinfo=UTC)
    items = [
        obs(
            9000 + 10 * i,
            metric="step_count",
            provider=p,
            at=day + timedelta(days=d),
            until=day + timedelta(days=d + 1),
            event_id=f"e{i}",
        )
        for i, (p, d) in enumerate([("OURA", 0), ("GARMIN", 0), ("FITBIT", 1), ("GARMIN", 1), ("OURA", 1), ("X", 0)])
    ]
    state = SubjectMetricState()
    scored = []
    for i in order:
        out = score(items[i], state, STEPS, M, day + timedelta(days=2))
        scored.append(out.scored)
    assert state.winner is not None
    best = max(
        scored,
        key=lambda s: (
            s.observation.measured_at,
            s.confidence,
            s.reliability,
            s.observation.ordering_ts,
            s.observation.event_id,
        ),
    )
    assert state.winner.event_id == best.observation.event_id
    assert rank_key(state.winner)[2:4] == (best.confidence, best.reliability)


# --- totality -------------------------------------------------------------------------------------
aware = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC))


@given(
    spec=st.sampled_from(sorted(VOCABULARY.values(), key=lambda s: s.name)),
    value=st.floats(allow_nan=True, allow_infinity=True),
    at=aware,
    until=st.none() | aware,
    now=aware,
    completeness=st.floats(allow_nan=True, allow_infinity=True),
    provider=st.sampled_from(["WITHINGS", "GARMIN", "OURA", "NOPE", "polar"]),
    provenance=st.sampled_from(["sensed", "self_reported", "unknown", "???"]),
    upload_type=st.sampled_from([None, "manual", "1", "6", "odd"]),
    device=st.none() | st.text(max_size=10),
    prior=st.lists(st.floats(-1e6, 1e6), max_size=6),
)
@settings(max_examples=300, deadline=None)
def test_confidence_always_within_0_and_100(
    spec: MetricSpec,
    value: float,
    at: datetime,
    until: datetime | None,
    now: datetime,
    completeness: float,
    provider: str,
    provenance: str,
    upload_type: str | None,
    device: str | None,
    prior: list[float],
) -> None:
    state = SubjectMetricState()
    for i, v in enumerate(prior):
        p = obs(0.0, metric=spec.name, provider=["GARMIN", "OURA"][i % 2], at=at)
        score(replace(p, value=v), state, spec, M, now)
    o = replace(
        obs(0.0, metric=spec.name, at=at, until=until),
        value=value,
        provider=provider,
        provenance=provenance,
        upload_type=upload_type,
        device=device,
        completeness=completeness,
    )
    out = score(o, state, spec, M, now)
    conf = out.scored.confidence
    assert 0.0 <= conf <= 100.0 and not math.isnan(conf)
    assert round(conf, 2) == conf
    assert all(0.0 <= c <= 1.0 for c in out.scored.components.values())
    assert out.scored.level in M.levels
    json.dumps(out.state.to_dict(), allow_nan=False)
