"""Terra ``body`` events: weighings, blood pressure, glucose, temperature, heart, oxygen.

Samples keep their own times; a day average is its own ``daily_avg_*`` interval metric.
The day's water total belongs to the nutrition log (one source per metric, see the README);
``schemas/terra_coverage.json`` lists every field with what becomes of it.
"""

from __future__ import annotations

from ._common import DAY_HEART, Span, day_oxygen, device_name, fields, heart_rate_samples, samples, span
from ._emit import Emitter
from ._values import GRAMS_PER_KG, JsonObject, number, obj, objects, parse_time

_GRAM = 1.0 / GRAMS_PER_KG

# MeasurementDataSample field -> (metric, scale to canonical unit)
_MEASUREMENTS: tuple[tuple[str, str, float], ...] = (
    ("weight_kg", "body_weight", 1.0),
    ("bodyfat_percentage", "body_fat_percentage", 1.0),
    ("BMI", "body_mass_index", 1.0),
    ("height_cm", "body_height", 1.0),
    ("bone_mass_g", "bone_mass", _GRAM),
    ("muscle_mass_g", "muscle_mass", _GRAM),
    ("lean_mass_g", "lean_body_mass", _GRAM),
    ("water_percentage", "body_water_percentage", 1.0),
    ("BMR", "basal_metabolic_rate", 1.0),
    ("RMR", "resting_metabolic_rate", 1.0),
    ("skin_fold_mm", "skinfold_thickness", 1.0),
    ("visceral_fat_level", "visceral_fat_level", 1.0),
    ("insulin_units", "insulin_dose", 1.0),
)
_DAY_AVERAGES = (
    ("day_avg_weight_kg", "daily_avg_body_weight"),
    ("day_avg_bodyfat_percentage", "daily_avg_body_fat_percentage"),
    ("day_avg_bmi", "daily_avg_body_mass_index"),
)
# Ketone sample types (KetoneSampleType.yaml): 0 unknown, 1 blood, 2 urine, 3 breath.
_NOT_BLOOD_KETONES = (2, 3)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    sp = span(obj(item, "metadata"), em.now)
    em.begin_item(device_name(item), None, "unknown")
    day = sp.day_completeness
    _measurements(em, obj(item, "measurements_data"), sp, day)
    _blood_pressure(em, obj(item, "blood_pressure_data"), sp, day)
    _heart(em, obj(item, "heart_data"), sp, day)
    hydration = obj(item, "hydration_data")
    samples(em, objects(hydration, "hydration_amount_samples"), "hydration_kg", "body_water_mass")
    _ketones(em, obj(item, "ketone_data"), sp, day)
    day_oxygen(em, obj(item, "oxygen_data"), sp, day)
    _temperature(em, obj(item, "temperature_data"), sp, day)
    _glucose(em, obj(item, "glucose_data"), sp, day)


def _measurements(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    for measurement in objects(data, "measurements"):
        at = parse_time(measurement.get("measurement_time"))
        if at is None:
            continue
        for key, metric, scale in _MEASUREMENTS:
            value = number(measurement.get(key))
            if value is not None:
                em.add(metric, value * scale, at)
    for key, metric in _DAY_AVERAGES:
        em.add(metric, number(data.get(key)), sp.start, sp.end, day)


def _heart(em: Emitter, heart: JsonObject | None, sp: Span, day: float) -> None:
    if heart is None:
        return
    heart_rate = obj(heart, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    fields(em, obj(heart_rate, "summary"), DAY_HEART, sp, day)
    samples(
        em,
        objects(heart, "pulse_wave_velocity_samples"),
        "pulse_wave_velocity_meters_per_second",
        "pulse_wave_velocity",
    )
    samples(em, objects(heart, "ecg_signal"), "avg_hr_bpm", "heart_rate", time_key="start_timestamp")


def _blood_pressure(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    readings = objects(data, "blood_pressure_samples")
    samples(em, readings, "systolic_bp", "blood_pressure_systolic")
    samples(em, readings, "diastolic_bp", "blood_pressure_diastolic")
    em.add("daily_avg_blood_pressure_systolic", number(data.get("day_avg_systolic_bp")), sp.start, sp.end, day)
    em.add("daily_avg_blood_pressure_diastolic", number(data.get("day_avg_diastolic_bp")), sp.start, sp.end, day)


def _ketones(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    blood = [s for s in objects(data, "ketone_samples") if s.get("sample_type") not in _NOT_BLOOD_KETONES]
    samples(em, blood, "ketone_mg_per_dL", "blood_ketones")
    em.add("daily_avg_blood_ketones", number(data.get("day_avg_ketone_mg_per_dL")), sp.start, sp.end, day)


def _temperature(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    samples(em, objects(data, "body_temperature_samples"), "temperature_celsius", "body_temperature")
    samples(em, objects(data, "skin_temperature_samples"), "temperature_celsius", "skin_temperature")
    body = number(data.get("day_avg_body_temperature_celsius"))
    em.add("daily_avg_body_temperature", body, sp.start, sp.end, day)
    skin = number(data.get("day_avg_skin_temperature_celsius"))
    em.add("daily_avg_skin_temperature", skin, sp.start, sp.end, day)


_GLUCOSE_AVERAGES = (
    "day_avg_blood_glucose_mg_per_dL",
    "day_avg_blood_glucose_mg_per_dl",  # deprecated alias, same value
    "day_avg_detailed_blood_glucose_mg_per_dL",
)


def _glucose(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    samples(em, objects(data, "blood_glucose_samples"), "blood_glucose_mg_per_dL", "blood_glucose")
    samples(em, objects(data, "detailed_blood_glucose_samples"), "blood_glucose_mg_per_dL", "blood_glucose")
    average = next((v for v in (number(data.get(k)) for k in _GLUCOSE_AVERAGES) if v is not None), None)
    em.add("daily_avg_blood_glucose", average, sp.start, sp.end, day)
    em.add("glucose_management_indicator", number(data.get("gmi")), sp.start, sp.end, day)
    em.add("glucose_time_in_range", number(data.get("time_in_range")), sp.start, sp.end, day)
