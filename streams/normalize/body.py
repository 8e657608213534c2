"""Terra ``body`` events: weighings, blood pressure, glucose, temperature, heart, oxygen."""

from __future__ import annotations

from ._common import Span, device_name, heart_rate_samples, heart_rate_summary, oxygen, samples, span
from ._emit import Emitter
from ._values import GRAMS_PER_KG, JsonObject, number, obj, objects, parse_time

_GRAM = 1.0 / GRAMS_PER_KG

# MeasurementDataSample field -> (metric, scale to canonical unit, day-average field)
_MEASUREMENTS: tuple[tuple[str, str, float, str], ...] = (
    ("weight_kg", "body_weight", 1.0, "day_avg_weight_kg"),
    ("bodyfat_percentage", "body_fat_percentage", 1.0, "day_avg_bodyfat_percentage"),
    ("BMI", "body_mass_index", 1.0, "day_avg_bmi"),
    ("height_cm", "body_height", 1.0, "day_avg_height_cm"),
    ("bone_mass_g", "bone_mass", _GRAM, "day_avg_bone_mass_g"),
    ("muscle_mass_g", "muscle_mass", _GRAM, "day_avg_muscle_mass_g"),
    ("lean_mass_g", "lean_body_mass", _GRAM, "day_avg_lean_mass_g"),
    ("water_percentage", "body_water_percentage", 1.0, "day_avg_water_percentage"),
    ("BMR", "basal_metabolic_rate", 1.0, "day_avg_bmr"),
)

# Ketone sample types (KetoneSampleType.yaml): 0 unknown, 1 blood, 2 urine, 3 breath.
_NOT_BLOOD_KETONES = (2, 3)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    sp = span(obj(item, "metadata"))
    em.begin_item(device_name(item), None, "unknown")
    day = sp.day_completeness
    _measurements(em, obj(item, "measurements_data"), sp, day)
    _blood_pressure(em, obj(item, "blood_pressure_data"), sp, day)
    heart = obj(item, "heart_data")
    if heart is not None:
        heart_rate = obj(heart, "heart_rate_data")
        heart_rate_samples(em, heart_rate)
        heart_rate_summary(
            em, heart_rate, sp, day, average_metric="daily_avg_heart_rate", max_metric="daily_max_heart_rate"
        )
        samples(
            em,
            objects(heart, "pulse_wave_velocity_samples"),
            "pulse_wave_velocity_meters_per_second",
            "pulse_wave_velocity",
        )
    hydration = obj(item, "hydration_data")
    if hydration is not None:
        water = number(hydration.get("day_total_water_consumption_ml"))
        em.add("water_intake", water, sp.start, sp.end, day)
    _ketones(em, obj(item, "ketone_data"), sp, day)
    oxygen(em, obj(item, "oxygen_data"), sp, day)
    _temperature(em, obj(item, "temperature_data"), sp, day)
    _glucose(em, obj(item, "glucose_data"), sp, day)


def _measurements(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    for measurement in objects(data, "measurements"):
        at = parse_time(measurement.get("measurement_time"))
        if at is None:
            continue
        for key, metric, scale, _ in _MEASUREMENTS:
            value = number(measurement.get(key))
            if value is not None:
                em.add(metric, value * scale, at)
    for _, metric, scale, avg_key in _MEASUREMENTS:
        value = number(data.get(avg_key))
        if value is not None:
            em.add_fallback(metric, value * scale, sp.start, sp.end, day)


def _blood_pressure(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    readings = objects(data, "blood_pressure_samples")
    samples(em, readings, "systolic_bp", "blood_pressure_systolic")
    samples(em, readings, "diastolic_bp", "blood_pressure_diastolic")
    systolic = number(data.get("day_avg_systolic_bp"))
    em.add_fallback("blood_pressure_systolic", systolic, sp.start, sp.end, day)
    diastolic = number(data.get("day_avg_diastolic_bp"))
    em.add_fallback("blood_pressure_diastolic", diastolic, sp.start, sp.end, day)


def _ketones(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    blood = [s for s in objects(data, "ketone_samples") if s.get("sample_type") not in _NOT_BLOOD_KETONES]
    samples(em, blood, "ketone_mg_per_dL", "blood_ketones")
    average = number(data.get("day_avg_ketone_mg_per_dL"))
    em.add_fallback("blood_ketones", average, sp.start, sp.end, day)


def _temperature(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    samples(em, objects(data, "body_temperature_samples"), "temperature_celsius", "body_temperature")
    samples(em, objects(data, "skin_temperature_samples"), "temperature_celsius", "skin_temperature")
    body = number(data.get("day_avg_body_temperature_celsius"))
    em.add_fallback("body_temperature", body, sp.start, sp.end, day)
    skin = number(data.get("day_avg_skin_temperature_celsius"))
    em.add_fallback("skin_temperature", skin, sp.start, sp.end, day)


def _glucose(em: Emitter, data: JsonObject | None, sp: Span, day: float) -> None:
    if data is None:
        return
    samples(em, objects(data, "blood_glucose_samples"), "blood_glucose_mg_per_dL", "blood_glucose")
    samples(em, objects(data, "detailed_blood_glucose_samples"), "blood_glucose_mg_per_dL", "blood_glucose")
    average = number(data.get("day_avg_blood_glucose_mg_per_dL"))
    if average is None:
        average = number(data.get("day_avg_blood_glucose_mg_per_dl"))
    if average is None:
        average = number(data.get("day_avg_detailed_blood_glucose_mg_per_dL"))
    em.add_fallback("blood_glucose", average, sp.start, sp.end, day)
