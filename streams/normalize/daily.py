"""Terra ``daily`` events: a day's steps, distance, energy, heart, oxygen, stress, scores."""

from __future__ import annotations

from ._common import device_name, fields, heart_rate_samples, heart_rate_summary, oxygen, span
from ._emit import Emitter
from ._values import UPLOAD_TYPES, JsonObject, number, obj, objects, parse_time, upload_type

_DISTANCE = (("steps", "step_count"), ("distance_meters", "distance"), ("floors_climbed", "floors_climbed"))
_CALORIES = (
    ("total_burned_calories", "energy_burned"),
    ("net_activity_calories", "active_energy_burned"),
    ("BMR_calories", "basal_energy_burned"),
)
_ACTIVE = (("activity_seconds", "active_duration"),)
_SCORES = (("activity", "activity_score"), ("recovery", "recovery_score"), ("sleep", "sleep_score"))


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), UPLOAD_TYPES)
    em.begin_item(device_name(item), name, provenance)
    day = sp.day_completeness
    fields(em, obj(item, "distance_data"), _DISTANCE, sp, day)
    fields(em, obj(item, "calories_data"), _CALORIES, sp, day)
    fields(em, obj(item, "active_durations_data"), _ACTIVE, sp, day)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    heart_rate_summary(
        em, heart_rate, sp, day, average_metric="daily_avg_heart_rate", max_metric="daily_max_heart_rate"
    )
    oxygen(em, obj(item, "oxygen_data"), sp, day)
    stress = obj(item, "stress_data")
    if stress is not None:
        # Garmin marks unmeasured stress with negative levels (-1 off-wrist, -2 moving):
        # those are "no value", not impossible values worth a rejection.
        for sample in objects(stress, "samples"):
            level = number(sample.get("level"))
            if level is not None and level >= 0:
                em.add("stress_level", level, parse_time(sample.get("timestamp")))
        average = number(stress.get("avg_stress_level"))
        if average is not None and average >= 0:
            em.add("stress_level", average, sp.start, sp.end, day)
    fields(em, obj(item, "scores"), _SCORES, sp, day)
