"""Terra ``sleep`` events: one session's durations, efficiency, vitals and scores.

Nocturnal samples go to the ordinary sample metrics (heart rate, HRV, breathing, SpO2);
the night's statistics are ``sleep_*`` interval metrics of their own. The session owns
``sleep_score`` (the daily event's copy is not read: one source per metric).
"""

from __future__ import annotations

from ._common import (
    OxygenMetrics,
    Span,
    device_name,
    fields,
    heart_rate_samples,
    samples,
    saturation_average,
    saturation_samples,
    span,
)
from ._emit import Emitter
from ._values import SLEEP_UPLOAD_TYPES, JsonObject, number, obj, objects, upload_type

_ASLEEP = (
    ("duration_deep_sleep_state_seconds", "sleep_deep_duration"),
    ("duration_REM_sleep_state_seconds", "sleep_rem_duration"),
    ("duration_light_sleep_state_seconds", "sleep_light_duration"),
)
_AWAKE = (
    ("duration_awake_state_seconds", "sleep_awake_duration"),
    ("sleep_latency_seconds", "sleep_latency"),
    ("num_wakeup_events", "sleep_awakenings"),
)
_OTHER = (("duration_in_bed_seconds", "time_in_bed"),)
_HEART = (
    ("avg_hr_bpm", "sleep_avg_heart_rate"),
    ("min_hr_bpm", "sleep_min_heart_rate"),
    ("max_hr_bpm", "sleep_max_heart_rate"),
    ("resting_hr_bpm", "sleep_resting_heart_rate"),
    ("avg_hrv_rmssd", "sleep_avg_heart_rate_variability_rmssd"),
    ("avg_hrv_sdnn", "sleep_avg_heart_rate_variability_sdnn"),
)
_BREATHS = (
    ("avg_breaths_per_min", "sleep_avg_respiratory_rate"),
    ("min_breaths_per_min", "sleep_min_respiratory_rate"),
    ("max_breaths_per_min", "sleep_max_respiratory_rate"),
)
_SNORING = (("total_snoring_duration_seconds", "snoring_duration"), ("num_snoring_events", "snoring_events"))
_OXYGEN = OxygenMetrics(
    blood="oxygen_saturation",
    muscle="muscle_oxygen_saturation",
    blood_average="sleep_avg_oxygen_saturation",
    muscle_average=None,  # nobody sleeps in a muscle-oxygen sensor: not guessed
    untyped_average_is_blood=True,
)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata, em.now)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), SLEEP_UPLOAD_TYPES)
    em.begin_item(device_name(item), name, provenance)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    respiration = obj(item, "respiration_data")
    breaths = obj(respiration, "breaths_data")
    saturation = obj(respiration, "oxygen_saturation_data")
    samples(em, objects(breaths, "samples"), "breaths_per_min", "respiratory_rate")
    saturation_items = objects(saturation, "samples")
    saturation_samples(em, saturation_items, _OXYGEN)
    # A nap must not replace the night as the latest sleep: it keeps its samples only.
    if metadata is not None and metadata.get("is_nap") is True:
        return
    fields(em, obj(heart_rate, "summary"), _HEART, sp, 1.0)
    fields(em, breaths, _BREATHS, sp, 1.0)
    average = None if saturation is None else number(saturation.get("avg_saturation_percentage"))
    saturation_average(em, average, saturation_items, _OXYGEN, sp, 1.0)
    fields(em, obj(respiration, "snoring_data"), _SNORING, sp, 1.0)
    _durations(em, obj(item, "sleep_durations_data"), sp)
    readiness = obj(item, "readiness_data")
    if readiness is not None:
        em.add("readiness_score", number(readiness.get("readiness")), sp.start, sp.end)
        level = number(readiness.get("recovery_level"))
        if level is not None and level > 0:  # 0 is RecoveryLevel "unknown": no value
            em.add("sleep_recovery_level", level, sp.start, sp.end)
    fields(em, obj(item, "scores"), (("sleep", "sleep_score"),), sp, 1.0)
    fields(em, obj(item, "temperature_data"), (("delta", "skin_temperature_deviation"),), sp, 1.0)


def _durations(em: Emitter, data: JsonObject | None, sp: Span) -> None:
    if data is None:
        return
    asleep = obj(data, "asleep")
    if asleep is not None:
        total = number(asleep.get("duration_asleep_state_seconds"))
        if total is None:
            # Providers without a total still send the stages it is made of.
            stages = [number(asleep.get(key)) for key, _ in _ASLEEP]
            present = [stage for stage in stages if stage is not None]
            total = sum(present) if present else None
        em.add("sleep_duration", total, sp.start, sp.end)
    fields(em, asleep, _ASLEEP, sp, 1.0)
    fields(em, obj(data, "awake"), _AWAKE, sp, 1.0)
    fields(em, obj(data, "other"), _OTHER, sp, 1.0)
    em.add("sleep_efficiency", number(data.get("sleep_efficiency")), sp.start, sp.end)
