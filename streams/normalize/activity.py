"""Terra ``activity`` events: one workout's duration, distance, energy and heart rate."""

from __future__ import annotations

from ._common import device_name, fields, heart_rate_samples, oxygen, span
from ._emit import Emitter
from ._values import (
    UPLOAD_DELETE,
    UPLOAD_TYPES,
    JsonObject,
    kilojoules_to_kcal,
    number,
    obj,
    seconds_between,
    upload_type,
)

_DISTANCE = (("distance_meters", "workout_distance"), ("steps", "workout_steps"))
_HEART = (("avg_hr_bpm", "workout_avg_heart_rate"), ("max_hr_bpm", "workout_max_heart_rate"))


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), UPLOAD_TYPES)
    if name == UPLOAD_DELETE:
        # A workout marked for deletion carries no value to keep.
        return
    em.begin_item(device_name(item), name, provenance)
    start, end = sp.start, sp.end
    em.add("workout_duration", seconds_between(start, end), start, end)
    fields(em, obj(obj(item, "distance_data"), "summary"), _DISTANCE, sp, 1.0)
    calories = obj(item, "calories_data")
    total = None if calories is None else number(calories.get("total_burned_calories"))
    if total is None:
        energy = obj(item, "energy_data")
        kilojoules = None if energy is None else number(energy.get("energy_kilojoules"))
        total = None if kilojoules is None else kilojoules_to_kcal(kilojoules)
    em.add("workout_energy_burned", total, start, end)
    if calories is not None:
        em.add("workout_active_energy_burned", number(calories.get("net_activity_calories")), start, end)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    fields(em, obj(heart_rate, "summary"), _HEART, sp, 1.0)
    oxygen(em, obj(item, "oxygen_data"), sp, 1.0)
