"""Pieces shared by several Terra data types: metadata spans, devices, sample arrays."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._emit import Emitter
from ._values import JsonObject, day_fraction, number, obj, objects, parse_local, parse_time, to_utc
from ._values import text as _text


@dataclass(frozen=True, slots=True)
class Span:
    """An item's ``metadata`` interval in UTC, plus its covered fraction of a day."""

    start: datetime | None
    end: datetime | None
    day_completeness: float


def span(metadata: JsonObject | None, now: datetime) -> Span:
    """The item's interval; ``day_completeness`` is the part of its day elapsed by ``now``."""
    if metadata is None:
        return Span(None, None, 1.0)
    start_local = parse_local(metadata.get("start_time"))
    end_local = parse_local(metadata.get("end_time"))
    start, end = to_utc(start_local), to_utc(end_local)
    if start is None or end is None:
        return Span(start, end, 1.0)
    return Span(start, end, day_fraction(start_local, end_local, now))


def device_name(item: JsonObject) -> str | None:
    """``"<manufacturer> <name>"`` from ``device_data`` (whichever parts are present)."""
    device = obj(item, "device_data")
    if device is None:
        return None
    name = _text(device.get("name"), 120)
    maker = _text(device.get("manufacturer"), 80)
    if name and maker and not name.lower().startswith(maker.lower()):
        return f"{maker} {name}"
    return name or maker


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


def heart_rate_samples(em: Emitter, heart_rate_data: JsonObject | None, prefix: str = "") -> None:
    """``HeartRateData.detailed``: bpm, RMSSD and SDNN samples (``prefix`` ``workout_`` for exercise)."""
    detailed = obj(heart_rate_data, "detailed")
    if detailed is None:
        return
    samples(em, objects(detailed, "hr_samples"), "bpm", f"{prefix}heart_rate")
    samples(em, objects(detailed, "hrv_samples_rmssd"), "hrv_rmssd", f"{prefix}heart_rate_variability_rmssd")
    samples(em, objects(detailed, "hrv_samples_sdnn"), "hrv_sdnn", f"{prefix}heart_rate_variability_sdnn")


_MUSCLE = 1
"""OxygenSaturationType: 0 blood (SpO2), 1 muscle (SmO2)."""


@dataclass(frozen=True, slots=True)
class OxygenMetrics:
    """Where one data type puts ``OxygenData`` (or a sleep's saturation data)."""

    blood: str
    muscle: str
    blood_average: str | None
    muscle_average: str | None
    untyped_average_is_blood: bool
    """Without samples to tell, is ``avg_saturation_percentage`` SpO2? True for days and nights
    (SmO2 sensors are exercise sensors); False for a workout, where it is not guessed."""
    vo2: str | None = None


DAY_OXYGEN = OxygenMetrics(
    blood="oxygen_saturation",
    muscle="muscle_oxygen_saturation",
    blood_average="daily_avg_oxygen_saturation",
    muscle_average="daily_avg_muscle_oxygen_saturation",
    untyped_average_is_blood=True,
    vo2="vo2_max",
)


def saturation_samples(em: Emitter, items: list[JsonObject], metrics: OxygenMetrics) -> None:
    """SpO2 samples to ``metrics.blood``; muscle-oxygen (SmO2, ``type`` 1) to ``metrics.muscle``."""
    for item in items:
        metric = metrics.muscle if item.get("type") == _MUSCLE else metrics.blood
        em.add(metric, number(item.get("percentage")), parse_time(item.get("timestamp")))


def saturation_average(
    em: Emitter, average: float | None, items: list[JsonObject], metrics: OxygenMetrics, sp: Span, done: float
) -> None:
    """``avg_saturation_percentage`` is "SpO2 or SmO2": it is what its samples are (muscle only if
    every sample is), and without samples what ``metrics.untyped_average_is_blood`` says."""
    typed = [item for item in items if number(item.get("percentage")) is not None]
    if typed:
        muscle = all(item.get("type") == _MUSCLE for item in typed)
    elif metrics.untyped_average_is_blood:
        muscle = False
    else:
        return
    metric = metrics.muscle_average if muscle else metrics.blood_average
    if metric is not None:
        em.add(metric, average, sp.start, sp.end, done)


DAY_HEART = (
    ("resting_hr_bpm", "resting_heart_rate"),
    ("avg_hr_bpm", "daily_avg_heart_rate"),
    ("max_hr_bpm", "daily_max_heart_rate"),
    ("min_hr_bpm", "daily_min_heart_rate"),
    ("avg_hrv_rmssd", "daily_avg_heart_rate_variability_rmssd"),
    ("avg_hrv_sdnn", "daily_avg_heart_rate_variability_sdnn"),
)
"""A day's ``HeartRateData.summary`` (Terra repeats it in body and daily: the same slot)."""


def day_oxygen(em: Emitter, oxygen_data: JsonObject | None, sp: Span, done: float) -> None:
    """A day's ``OxygenData`` (body and daily): samples, averages, the current VO2max estimate."""
    oxygen(em, oxygen_data, DAY_OXYGEN, sp, done)
    if oxygen_data is None:
        return
    # "VO2Max for the given user": the day's current estimate, unless samples gave it.
    em.add_fallback("vo2_max", number(oxygen_data.get("vo2max_ml_per_min_per_kg")), sp.start, sp.end, done)
    em.add("daily_avg_vo2_max", number(oxygen_data.get("day_avg_vo2max_ml_per_min_per_kg")), sp.start, sp.end, done)


def oxygen(em: Emitter, oxygen_data: JsonObject | None, metrics: OxygenMetrics, sp: Span, done: float) -> None:
    """``OxygenData``: saturation and VO2 samples and the period's average saturation."""
    if oxygen_data is None:
        return
    items = objects(oxygen_data, "saturation_samples")
    saturation_samples(em, items, metrics)
    if metrics.vo2 is not None:
        samples(em, objects(oxygen_data, "vo2_samples"), "vo2max_ml_per_min_per_kg", metrics.vo2)
    saturation_average(em, number(oxygen_data.get("avg_saturation_percentage")), items, metrics, sp, done)


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
