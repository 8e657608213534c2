"""Terra ``daily`` events: a day's steps, distance, energy, heart, oxygen, stress, scores.

Its ``scores.sleep`` belongs to the sleep session instead (one source per metric, see the
README): stamped with the calendar day, it would always look newer than the night it scores.
"""

from __future__ import annotations

from ._common import DAY_HEART, Span, day_oxygen, device_name, fields, heart_rate_samples, span
from ._emit import Emitter
from ._values import UPLOAD_TYPES, JsonObject, number, obj, objects, parse_time, upload_type

_DISTANCE = (("steps", "step_count"), ("distance_meters", "distance"), ("floors_climbed", "floors_climbed"))
_ELEVATION = (("gain_actual_meters", "elevation_gain"), ("loss_actual_meters", "elevation_loss"))
_CALORIES = (
    ("total_burned_calories", "energy_burned"),
    ("net_activity_calories", "active_energy_burned"),
    ("BMR_calories", "basal_energy_burned"),
)
_ACTIVE = (
    ("activity_seconds", "active_duration"),
    ("low_intensity_seconds", "low_intensity_duration"),
    ("moderate_intensity_seconds", "moderate_intensity_duration"),
    ("vigorous_intensity_seconds", "vigorous_intensity_duration"),
    ("inactivity_seconds", "inactive_duration"),
    ("standing_seconds", "standing_duration"),
    ("standing_hours_count", "stand_hours"),
)
_SCORES = (("activity", "activity_score"), ("recovery", "recovery_score"))


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata, em.now)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), UPLOAD_TYPES)
    em.begin_item(device_name(item), name, provenance)
    day = sp.day_completeness
    distance = obj(item, "distance_data")
    fields(em, distance, _DISTANCE, sp, day)
    fields(em, obj(distance, "elevation"), _ELEVATION, sp, day)
    fields(em, obj(item, "calories_data"), _CALORIES, sp, day)
    fields(em, obj(item, "active_durations_data"), _ACTIVE, sp, day)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    fields(em, obj(heart_rate, "summary"), DAY_HEART, sp, day)
    day_oxygen(em, obj(item, "oxygen_data"), sp, day)
    _stress(em, obj(item, "stress_data"), sp, day)
    fields(em, obj(item, "scores"), _SCORES, sp, day)
    fields(em, obj(item, "strain_data"), (("strain_level", "day_strain"),), sp, day)


def _stress(em: Emitter, stress: JsonObject | None, sp: Span, day: float) -> None:
    if stress is None:
        return
    # Garmin marks unmeasured stress with negative levels (-1 off-wrist, -2 moving):
    # those are "no value", not impossible values worth a rejection.
    for sample in objects(stress, "samples"):
        level = number(sample.get("level"))
        if level is not None and level >= 0:
            em.add("stress_level", level, parse_time(sample.get("timestamp")))
    for key, metric in (("avg_stress_level", "daily_avg_stress_level"), ("max_stress_level", "daily_max_stress_level")):
        level = number(stress.get(key))
        if level is not None and level >= 0:
            em.add(metric, level, sp.start, sp.end, day)
    em.add("stress_duration", number(stress.get("stress_duration_seconds")), sp.start, sp.end, day)
    for sample in objects(stress, "body_battery_samples"):
        em.add("body_battery", number(sample.get("level")), parse_time(sample.get("timestamp")))
