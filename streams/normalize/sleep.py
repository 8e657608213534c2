"""Terra ``sleep`` events: one session's durations, efficiency, vitals and scores."""

from __future__ import annotations

from ._common import (
    Span,
    device_name,
    fields,
    heart_rate_samples,
    heart_rate_summary,
    samples,
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
_AWAKE = (("duration_awake_state_seconds", "sleep_awake_duration"), ("sleep_latency_seconds", "sleep_latency"))
_OTHER = (("duration_in_bed_seconds", "time_in_bed"),)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    metadata = obj(item, "metadata")
    sp = span(metadata)
    name, provenance = upload_type(None if metadata is None else metadata.get("upload_type"), SLEEP_UPLOAD_TYPES)
    em.begin_item(device_name(item), name, provenance)
    heart_rate = obj(item, "heart_rate_data")
    heart_rate_samples(em, heart_rate)
    respiration = obj(item, "respiration_data")
    breaths = obj(respiration, "breaths_data")
    saturation = obj(respiration, "oxygen_saturation_data")
    samples(em, objects(breaths, "samples"), "breaths_per_min", "respiratory_rate")
    saturation_samples(em, objects(saturation, "samples"))
    # A nap must not replace the night as the latest sleep: it keeps its samples only.
    if metadata is not None and metadata.get("is_nap") is True:
        return
    heart_rate_summary(em, heart_rate, sp, 1.0, average_metric="sleep_avg_heart_rate", max_metric=None)
    if breaths is not None:
        em.add_fallback("respiratory_rate", number(breaths.get("avg_breaths_per_min")), sp.start, sp.end)
    if saturation is not None:
        average = number(saturation.get("avg_saturation_percentage"))
        em.add_fallback("oxygen_saturation", average, sp.start, sp.end)
    _durations(em, obj(item, "sleep_durations_data"), sp)
    readiness = obj(item, "readiness_data")
    if readiness is not None:
        em.add("readiness_score", number(readiness.get("readiness")), sp.start, sp.end)
    scores = obj(item, "scores")
    if scores is not None:
        em.add("sleep_score", number(scores.get("sleep")), sp.start, sp.end)
    temperature = obj(item, "temperature_data")
    if temperature is not None:
        em.add("skin_temperature_deviation", number(temperature.get("delta")), sp.start, sp.end)


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
