"""Terra ``activity`` events: one workout's duration, distance, energy, heart, power, speed.

Everything measured during exercise goes to ``workout_*`` metrics, samples included: an
exercise heart rate, HRV or SpO2 is not the resting or nocturnal value those metrics (and
their half-lives) mean.
"""

from __future__ import annotations

from ._common import OxygenMetrics, Span, device_name, fields, heart_rate_samples, oxygen, samples, span
from ._emit import Emitter
from ._values import (
    UPLOAD_DELETE,
    UPLOAD_TYPES,
    JsonObject,
    kilojoules_to_kcal,
    number,
    obj,
    objects,
    seconds_between,
    upload_type,
)

_DISTANCE = (
    ("distance_meters", "workout_distance"),
    ("steps", "workout_steps"),
    ("floors_climbed", "workout_floors_climbed"),
)
_ELEVATION = (("gain_actual_meters", "workout_elevation_gain"), ("loss_actual_meters", "workout_elevation_loss"))
_SWIMMING = (("num_laps", "workout_swim_laps"), ("num_strokes", "workout_swim_strokes"))
_HEART = (
    ("avg_hr_bpm", "workout_avg_heart_rate"),
    ("max_hr_bpm", "workout_max_heart_rate"),
    ("min_hr_bpm", "workout_min_heart_rate"),
)
_POWER = (("avg_watts", "workout_avg_power"), ("max_watts", "workout_max_power"))
_MOVEMENT = (
    ("avg_speed_meters_per_second", "workout_avg_speed"),
    ("max_speed_meters_per_second", "workout_max_speed"),
    ("avg_cadence_rpm", "workout_avg_cadence"),
    ("max_cadence_rpm", "workout_max_cadence"),
)
_ZONES = {zone: f"workout_heart_rate_zone_{zone}_duration" for zone in range(6)}
"""HeartRateZone 0 (resting) - 5 (maximum); 6 ("other") is no zone."""
_OXYGEN = OxygenMetrics(
    blood="workout_oxygen_saturation",
    muscle="muscle_oxygen_saturation",
    blood_average="workout_avg_oxygen_saturation",
    muscle_average="workout_avg_muscle_oxygen_saturation",
    untyped_average_is_blood=False,
    vo2="workout_vo2",
)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata, em.now)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), UPLOAD_TYPES)
    if name == UPLOAD_DELETE:
        # A workout marked for deletion carries no value to keep.
        return
    em.begin_item(device_name(item), name, provenance)
    start, end = sp.start, sp.end
    em.add("workout_duration", seconds_between(start, end), start, end)
    summary = obj(obj(item, "distance_data"), "summary")
    fields(em, summary, _DISTANCE, sp, 1.0)
    fields(em, obj(summary, "elevation"), _ELEVATION, sp, 1.0)
    fields(em, obj(summary, "swimming"), _SWIMMING, sp, 1.0)
    _energy(em, item, sp)
    active = obj(item, "active_durations_data")
    em.add("workout_moving_duration", None if active is None else number(active.get("activity_seconds")), start, end)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate, prefix="workout_")
    heart_summary = obj(heart_rate, "summary")
    fields(em, heart_summary, _HEART, sp, 1.0)
    for zone in objects(heart_summary, "hr_zone_data"):
        code = number(zone.get("zone"))
        metric = _ZONES.get(int(code)) if code is not None and code.is_integer() else None
        if metric is not None:
            em.add(metric, number(zone.get("duration_seconds")), start, end)
    oxygen_data = obj(item, "oxygen_data")
    oxygen(em, oxygen_data, _OXYGEN, sp, 1.0)
    vo2max = None if oxygen_data is None else number(oxygen_data.get("vo2max_ml_per_min_per_kg"))
    em.add("vo2_max", vo2max, start, end)  # the fitness estimate the workout produced
    power = obj(item, "power_data")
    fields(em, power, _POWER, sp, 1.0)
    samples(em, objects(power, "power_samples"), "watts", "workout_power")
    movement = obj(item, "movement_data")
    fields(em, movement, _MOVEMENT, sp, 1.0)
    samples(em, objects(movement, "speed_samples"), "speed_meters_per_second", "workout_speed")
    samples(em, objects(movement, "cadence_samples"), "cadence_rpm", "workout_cadence")
    fields(em, obj(item, "strain_data"), (("strain_level", "workout_strain"),), sp, 1.0)
    fields(em, obj(item, "work_data"), (("work_kilojoules", "workout_work"),), sp, 1.0)


def _energy(em: Emitter, item: JsonObject, sp: Span) -> None:
    """Total energy from ``calories_data``, else from ``energy_data`` (kJ); active energy."""
    calories = obj(item, "calories_data")
    total = None if calories is None else number(calories.get("total_burned_calories"))
    if total is None:
        energy = obj(item, "energy_data")
        kilojoules = None if energy is None else number(energy.get("energy_kilojoules"))
        total = None if kilojoules is None else kilojoules_to_kcal(kilojoules)
    em.add("workout_energy_burned", total, sp.start, sp.end)
    if calories is not None:
        em.add("workout_active_energy_burned", number(calories.get("net_activity_calories")), sp.start, sp.end)
