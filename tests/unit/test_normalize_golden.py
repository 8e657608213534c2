"""Golden tests: Terra's example payloads and full per-type payloads -> exact observations.

Every expected value here was worked out by hand from the JSON files in
``tests/data/terra`` (offsets converted to UTC by hand), not by running the normalizer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.records import Observation, RawWebhook
from streams.normalize import NormalizeResult, normalize

DATA = Path(__file__).resolve().parent.parent / "data" / "terra"
RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
ORDERING = datetime(2026, 7, 5, 11, 59, 59, tzinfo=UTC)


def raw(event_id: str = "evt-1") -> RawWebhook:
    return RawWebhook(
        event_id=event_id,
        source="terra",
        received_at=RECEIVED,
        idempotency_key="trace-1",
        body=b"{}",
        ordering_ts=ORDERING,
    )


def load(name: str) -> Any:
    return orjson.loads((DATA / name).read_bytes())


def run(name: str) -> NormalizeResult:
    return normalize(raw(), load(name))


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


Row = tuple[str, float, str, datetime, datetime | None, float]


def rows(observations: list[Observation]) -> list[Row]:
    return [(o.metric, o.value, o.unit, o.measured_at, o.measured_until, o.completeness) for o in observations]


def assert_rows(actual: list[Observation], expected: list[Row]) -> None:
    got = sorted(rows(actual), key=lambda r: (r[0], r[3]))
    want = sorted(expected, key=lambda r: (r[0], r[3]))
    assert [(r[0], r[2], r[3], r[4]) for r in got] == [(r[0], r[2], r[3], r[4]) for r in want]
    for g, w in zip(got, want, strict=True):
        assert g[1] == pytest.approx(w[1], rel=1e-12), g[0]
        assert g[5] == pytest.approx(w[5], rel=1e-12), g[0]


# --- Terra's official examples ---------------------------------------------------------------
EX_USER = "40f7b0e1-89e2-43ac-a5b8-1e29c8d47cad"


def test_example_body() -> None:
    result = normalize(raw(), load("examples/body__body.json"))
    day_start, day_end = t("2026-06-30T23:00:00"), t("2026-07-01T23:00:00")
    weighed = t("2026-07-01T06:55:02")  # 07:55:02+01:00
    assert_rows(
        result.observations,
        [
            ("body_weight", 72.4, "kg", weighed, None, 1.0),
            ("body_fat_percentage", 17.9, "%", weighed, None, 1.0),
            ("body_mass_index", 22.6, "kg/m2", weighed, None, 1.0),
            ("resting_heart_rate", 52.0, "beats/min", day_start, day_end, 1.0),
        ],
    )
    for obs in result.observations:
        assert obs.subject == "your-user-123"
        assert obs.provider == "GARMIN"
        assert obs.user_id == EX_USER
        assert obs.event_id == "evt-1"
        assert obs.ordering_ts == ORDERING
        assert obs.source == "terra"
        assert obs.provenance == "unknown"  # body metadata has no upload type
        assert obs.upload_type is None
        assert obs.device is None
    assert result.rejections == [] and result.ignored is None and result.user_events == []


def test_example_daily() -> None:
    result = run("examples/daily__daily.json")
    start, end = t("2026-06-30T23:00:00"), t("2026-07-01T23:00:00")
    assert_rows(
        result.observations,
        [
            ("step_count", 11894.0, "steps", start, end, 1.0),
            ("distance", 9412.7, "m", start, end, 1.0),
            ("energy_burned", 2450.8, "kcal", start, end, 1.0),
            ("active_duration", 5340.0, "s", start, end, 1.0),
        ],
    )
    assert {(o.upload_type, o.provenance) for o in result.observations} == {("UNKNOWN", "unknown")}


def test_example_sleep() -> None:
    result = run("examples/sleep__sleep.json")
    start, end = t("2026-06-30T22:12:00"), t("2026-07-01T06:02:00")
    assert_rows(
        result.observations,
        [
            ("sleep_duration", 25200.0, "s", start, end, 1.0),
            ("sleep_deep_duration", 5400.0, "s", start, end, 1.0),
            ("sleep_rem_duration", 5100.0, "s", start, end, 1.0),
            ("sleep_awake_duration", 1500.0, "s", start, end, 1.0),
            ("sleep_efficiency", 91.5, "%", start, end, 1.0),
        ],
    )
    # SleepUploadType numbers differ from UploadType: 1 is Manual for sleep.
    assert {(o.upload_type, o.provenance) for o in result.observations} == {("MANUAL", "self_reported")}


def test_example_activity() -> None:
    result = run("examples/activity__activity.json")
    start, end = t("2026-07-01T06:04:11"), t("2026-07-01T06:52:48")
    assert_rows(
        result.observations,
        [
            ("workout_duration", 2917.0, "s", start, end, 1.0),  # 48 min 37 s
            ("workout_distance", 8250.4, "m", start, end, 1.0),
            ("workout_steps", 7902.0, "steps", start, end, 1.0),
            ("workout_energy_burned", 512.5, "kcal", start, end, 1.0),
            ("workout_active_energy_burned", 431.2, "kcal", start, end, 1.0),
            ("workout_avg_heart_rate", 148.2, "beats/min", start, end, 1.0),
            ("workout_max_heart_rate", 181.0, "beats/min", start, end, 1.0),
        ],
    )
    assert {(o.upload_type, o.provenance) for o in result.observations} == {("AUTOMATIC", "sensed")}


def test_example_auth() -> None:
    result = run("examples/auth__authSuccess.json")
    assert result.observations == [] and result.ops_events == []
    (event,) = result.user_events
    assert event.kind == "auth"
    assert event.user_id == EX_USER
    assert event.provider == "GARMIN"
    assert event.reference_id == "your-user-123"
    assert event.status == "success"
    assert event.scopes == "ACTIVITY_EXPORT,HEALTH_EXPORT"
    assert event.message == "User has successfully authenticated"
    assert event.event_id == "evt-1"
    assert event.occurred_at == RECEIVED and event.ordering_ts == ORDERING


def test_example_deauth() -> None:
    (event,) = run("examples/deauth__deauth.json").user_events
    assert (event.kind, event.user_id, event.provider, event.status) == ("deauth", EX_USER, "GARMIN", "success")


def test_every_example_is_covered() -> None:
    names = {p.name for p in (DATA / "examples").glob("*.json")}
    assert names == {
        "activity__activity.json",
        "auth__authSuccess.json",
        "body__body.json",
        "daily__daily.json",
        "deauth__deauth.json",
        "sleep__sleep.json",
    }


# --- full generated payloads -------------------------------------------------------------------
def test_full_body() -> None:
    result = run("full_body.json")
    w = t("2026-07-01T05:30:00")  # 07:30+02:00
    d0, d1 = t("2026-06-30T22:00:00"), t("2026-07-01T10:00:00")  # a half day: 00:00-12:00 local
    assert_rows(
        result.observations,
        [
            ("body_weight", 80.5, "kg", w, None, 1.0),
            ("body_fat_percentage", 21.5, "%", w, None, 1.0),
            ("body_mass_index", 24.8, "kg/m2", w, None, 1.0),
            ("body_height", 180.2, "cm", w, None, 1.0),
            ("bone_mass", 3.3, "kg", w, None, 1.0),  # 3300 g
            ("muscle_mass", 36.0, "kg", w, None, 1.0),  # 36000 g
            ("lean_body_mass", 63.0, "kg", w, None, 1.0),  # 63000 g
            ("body_water_percentage", 55.5, "%", w, None, 1.0),
            ("basal_metabolic_rate", 1750.0, "kcal/d", w, None, 1.0),
            ("resting_metabolic_rate", 1900.0, "kcal/d", w, None, 1.0),
            ("skinfold_thickness", 12.0, "mm", w, None, 1.0),
            ("visceral_fat_level", 7.0, "level", w, None, 1.0),
            # day averages are their own interval metrics (composition long tail: not mapped)
            ("daily_avg_body_weight", 81.0, "kg", d0, d1, 0.5),
            ("daily_avg_body_fat_percentage", 22.0, "%", d0, d1, 0.5),
            ("daily_avg_body_mass_index", 25.0, "kg/m2", d0, d1, 0.5),
            ("blood_pressure_systolic", 118.0, "mmHg", t("2026-07-01T08:00:00"), None, 1.0),
            ("blood_pressure_diastolic", 76.0, "mmHg", t("2026-07-01T08:00:00"), None, 1.0),
            ("daily_avg_blood_pressure_systolic", 120.0, "mmHg", d0, d1, 0.5),
            ("daily_avg_blood_pressure_diastolic", 80.0, "mmHg", d0, d1, 0.5),
            ("heart_rate", 61.0, "beats/min", t("2026-07-01T06:00:00"), None, 1.0),
            ("heart_rate_variability_rmssd", 48.5, "ms", t("2026-07-01T06:00:00"), None, 1.0),
            ("heart_rate_variability_sdnn", 55.5, "ms", t("2026-07-01T06:00:00"), None, 1.0),
            ("resting_heart_rate", 55.0, "beats/min", d0, d1, 0.5),
            ("daily_avg_heart_rate", 68.0, "beats/min", d0, d1, 0.5),
            ("daily_max_heart_rate", 142.0, "beats/min", d0, d1, 0.5),
            ("daily_min_heart_rate", 50.0, "beats/min", d0, d1, 0.5),
            ("daily_avg_heart_rate_variability_rmssd", 47.0, "ms", d0, d1, 0.5),
            ("daily_avg_heart_rate_variability_sdnn", 50.0, "ms", d0, d1, 0.5),
            ("pulse_wave_velocity", 7.1, "m/s", t("2026-07-01T06:10:00"), None, 1.0),
            ("body_water_mass", 44.0, "kg", t("2026-07-01T06:00:00"), None, 1.0),
            # day_total_water_consumption_ml: water_intake belongs to nutrition
            ("blood_ketones", 2.5, "mg/dL", t("2026-07-01T06:20:00"), None, 1.0),  # urine sample dropped
            ("daily_avg_blood_ketones", 3.0, "mg/dL", d0, d1, 0.5),
            ("oxygen_saturation", 97.0, "%", t("2026-07-01T06:30:00"), None, 1.0),
            ("muscle_oxygen_saturation", 60.0, "%", t("2026-07-01T06:31:00"), None, 1.0),  # the SmO2 sample
            ("daily_avg_oxygen_saturation", 96.5, "%", d0, d1, 0.5),  # a blood sample exists: SpO2
            ("vo2_max", 44.5, "mL/kg/min", t("2026-07-01T06:40:00"), None, 1.0),
            ("daily_avg_vo2_max", 43.0, "mL/kg/min", d0, d1, 0.5),
            ("body_temperature", 36.7, "°C", t("2026-07-01T06:50:00"), None, 1.0),
            ("skin_temperature", 33.4, "°C", t("2026-07-01T06:51:00"), None, 1.0),
            ("daily_avg_body_temperature", 36.6, "°C", d0, d1, 0.5),
            ("daily_avg_skin_temperature", 33.0, "°C", d0, d1, 0.5),
            ("blood_glucose", 95.0, "mg/dL", t("2026-07-01T07:00:00"), None, 1.0),
            ("blood_glucose", 101.0, "mg/dL", t("2026-07-01T07:05:00"), None, 1.0),
            ("daily_avg_blood_glucose", 98.0, "mg/dL", d0, d1, 0.5),
            ("glucose_management_indicator", 5.4, "%", d0, d1, 0.5),
            ("glucose_time_in_range", 0.9, "%", d0, d1, 0.5),
        ],
    )
    assert {o.device for o in result.observations} == {"Withings Body+"}
    assert {o.subject for o in result.observations} == {"subject-42"}
    assert {o.user_id for o in result.observations} == {"u-full-1"}


def test_full_daily() -> None:
    result = run("full_daily.json")
    d0, d1 = t("2026-07-02T05:00:00"), t("2026-07-03T05:00:00")  # midnight at -05:00
    day = [
        ("step_count", 10250.0, "steps"),
        ("distance", 8100.5, "m"),
        ("floors_climbed", 12.0, "count"),
        ("energy_burned", 2600.5, "kcal"),
        ("active_energy_burned", 750.25, "kcal"),
        ("basal_energy_burned", 1850.25, "kcal"),
        ("active_duration", 4200.0, "s"),
        ("resting_heart_rate", 51.0, "beats/min"),
        ("daily_avg_heart_rate", 70.0, "beats/min"),
        ("daily_max_heart_rate", 165.0, "beats/min"),
        ("daily_min_heart_rate", 48.0, "beats/min"),
        ("daily_avg_heart_rate_variability_rmssd", 42.0, "ms"),
        ("daily_avg_heart_rate_variability_sdnn", 60.0, "ms"),
        ("daily_avg_oxygen_saturation", 97.5, "%"),  # no samples: SpO2, the schema's first meaning
        ("vo2_max", 47.5, "mL/kg/min"),
        ("elevation_gain", 120.0, "m"),
        ("inactive_duration", 30000.0, "s"),
        ("low_intensity_duration", 3000.0, "s"),
        ("moderate_intensity_duration", 900.0, "s"),
        ("vigorous_intensity_duration", 300.0, "s"),
        ("daily_avg_stress_level", 32.0, "score"),
        ("daily_max_stress_level", 90.0, "score"),
        ("stress_duration", 5000.0, "s"),
        ("activity_score", 80.0, "score"),
        ("recovery_score", 66.0, "score"),
        # scores.sleep (77): sleep_score belongs to the sleep session
        ("day_strain", 11.5, "score"),
    ]
    assert_rows(
        result.observations,
        [(m, v, u, d0, d1, 1.0) for m, v, u in day]
        + [
            ("heart_rate", 75.0, "beats/min", t("2026-07-02T17:00:00"), None, 1.0),
            ("stress_level", 25.0, "score", t("2026-07-02T18:00:00"), None, 1.0),  # the -1 sample is "no value"
            ("body_battery", 60.0, "score", t("2026-07-02T18:00:00"), None, 1.0),
        ],
    )
    assert {(o.device, o.upload_type, o.provenance) for o in result.observations} == {
        ("Garmin Forerunner 965", "AUTOMATIC", "sensed")
    }
    assert {o.provider for o in result.observations} == {"GARMIN"}
    assert result.rejections == []


def test_full_sleep() -> None:
    result = run("full_sleep.json")
    s0, s1 = t("2026-07-02T22:30:00"), t("2026-07-03T06:15:00")
    night = [
        ("sleep_duration", 25000.0, "s"),
        ("sleep_deep_duration", 5000.0, "s"),
        ("sleep_rem_duration", 6000.0, "s"),
        ("sleep_light_duration", 14000.0, "s"),
        ("sleep_awake_duration", 1900.0, "s"),
        ("sleep_latency", 600.0, "s"),
        ("time_in_bed", 27900.0, "s"),
        ("sleep_efficiency", 89.6, "%"),
        ("sleep_awakenings", 3.0, "count"),
        ("sleep_resting_heart_rate", 48.0, "beats/min"),
        ("sleep_avg_heart_rate", 54.0, "beats/min"),
        ("sleep_max_heart_rate", 70.0, "beats/min"),
        ("sleep_avg_heart_rate_variability_rmssd", 60.0, "ms"),  # the night's average, beside the samples
        ("sleep_avg_heart_rate_variability_sdnn", 70.0, "ms"),
        ("sleep_avg_respiratory_rate", 14.5, "breaths/min"),
        ("sleep_min_respiratory_rate", 12.0, "breaths/min"),
        ("sleep_max_respiratory_rate", 18.0, "breaths/min"),
        ("sleep_avg_oxygen_saturation", 96.0, "%"),
        ("snoring_duration", 300.0, "s"),
        ("snoring_events", 2.0, "count"),
        ("readiness_score", 84.0, "score"),
        ("sleep_recovery_level", 3.0, "level"),
        ("sleep_score", 88.0, "score"),
        ("skin_temperature_deviation", -0.3, "°C"),
    ]
    assert_rows(
        result.observations,
        [(m, v, u, s0, s1, 1.0) for m, v, u in night]
        + [
            ("heart_rate", 52.0, "beats/min", t("2026-07-03T01:00:00"), None, 1.0),
            ("heart_rate_variability_rmssd", 61.5, "ms", t("2026-07-03T01:00:00"), None, 1.0),
            ("respiratory_rate", 15.0, "breaths/min", t("2026-07-03T02:00:00"), None, 1.0),
        ],
    )
    assert {(o.device, o.upload_type, o.provenance) for o in result.observations} == {
        ("Oura Ring Gen3", "AUTOMATIC", "sensed")
    }


def test_full_activity() -> None:
    result = run("full_activity.json")
    a0, a1 = t("2026-07-03T18:00:00"), t("2026-07-03T19:30:00")
    b0, b1 = t("2026-07-04T07:00:00"), t("2026-07-04T07:30:00")
    assert_rows(
        result.observations,
        [
            ("workout_duration", 5400.0, "s", a0, a1, 1.0),
            ("workout_distance", 42195.0, "m", a0, a1, 1.0),
            ("workout_steps", 3000.0, "steps", a0, a1, 1.0),
            ("workout_floors_climbed", 4.0, "count", a0, a1, 1.0),
            ("workout_elevation_gain", 400.0, "m", a0, a1, 1.0),
            ("workout_energy_burned", 1100.0, "kcal", a0, a1, 1.0),  # calories win over kJ
            ("workout_active_energy_burned", 950.0, "kcal", a0, a1, 1.0),
            ("workout_avg_heart_rate", 142.0, "beats/min", a0, a1, 1.0),
            ("workout_max_heart_rate", 178.0, "beats/min", a0, a1, 1.0),
            # resting_hr_bpm of a workout: no resting value is measured while exercising
            ("vo2_max", 52.0, "mL/kg/min", a0, a1, 1.0),
            ("workout_heart_rate", 150.0, "beats/min", t("2026-07-03T18:30:00"), None, 1.0),
            ("workout_avg_power", 210.0, "W", a0, a1, 1.0),
            ("workout_max_power", 600.0, "W", a0, a1, 1.0),
            ("workout_avg_speed", 7.8, "m/s", a0, a1, 1.0),
            ("workout_strain", 15.0, "score", a0, a1, 1.0),
            ("workout_work", 1100.0, "kJ", a0, a1, 1.0),
            ("workout_duration", 1800.0, "s", b0, b1, 1.0),
            ("workout_energy_burned", 200.0, "kcal", b0, b1, 1.0),  # 836.8 kJ / 4.184
            # the third workout is marked DELETE: nothing from it
        ],
    )
    first = [o for o in result.observations if o.measured_at < b0]
    assert {(o.device, o.upload_type, o.provenance) for o in first} == {("Garmin Edge 840", "MANUAL", "self_reported")}
    second = [o for o in result.observations if o.measured_at == b0]
    assert {(o.device, o.upload_type, o.provenance) for o in second} == {(None, "THIRD_PARTY_UPLOAD", "sensed")}


def test_full_nutrition() -> None:
    result = run("full_nutrition.json")
    d0, d1 = t("2026-07-03T00:00:00"), t("2026-07-04T00:00:00")
    e0, e1 = t("2026-07-04T00:00:00"), t("2026-07-04T18:00:00")
    summary = [
        ("dietary_energy", 2100.0, "kcal"),
        ("dietary_protein", 95.5, "g"),
        ("dietary_carbohydrates", 250.0, "g"),
        ("dietary_fat", 70.0, "g"),
        ("dietary_saturated_fat", 20.0, "g"),
        ("dietary_trans_fat", 0.0, "g"),
        ("dietary_cholesterol", 200.0, "mg"),
        ("dietary_fiber", 28.0, "g"),
        ("dietary_sugar", 60.0, "g"),
        ("dietary_alcohol", 0.0, "g"),
        ("dietary_sodium", 2200.0, "mg"),  # from micros: macros has none
        ("dietary_caffeine", 180.0, "mg"),
        ("dietary_iron", 12.0, "mg"),
        ("dietary_vitamin_c", 90.0, "mg"),
        ("water_intake", 1600.0, "mL"),
    ]
    meals = [  # no summary: summed over the two meals of a day logged until 18:00
        ("dietary_energy", 185.0, "kcal"),
        ("dietary_protein", 12.5, "g"),
        ("dietary_fat", 10.0, "g"),
        ("dietary_sodium", 145.0, "mg"),  # 140 (macros) + 5 (micros)
        ("dietary_caffeine", 95.0, "mg"),
    ]
    assert_rows(
        result.observations,
        [(m, v, u, d0, d1, 1.0) for m, v, u in summary] + [(m, v, u, e0, e1, 0.75) for m, v, u in meals],
    )
    assert {(o.provenance, o.upload_type) for o in result.observations} == {("self_reported", None)}
    assert {o.provider for o in result.observations} == {"MYFITNESSPAL"}


def test_full_menstruation() -> None:
    result = run("full_menstruation.json")
    d0, d1 = t("2026-07-02T22:00:00"), t("2026-07-03T22:00:00")
    assert_rows(
        result.observations,
        [
            ("menstrual_cycle_day", 12.0, "day", d0, d1, 1.0),
            ("menstrual_period_length", 5.0, "day", d0, d1, 1.0),
            ("menstrual_cycle_length", 29.0, "day", d0, d1, 1.0),
        ],
    )


def test_full_athlete_keeps_only_sex_and_birth_year() -> None:
    result = run("full_athlete.json")
    assert result.observations == []
    (event,) = result.user_events
    assert event.kind == "profile"
    assert (event.user_id, event.provider, event.reference_id) == ("u-full-1", "FITBIT", None)
    assert (event.sex, event.birth_year) == ("female", 1990)
