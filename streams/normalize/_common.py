"""Pieces shared by several Terra data types: metadata spans, devices, sample arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._device import device_label
from ._emit import Emitter
from ._values import JsonObject, day_fraction, number, obj, objects, parse_local, parse_time, to_utc
from ._values import text as _text


@dataclass(frozen=True, slots=True)
class Span:
    """An item's ``metadata`` interval in UTC, plus its covered fraction of a day."""

    start: datetime | None
    end: datetime | None
    day_completeness: float


def span(metadata: JsonObject | None) -> Span:
    if metadata is None:
        return Span(None, None, 1.0)
    start_local = parse_local(metadata.get("start_time"))
    end_local = parse_local(metadata.get("end_time"))
    start, end = to_utc(start_local), to_utc(end_local)
    if start is None or end is None:
        return Span(start, end, 1.0)
    return Span(start, end, day_fraction(start_local, end_local))


def device_name(item: JsonObject) -> str | None:
    """``"<manufacturer> <model>"`` from ``device_data``: never the name the owner gave it (:mod:`._device`)."""
    device = obj(item, "device_data")
    if device is None:
        return None
    return device_label(_text(device.get("manufacturer"), 80), _text(device.get("name"), 120))


def samples(
    em: Emitter,
    items: list[JsonObject],
    key: str,
    metric: str,
    *,
    scale: float = 1.0,
    time_key: str = "timestamp",
) -> None:
    """One sample observation per item with a number at ``key`` and a valid time."""
    for item in items:
        value = number(item.get(key))
        if value is not None:
            em.add(metric, value * scale if scale != 1.0 else value, parse_time(item.get(time_key)))


def heart_rate_samples(em: Emitter, heart_rate_data: JsonObject | None) -> None:
    """``HeartRateData.detailed``: bpm, RMSSD and SDNN samples."""
    detailed = obj(heart_rate_data, "detailed")
    if detailed is None:
        return
    samples(em, objects(detailed, "hr_samples"), "bpm", "heart_rate")
    samples(em, objects(detailed, "hrv_samples_rmssd"), "hrv_rmssd", "heart_rate_variability_rmssd")
    samples(em, objects(detailed, "hrv_samples_sdnn"), "hrv_sdnn", "heart_rate_variability_sdnn")


def saturation_samples(em: Emitter, items: list[JsonObject]) -> None:
    """SpO2 samples; muscle-oxygen (SmO2, ``type`` 1) readings are not blood saturation."""
    for item in items:
        if item.get("type") == 1:
            continue
        em.add("oxygen_saturation", number(item.get("percentage")), parse_time(item.get("timestamp")))


def oxygen(em: Emitter, oxygen_data: JsonObject | None, sp: Span, completeness: float) -> None:
    """``OxygenData``: SpO2 and VO2max samples, then the period's averages as fallbacks."""
    if oxygen_data is None:
        return
    saturation_samples(em, objects(oxygen_data, "saturation_samples"))
    samples(em, objects(oxygen_data, "vo2_samples"), "vo2max_ml_per_min_per_kg", "vo2_max")
    # The period average is an interval value; it also goes to the same metric, but only
    # when the period sent no samples of it (its start would otherwise precede them).
    em.add_fallback(
        "oxygen_saturation", number(oxygen_data.get("avg_saturation_percentage")), sp.start, sp.end, completeness
    )
    vo2 = number(oxygen_data.get("vo2max_ml_per_min_per_kg"))
    if vo2 is None:
        vo2 = number(oxygen_data.get("day_avg_vo2max_ml_per_min_per_kg"))
    em.add_fallback("vo2_max", vo2, sp.start, sp.end, completeness)


def heart_rate_summary(
    em: Emitter,
    heart_rate_data: JsonObject | None,
    sp: Span,
    completeness: float,
    *,
    average_metric: str | None,
    max_metric: str | None,
) -> None:
    """``HeartRateData.summary`` over the item's span (a day, a night or a workout)."""
    summary = obj(heart_rate_data, "summary")
    if summary is None:
        return
    start, end = sp.start, sp.end
    em.add("resting_heart_rate", number(summary.get("resting_hr_bpm")), start, end, completeness)
    if average_metric is not None:
        em.add(average_metric, number(summary.get("avg_hr_bpm")), start, end, completeness)
    if max_metric is not None:
        em.add(max_metric, number(summary.get("max_hr_bpm")), start, end, completeness)
    rmssd = number(summary.get("avg_hrv_rmssd"))
    em.add_fallback("heart_rate_variability_rmssd", rmssd, start, end, completeness)
    sdnn = number(summary.get("avg_hrv_sdnn"))
    em.add_fallback("heart_rate_variability_sdnn", sdnn, start, end, completeness)


def fields(
    em: Emitter,
    source: JsonObject | None,
    mapping: tuple[tuple[str, str], ...],
    sp: Span,
    completeness: float,
) -> None:
    """Interval values ``source[key] -> metric`` over the item's span."""
    if source is None:
        return
    for key, metric in mapping:
        em.add(metric, number(source.get(key)), sp.start, sp.end, completeness)
