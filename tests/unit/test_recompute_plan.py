"""The pure parts of recompute and scoring generations: numbering, progress, published state, local dirs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from schemas.confidence_model import DEFAULT_MODEL
from schemas.records import Observation, ScoringGeneration
from schemas.vocabulary import VOCABULARY
from streams.confidence import SubjectMetricState, score, winner_record
from streams.generation import datadir_for, prune_other_generations, seen_events_changelog
from streams.recompute import lag, next_generation
from vitalstream.platform.control import app_id_for
from vitalstream.platform.settings import Settings

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def _settings(tmp_path: Path) -> Settings:
    return Settings(group_prefix="vs-", worker_datadir=str(tmp_path / "worker"))


def test_generation_numbers_only_grow() -> None:
    assert next_generation(None, 1_795_000_000.7) == 1_795_000_000
    live = ScoringGeneration(generation=1_795_000_000, app_id="x", switched_at=T0)
    assert next_generation(live, 1_795_000_000.2) == 1_795_000_001  # two recomputes within a second
    assert next_generation(live, 1_700_000_000) == 1_795_000_001  # a clock behind the last switch


def test_generation_zero_keeps_the_original_names(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    assert app_id_for(s, 0) == "vs-worker" and app_id_for(s, 12) == "vs-worker-g12"
    assert datadir_for(s, 0) == tmp_path / "worker" and datadir_for(s, 12) == tmp_path / "worker" / "g12"
    assert seen_events_changelog(s) == "vs-worker-seen-events-changelog"  # the same for every generation


def test_lag_counts_what_is_left_per_partition() -> None:
    assert lag({0: 10, 1: 5}, {0: 4, 1: 5}) == 6
    assert lag({0: 10, 1: 5}, {}) == 15
    assert lag({0: 10}, {0: 12}) == 0


def test_winner_record_is_the_state_winner_stamped_with_the_generation() -> None:
    obs = Observation(
        subject="s1", metric="body_weight", value=71.5, unit="kg", measured_at=T0, provider="WITHINGS",
        event_id="e1", ordering_ts=T0,
    )  # fmt: skip
    out = score(obs, None, VOCABULARY["body_weight"], DEFAULT_MODEL, T0, generation=5)
    assert out.latest is not None and out.latest.generation == 5 and out.scored.generation == 5
    state = SubjectMetricState.from_dict(out.state.to_dict())
    record = winner_record("s1", "body_weight", state, "kg", DEFAULT_MODEL, 5, T0)
    assert record == out.latest
    assert winner_record("s1", "body_weight", SubjectMetricState(), "kg", DEFAULT_MODEL, 5, T0) is None


def test_prune_keeps_only_the_live_generation(tmp_path: Path) -> None:
    s = _settings(tmp_path)
    root = tmp_path / "worker"
    for d in ("v1/tables", "g5/v1/tables", "g9/v1/tables", "notes"):
        (root / d).mkdir(parents=True)
    removed = prune_other_generations(s, 9)
    assert sorted(p.name for p in removed) == ["g5", "v1"]
    assert sorted(p.name for p in root.iterdir()) == ["g9", "notes"]
    assert prune_other_generations(s, 9) == []
    assert prune_other_generations(s, 0) == [root / "g9"]
