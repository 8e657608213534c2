"""The confidence model as data: defaults, priors, JSON overrides and their validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas.confidence_model import DEFAULT_MODEL, ConfidenceModel, load_model, model_from_dict, model_to_dict
from schemas.vocabulary import VOCABULARY


def test_defaults_match_design() -> None:
    m = DEFAULT_MODEL
    w = m.weights
    assert (w.reliability, w.consistency, w.freshness, w.completeness, w.agreement) == (0.35, 0.25, 0.15, 0.10, 0.15)
    assert abs(w.total() - 1.0) < 1e-12
    assert m.high_confidence_threshold == 80.0
    assert m.is_high_confidence(80.0) and not m.is_high_confidence(79.99)
    assert m.neutral_consistency == 0.8 and m.min_history == 3
    assert [m.level_for(x) for x in (100, 85, 84.99, 70, 69.99, 50, 49.99, 0)] == [
        "excellent",
        "excellent",
        "good",
        "good",
        "fair",
        "fair",
        "poor",
        "poor",
    ]


@pytest.mark.parametrize(
    ("better", "worse", "metric"),
    [
        ("WITHINGS", "FITBIT", "body_weight"),  # smart scale above wrist band
        ("WITHINGS", "WHOOP", "body_weight"),
        ("OMRON", "GARMIN", "blood_pressure_systolic"),
        ("DEXCOM", "APPLE", "blood_glucose"),
        ("FREESTYLELIBRE", "GARMIN", "blood_glucose"),
        ("POLAR", "FITBIT", "heart_rate"),  # chest strap above optical
        ("OURA", "GARMIN", "heart_rate_variability_rmssd"),
        ("WHOOP", "FITBIT", "sleep_duration"),
        ("GARMIN", "OURA", "workout_distance"),
        ("POLAR", "WHOOP", "workout_duration"),
    ],
)
def test_priors_rank_sources_sensibly(better: str, worse: str, metric: str) -> None:
    assert DEFAULT_MODEL.reliability(better, metric, provenance="sensed") > DEFAULT_MODEL.reliability(
        worse, metric, provenance="sensed"
    )


def test_chest_strap_and_ecg_devices_beat_optical() -> None:
    m = DEFAULT_MODEL
    optical = m.reliability("GARMIN", "heart_rate", "Forerunner 965", "sensed")
    assert m.reliability("GARMIN", "heart_rate", "HRM-Pro Plus", "sensed") > optical
    assert m.reliability("APPLE", "heart_rate", "ECG app", "sensed") > m.reliability(
        "APPLE", "heart_rate", None, "sensed"
    )


def test_manual_and_self_reported_rank_below_automatic() -> None:
    m = DEFAULT_MODEL
    auto = m.reliability("WITHINGS", "body_weight", None, "sensed", "automatic")
    assert m.reliability("WITHINGS", "body_weight", None, "self_reported") < auto
    assert m.reliability("WITHINGS", "body_weight", None, "sensed", "manual") < auto
    assert m.reliability("WITHINGS", "body_weight", None, "sensed", "2") < auto
    # one penalty, not two, for a manual self-reported entry
    assert m.reliability("WITHINGS", "body_weight", None, "self_reported", "manual") == m.reliability(
        "WITHINGS", "body_weight", None, "self_reported"
    )


def test_provider_default_and_global_default() -> None:
    m = DEFAULT_MODEL
    assert m.reliability("DEXCOM", "step_count", provenance="sensed") == m.reliability_priors["DEXCOM"]["*"]
    assert m.reliability("NEWCO", "step_count", provenance="sensed") == m.default_reliability
    assert m.reliability("withings", "body_weight", provenance="sensed") == 0.95  # provider case-insensitive


def test_every_vocabulary_metric_has_a_reliability_in_range() -> None:
    for metric in VOCABULARY:
        for provider in (*DEFAULT_MODEL.reliability_priors, "UNKNOWN"):
            for provenance in ("sensed", "self_reported", "unknown", "weird"):
                assert 0.0 <= DEFAULT_MODEL.reliability(provider, metric, None, provenance) <= 1.0


def test_no_path_means_defaults() -> None:
    assert load_model(None) is DEFAULT_MODEL
    assert load_model("") is DEFAULT_MODEL


def test_json_overrides_merge_into_defaults(tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(
        json.dumps(
            {
                "weights": {"reliability": 0.30, "agreement": 0.20},
                "levels": {"excellent": 90},
                "high_confidence_threshold": 75,
                "neutral_consistency": 0.7,
                "reliability_priors": {"garmin": {"body_weight": 0.9}, "NEWCO": {"*": 0.4}},
                "device_priors": {"heart_rate": {"Polar Verity": 0.91}},
                "provenance_factors": {"self_reported": 0.5},
                "half_life_overrides_s": {"body_weight": 3600},
            }
        )
    )
    m = load_model(str(path))
    assert m.weights.reliability == 0.30 and m.weights.agreement == 0.20 and m.weights.consistency == 0.25
    assert m.level_for(89) == "good" and m.level_for(90) == "excellent"
    assert m.high_confidence_threshold == 75.0 and m.neutral_consistency == 0.7
    assert m.reliability("GARMIN", "body_weight", provenance="sensed") == 0.9
    assert m.reliability("GARMIN", "step_count", provenance="sensed") == DEFAULT_MODEL.reliability(
        "GARMIN", "step_count", provenance="sensed"
    )  # other priors kept
    assert m.reliability("NEWCO", "x", provenance="sensed") == 0.4
    assert m.reliability("POLAR", "heart_rate", "polar verity sense", "sensed") == 0.91
    assert m.provenance_factors["self_reported"] == 0.5 and m.provenance_factors["sensed"] == 1.0
    assert m.half_life_s("body_weight", 99.0) == 3600.0 and m.half_life_s("heart_rate", 99.0) == 99.0
    # the defaults are untouched
    assert DEFAULT_MODEL.weights.reliability == 0.35
    assert DEFAULT_MODEL.reliability("GARMIN", "body_weight", provenance="sensed") == 0.65


def test_round_trip_through_dict() -> None:
    dumped = model_to_dict(DEFAULT_MODEL)
    json.dumps(dumped)
    again = model_from_dict(dumped)
    assert model_to_dict(again) == dumped
    assert isinstance(again, ConfidenceModel)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"wieghts": {}}, "'wieghts'"),
        ({"weights": {"reliability": 0.5}}, "'weights': must sum to 1"),
        ({"weights": {"reliability": "high"}}, "'weights.reliability'"),
        ({"weights": {"speed": 0.1}}, "'weights.speed'"),
        ({"levels": {"good": 170}}, "'levels.good'"),
        ({"neutral_consistency": 1.5}, "'neutral_consistency'"),
        ({"neutral_consistency": True}, "'neutral_consistency'"),
        ({"min_history": 0}, "'min_history'"),
        ({"agreement_tolerance": 0}, "'agreement_tolerance'"),
        ({"reliability_priors": {"GARMIN": {"body_weight": 1.2}}}, "'reliability_priors.GARMIN.body_weight'"),
        ({"reliability_priors": {"GARMIN": 0.5}}, "'reliability_priors.GARMIN'"),
        ({"half_life_overrides_s": {"heart_rate": -1}}, "'half_life_overrides_s.heart_rate'"),
        ({"provenance_factors": {"sensed": None}}, "'provenance_factors.sensed'"),
    ],
)
def test_invalid_field_gives_clear_error(tmp_path: Path, content: dict[str, object], field: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ValueError) as err:
        load_model(str(path))
    assert field in str(err.value)
    assert str(path) in str(err.value)


def test_unreadable_or_malformed_file_gives_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        load_model(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="invalid JSON at line 1"):
        load_model(str(bad))
    bad.write_text("[1, 2]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        load_model(str(bad))
