"""Golden tests for the meaning of mapped values (issue 18), from hand-written expectations.

Each test pins one rule the normalizer once got wrong: a value must land in the metric
that means what it measured, over the span it covers, never dated after it was sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.records import Observation, RawWebhook
from streams.normalize import normalize

SENT = datetime(2026, 7, 1, 10, 8, tzinfo=UTC)
USER = {"user_id": "u-1", "provider": "GARMIN", "reference_id": "ref-1"}
DAY = {"start_time": "2026-07-01T00:00:00+00:00", "end_time": "2026-07-02T00:00:00+00:00"}
WORKOUT = {"start_time": "2026-07-01T07:00:00+00:00", "end_time": "2026-07-01T08:00:00+00:00", "upload_type": 1}
NIGHT = {"start_time": "2026-06-30T22:00:00+00:00", "end_time": "2026-07-01T06:00:00+00:00", "upload_type": 2}


def run(type_: str, *items: dict[str, Any], sent: datetime = SENT) -> list[Observation]:
    raw = RawWebhook(event_id="e-1", source="terra", received_at=sent, idempotency_key="k", body=b"{}")
    payload = {"type": type_, "version": "2022-03-16", "user": USER, "data": list(items)}
    return normalize(raw, payload).observations


def by_metric(observations: list[Observation]) -> dict[str, list[Observation]]:
    out: dict[str, list[Observation]] = {}
    for obs in observations:
        out.setdefault(obs.metric, []).append(obs)
    return out


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- SmO2 is not SpO2 ----------------------------------------------------------------------
def test_muscle_oxygen_never_becomes_blood_oxygen() -> None:
    smo2 = {"timestamp": "2026-07-01T07:30:00+00:00", "percentage": 61.0, "type": 1}
    item = {"metadata": WORKOUT, "oxygen_data": {"avg_saturation_percentage": 61.0, "saturation_samples": [smo2]}}
    metrics = by_metric(run("activity", item))
    assert "oxygen_saturation" not in metrics
    assert "workout_avg_oxygen_saturation" not in metrics
    (sample,) = metrics["muscle_oxygen_saturation"]
    assert (sample.value, sample.measured_at, sample.measured_until) == (61.0, t("2026-07-01T07:30:00"), None)
    (average,) = metrics["workout_avg_muscle_oxygen_saturation"]
    assert (average.value, average.measured_at, average.measured_until) == (
        61.0,
        t("2026-07-01T07:00:00"),
        t("2026-07-01T08:00:00"),
    )


def test_workout_average_without_typed_samples_is_not_guessed() -> None:
    item = {"metadata": WORKOUT, "oxygen_data": {"avg_saturation_percentage": 61.0}}
    assert [o.metric for o in run("activity", item)] == ["workout_duration"]


# --- a day in progress ---------------------------------------------------------------------
def test_day_in_progress_is_partial_and_never_in_the_future() -> None:
    item = {"metadata": DAY, "distance_data": {"steps": 4000}}
    (steps,) = run("daily", item)
    assert steps.metric == "step_count"
    # 00:00 -> 10:08 of a 24 h day: 608 / 1440 minutes.
    assert steps.completeness == pytest.approx(608 / 1440)
    assert steps.measured_at == t("2026-07-01T00:00:00")
    assert steps.measured_until == SENT


def test_finished_day_is_complete_and_keeps_its_end() -> None:
    item = {"metadata": DAY, "distance_data": {"steps": 9000}}
    (steps,) = run("daily", item, sent=t("2026-07-02T03:00:00"))
    assert (steps.completeness, steps.measured_until) == (1.0, t("2026-07-02T00:00:00"))


def test_session_ending_after_it_was_sent_is_clipped_to_now() -> None:
    # A clock ahead by two hours: the workout "ends" at 12:00 but arrived at 10:08.
    meta = {**WORKOUT, "end_time": "2026-07-01T12:00:00+00:00"}
    (duration,) = run("activity", {"metadata": meta})
    assert duration.measured_until is not None
    assert duration.measured_until <= SENT + timedelta(minutes=5)


# --- averages are their own metrics -----------------------------------------------------------
def test_day_averages_are_interval_metrics_not_samples() -> None:
    item = {
        "metadata": DAY,
        "measurements_data": {"day_avg_weight_kg": 80.0},
        "blood_pressure_data": {"day_avg_systolic_bp": 121.0, "day_avg_diastolic_bp": 79.0},
        "glucose_data": {"day_avg_blood_glucose_mg_per_dL": 99.0},
        "ketone_data": {"day_avg_ketone_mg_per_dL": 2.0},
        "temperature_data": {"day_avg_body_temperature_celsius": 36.6},
    }
    metrics = by_metric(run("body", item, sent=t("2026-07-02T01:00:00")))
    assert sorted(metrics) == [
        "daily_avg_blood_glucose",
        "daily_avg_blood_ketones",
        "daily_avg_blood_pressure_diastolic",
        "daily_avg_blood_pressure_systolic",
        "daily_avg_body_temperature",
        "daily_avg_body_weight",
    ]
    weight = metrics["daily_avg_body_weight"][0]
    assert (weight.value, weight.measured_at, weight.measured_until) == (
        80.0,
        t("2026-07-01T00:00:00"),
        t("2026-07-02T00:00:00"),
    )


def test_daily_stress_average_is_not_a_stress_sample() -> None:
    item = {"metadata": DAY, "stress_data": {"avg_stress_level": 30.0, "max_stress_level": 80.0}}
    metrics = by_metric(run("daily", item))
    assert "stress_level" not in metrics
    assert [o.value for o in metrics["daily_avg_stress_level"]] == [30.0]
    assert [o.value for o in metrics["daily_max_stress_level"]] == [80.0]


def test_period_averages_of_spo2_hrv_and_respiration_are_their_own() -> None:
    item = {
        "metadata": NIGHT,
        "heart_rate_data": {"summary": {"avg_hrv_rmssd": 55.0}},
        "respiration_data": {
            "breaths_data": {"avg_breaths_per_min": 14.0},
            "oxygen_saturation_data": {"avg_saturation_percentage": 96.0},
        },
    }
    metrics = by_metric(run("sleep", item))
    assert {"heart_rate_variability_rmssd", "respiratory_rate", "oxygen_saturation"}.isdisjoint(metrics)
    assert metrics["sleep_avg_heart_rate_variability_rmssd"][0].value == 55.0
    assert metrics["sleep_avg_respiratory_rate"][0].value == 14.0
    assert metrics["sleep_avg_oxygen_saturation"][0].value == 96.0


# --- exercise is not rest --------------------------------------------------------------------
def test_workout_samples_go_to_workout_metrics() -> None:
    at = "2026-07-01T07:30:00+00:00"
    item = {
        "metadata": WORKOUT,
        "heart_rate_data": {
            "detailed": {
                "hr_samples": [{"timestamp": at, "bpm": 160.0}],
                "hrv_samples_rmssd": [{"timestamp": at, "hrv_rmssd": 9.0}],
            }
        },
        "oxygen_data": {
            "saturation_samples": [{"timestamp": at, "percentage": 95.0, "type": 0}],
            "vo2_samples": [{"timestamp": at, "vo2max_ml_per_min_per_kg": 41.0}],
        },
    }
    metrics = by_metric(run("activity", item))
    assert {"heart_rate", "heart_rate_variability_rmssd", "oxygen_saturation", "vo2_max"}.isdisjoint(metrics)
    assert [(o.value, o.measured_at) for o in metrics["workout_heart_rate"]] == [(160.0, t(at))]
    assert [o.value for o in metrics["workout_heart_rate_variability_rmssd"]] == [9.0]
    assert [o.value for o in metrics["workout_oxygen_saturation"]] == [95.0]
    assert [o.value for o in metrics["workout_vo2"]] == [41.0]


# --- one source per metric -------------------------------------------------------------------
def test_sleep_score_comes_from_the_sleep_session_only() -> None:
    daily = {"metadata": DAY, "scores": {"sleep": 70.0, "activity": 60.0}}
    assert "sleep_score" not in by_metric(run("daily", daily))
    (score,) = run("sleep", {"metadata": NIGHT, "scores": {"sleep": 82.0}})
    assert (score.metric, score.value, score.measured_at) == ("sleep_score", 82.0, t("2026-06-30T22:00:00"))


def test_water_intake_comes_from_nutrition_only() -> None:
    body = {"metadata": DAY, "hydration_data": {"day_total_water_consumption_ml": 1500.0}}
    assert "water_intake" not in by_metric(run("body", body))
    (water,) = run("nutrition", {"metadata": DAY, "summary": {"water_ml": 1200.0}})
    assert (water.metric, water.value) == ("water_intake", 1200.0)
