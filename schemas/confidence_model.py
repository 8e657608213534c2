"""The confidence model of design §6 as data: weights, levels, thresholds, reliability priors.

``confidence = 100 × P × (w_R·R + w_C·C + w_F·F + w_M·M + w_A·A)``; this module holds every
number in that formula (and the few that shape its terms) with the reason for each, so
they can be changed without touching the scoring code (``streams/confidence.py``).

Overrides: :func:`load_model` reads an optional JSON file whose top-level keys are field
names of :class:`ConfidenceModel`. Scalars replace the default; mappings are merged one
level deep (``{"reliability_priors": {"GARMIN": {"body_weight": 0.7}}}`` changes that one
prior and keeps every other). The caller decides where the file lives (the worker reads
``VITALSTREAM_CONFIDENCE_MODEL``); this module does no environment look-ups. Anything
invalid raises ``ValueError`` naming the offending field.

This module imports nothing of ours and does no I/O except reading the file it is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "DEFAULT_MODEL",
    "ENV_VAR",
    "ConfidenceModel",
    "Weights",
    "load_model",
    "model_from_dict",
    "model_to_dict",
]

ENV_VAR = "VITALSTREAM_CONFIDENCE_MODEL"
"""Environment variable the worker reads to find an override file (read by the caller)."""


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the five quality terms; they sum to 1 so confidence stays within 0–100."""

    reliability: float = 0.35
    """R: who measured it dominates — a cuff, a scale or a CGM is right far more often than
    a wrist estimate, and this is the one term known before any history exists."""
    consistency: float = 0.25
    """C: agreement with the subject's own history is the best evidence we get about one
    value, but a real change (weight loss, illness) must not be punished too hard."""
    freshness: float = 0.15
    """F: old data is less useful for a "latest" view, yet being late does not make it wrong."""
    completeness: float = 0.10
    """M: a partial day (watch worn half the day) is a real but modest defect."""
    agreement: float = 0.15
    """A: a second device agreeing is strong evidence, but most slots have a single source,
    so it must not outweigh R or C."""

    def total(self) -> float:
        return self.reliability + self.consistency + self.freshness + self.completeness + self.agreement


# fmt: off
# --- reliability priors --------------------------------------------------------------------
# Metric groups only shorten the default table below; the model itself is keyed by metric.
_WEIGHT = ("body_weight", "body_mass_index", "daily_avg_body_weight", "daily_avg_body_mass_index")
_BODY_FAT = (  # scale bio-impedance estimates
    "body_fat_percentage", "body_water_percentage", "bone_mass", "muscle_mass", "lean_body_mass",
    "basal_metabolic_rate", "resting_metabolic_rate", "visceral_fat_level", "body_water_mass", "skinfold_thickness",
    "daily_avg_body_fat_percentage",
)
_HEIGHT = ("body_height",)
_HR = (
    "heart_rate", "resting_heart_rate", "daily_avg_heart_rate", "daily_max_heart_rate", "sleep_avg_heart_rate",
    "workout_avg_heart_rate", "workout_max_heart_rate", "workout_min_heart_rate", "workout_heart_rate",
    "daily_min_heart_rate", "sleep_min_heart_rate", "sleep_max_heart_rate", "sleep_resting_heart_rate",
)
_HRV = (
    "heart_rate_variability_rmssd", "heart_rate_variability_sdnn", "daily_avg_heart_rate_variability_rmssd",
    "daily_avg_heart_rate_variability_sdnn", "sleep_avg_heart_rate_variability_rmssd",
    "sleep_avg_heart_rate_variability_sdnn", "workout_heart_rate_variability_rmssd",
    "workout_heart_rate_variability_sdnn",
)
_BP = (
    "blood_pressure_systolic", "blood_pressure_diastolic", "daily_avg_blood_pressure_systolic",
    "daily_avg_blood_pressure_diastolic",
)
_SPO2 = (
    "oxygen_saturation", "daily_avg_oxygen_saturation", "sleep_avg_oxygen_saturation", "workout_oxygen_saturation",
    "workout_avg_oxygen_saturation",
)
_GLUCOSE = ("blood_glucose", "daily_avg_blood_glucose", "glucose_management_indicator", "glucose_time_in_range")
_TEMP = (
    "body_temperature", "skin_temperature", "skin_temperature_deviation", "daily_avg_body_temperature",
    "daily_avg_skin_temperature",
)
_RESP = ("respiratory_rate", "sleep_avg_respiratory_rate", "sleep_min_respiratory_rate", "sleep_max_respiratory_rate")
_ACTIVITY = (
    "step_count", "distance", "floors_climbed", "energy_burned", "active_energy_burned", "basal_energy_burned",
    "active_duration", "low_intensity_duration", "moderate_intensity_duration", "vigorous_intensity_duration",
    "inactive_duration", "standing_duration", "stand_hours", "elevation_gain", "elevation_loss",
)
_SLEEP = (
    "sleep_duration", "sleep_deep_duration", "sleep_rem_duration", "sleep_light_duration",
    "sleep_awake_duration", "sleep_latency", "sleep_efficiency", "time_in_bed", "sleep_awakenings",
)
_WORKOUT = (
    "workout_distance", "workout_energy_burned", "workout_active_energy_burned", "workout_duration", "workout_steps",
    "workout_moving_duration", "workout_elevation_gain", "workout_elevation_loss", "workout_avg_speed",
    "workout_max_speed", "workout_speed", "workout_avg_cadence", "workout_max_cadence", "workout_cadence",
    "workout_swim_laps", "workout_swim_strokes", "workout_floors_climbed",
)
_POWER = ("workout_avg_power", "workout_max_power", "workout_power", "workout_work")
"""Power meters (pedals, cranks, smart trainers, ergometers) measure force directly."""
_NUTRITION = (
    "dietary_energy", "dietary_protein", "dietary_carbohydrates", "dietary_fat", "dietary_fiber", "dietary_sugar",
    "dietary_sodium", "dietary_caffeine", "water_intake", "dietary_saturated_fat", "dietary_trans_fat",
    "dietary_cholesterol", "dietary_alcohol", "dietary_calcium", "dietary_iron", "dietary_potassium",
    "dietary_magnesium", "dietary_zinc", "dietary_vitamin_c", "dietary_vitamin_d", "dietary_vitamin_b12",
    "dietary_folate", "dietary_vitamin_a",
)
_VO2 = ("vo2_max", "daily_avg_vo2_max", "workout_vo2")


def _priors(default: float, *groups: tuple[tuple[str, ...], float]) -> dict[str, float]:
    out = {"*": default}
    for metrics, prior in groups:
        for metric in metrics:
            out[metric] = prior
    return out


_WRIST_WEIGHT = 0.55
"""Weight reported by a wrist band / ring / strap account is typed in or synced from
somewhere else: clearly below a smart scale (0.95)."""

DEFAULT_RELIABILITY_PRIORS: dict[str, dict[str, float]] = {
    # Smart scales, validated BP cuffs, thermometer, sleep mat.
    "WITHINGS": _priors(
        0.75,
        (_WEIGHT, 0.95),     # Body/Body+ scales: the reference for weight in consumer health
        (_BODY_FAT, 0.80),   # bio-impedance fat %: repeatable but biased vs DEXA
        (_HEIGHT, 0.70),     # typed once by the user
        (_BP, 0.92),         # BPM Connect / Core cuffs are clinically validated
        (_TEMP, 0.85),       # Thermo temporal thermometer
        (_HR, 0.80),         # cuff / scale pulse, ScanWatch optical
        (_SPO2, 0.75),
        (_SLEEP, 0.75),      # Sleep Analyzer mat, no wrist
        (_ACTIVITY, 0.70),
        (("pulse_wave_velocity",), 0.75),  # Body Cardio scale: the only consumer PWV source
    ),
    # Clinically validated BP cuffs and scales.
    "OMRON": _priors(0.70, (_BP, 0.95), (_WEIGHT, 0.90), (_BODY_FAT, 0.78), (_HR, 0.80)),
    # Continuous glucose monitors: purpose-built, factory calibrated, ~9 % MARD.
    "DEXCOM": _priors(0.50, (_GLUCOSE, 0.95)),
    "FREESTYLELIBRE": _priors(0.50, (_GLUCOSE, 0.93)),
    # Lab results: accredited analysers (CVs of a few %), but read from a PDF by Terra's
    # extraction, which can misread a value or a unit; below a CGM's own sensor, above any wearable.
    "LAB_REPORT": _priors(0.90),
    # Polar: chest straps (H9/H10) are the common HR source; strong workout recording.
    "POLAR": _priors(
        0.78, (_HR, 0.92), (_HRV, 0.85), (_WORKOUT, 0.90), (_VO2, 0.75), (_ACTIVITY, 0.78), (_SLEEP, 0.70),
        (_WEIGHT, _WRIST_WEIGHT),
    ),
    # Garmin: GPS multisport watches; optical wrist HR (chest straps via device priors).
    "GARMIN": _priors(
        0.78, (_WORKOUT, 0.90), (_ACTIVITY, 0.85), (_HR, 0.82), (_HRV, 0.78), (_SLEEP, 0.72), (_VO2, 0.78),
        (_SPO2, 0.70), (_RESP, 0.72), (_POWER, 0.88),  # power from paired pedals/cranks
        (("stress_level", "daily_avg_stress_level", "daily_max_stress_level", "stress_duration", "body_battery"), 0.80),
        (_WEIGHT, 0.65),  # some users own an Index scale
    ),
    "SUUNTO": _priors(0.76, (_WORKOUT, 0.90), (_HR, 0.82), (_ACTIVITY, 0.80), (_WEIGHT, _WRIST_WEIGHT)),
    "COROS": _priors(0.76, (_WORKOUT, 0.90), (_HR, 0.82), (_ACTIVITY, 0.80), (_WEIGHT, _WRIST_WEIGHT)),
    "WAHOO": _priors(  # TICKR chest straps, KICKR trainers (power measured at the flywheel)
        0.75, (_WORKOUT, 0.90), (_HR, 0.90), (_POWER, 0.92), (_WEIGHT, _WRIST_WEIGHT),
    ),
    # Rings and straps built for recovery: best at HRV, sleep, resting HR; weak at steps.
    "OURA": _priors(
        0.72, (_SLEEP, 0.90), (_HRV, 0.90), (("resting_heart_rate", "sleep_resting_heart_rate"), 0.88),
        (_TEMP, 0.80), (_RESP, 0.80), (_SPO2, 0.70), (_ACTIVITY, 0.65), (_WORKOUT, 0.60),
        (_WEIGHT, _WRIST_WEIGHT),
    ),
    "WHOOP": _priors(
        0.72, (("day_strain", "workout_strain"), 0.88),  # strain is WHOOP's own measure
        (_HRV, 0.90), (_SLEEP, 0.88), (("resting_heart_rate", "sleep_resting_heart_rate"), 0.88), (_RESP, 0.82),
        (("heart_rate", "workout_avg_heart_rate", "workout_max_heart_rate"), 0.85), (_WORKOUT, 0.75),
        (_ACTIVITY, 0.55),  # step counting arrived late and is estimated
        (_WEIGHT, _WRIST_WEIGHT),
    ),
    "EIGHT": _priors(
        0.60, (_SLEEP, 0.85), (("resting_heart_rate", "sleep_resting_heart_rate"), 0.82), (_HRV, 0.80), (_RESP, 0.80)
    ),
    "ULTRAHUMAN": _priors(
        0.70, (_SLEEP, 0.82), (_HRV, 0.82), (("resting_heart_rate", "sleep_resting_heart_rate"), 0.85), (_TEMP, 0.75)
    ),
    # Wrist bands / phones: good step counters, average at everything else.
    "FITBIT": _priors(
        0.72, (_ACTIVITY, 0.85), (_SLEEP, 0.78), (_HR, 0.75), (("resting_heart_rate",), 0.80), (_HRV, 0.75),
        (_SPO2, 0.70), (_WEIGHT, 0.70),  # mix of Aria scales and typed entries
    ),
    # Apple Health aggregates many sources (cuffs, scales, CGMs): decent everywhere.
    "APPLE": _priors(
        0.75, (_ACTIVITY, 0.85), (_HR, 0.82), (_WORKOUT, 0.85), (_SLEEP, 0.72), (_WEIGHT, 0.75), (_BP, 0.80),
        (_GLUCOSE, 0.80), (_SPO2, 0.78),
        (_HRV, 0.70), (("heart_rate_variability_sdnn",), 0.80),  # Apple measures SDNN; RMSSD is derived
    ),
    "SAMSUNG": _priors(0.72, (_ACTIVITY, 0.82), (_HR, 0.78), (_SLEEP, 0.72), (_WEIGHT, _WRIST_WEIGHT)),
    "HUAWEI": _priors(0.70, (_ACTIVITY, 0.80), (_HR, 0.78), (_SLEEP, 0.70), (_WEIGHT, _WRIST_WEIGHT)),
    "GOOGLE": _priors(0.65, (_ACTIVITY, 0.78)),  # Google Fit: aggregator, provenance often unclear
    # Training platforms and connected equipment: good at their own workouts.
    "CONCEPT2": _priors(0.65, (_WORKOUT, 0.92), (_POWER, 0.92)),  # ergometer-measured distance and work
    "PELOTON": _priors(0.65, (_WORKOUT, 0.85), (_HR, 0.85), (_POWER, 0.80)),  # bike power is estimated
    "ZWIFT": _priors(0.65, (_WORKOUT, 0.85), (_POWER, 0.85)),  # relays the rider's trainer or meter
    "TRAININGPEAKS": _priors(0.65, (_WORKOUT, 0.82)),
    "STRAVA": _priors(0.65, (_WORKOUT, 0.82)),
    # Food diaries: the only source of nutrition data, but typed and estimated by the user.
    "CRONOMETER": _priors(0.50, (_NUTRITION, 0.75)),
    "MYFITNESSPAL": _priors(0.50, (_NUTRITION, 0.70)),
    "FATSECRET": _priors(0.50, (_NUTRITION, 0.70)),
    "NUTRACHECK": _priors(0.50, (_NUTRITION, 0.70)),
}

DEFAULT_DEVICE_PRIORS: dict[str, dict[str, float]] = {
    # Chest straps and ECG measure electrical activity: better than wrist optical for HR/HRV.
    metric: {"ecg": 0.97, "chest": 0.95, "h10": 0.95, "h9": 0.93, "hrm": 0.94, "tickr": 0.93}
    for metric in (*_HR, *_HRV)
}

DEFAULT_PROVENANCE_FACTORS: dict[str, float] = {
    "sensed": 1.0,          # measured by the device: the prior applies as is
    "unknown": 0.9,         # usually sensed, but we cannot tell
    "self_reported": 0.7,   # typed by the user: often right, often rounded or stale
}

DEFAULT_UPLOAD_TYPE_FACTORS: dict[str, float] = {
    # Terra UploadType, by name and by its numeric code; the stronger of this and the
    # provenance factor applies (a manual entry is usually also self_reported: one penalty).
    "automatic": 1.0, "1": 1.0,
    "manual": 0.7, "2": 0.7,
    "update": 0.95, "3": 0.95,
    "pending": 0.9, "5": 0.9,
    "third_party_upload": 0.9, "6": 0.9,  # re-uploaded: we cannot tell the original sensor
}


# fmt: on


@dataclass(frozen=True, slots=True)
class ConfidenceModel:
    """Every number of the confidence formula. Treat instances as immutable."""

    weights: Weights = field(default_factory=Weights)
    levels: Mapping[str, float] = field(
        default_factory=lambda: {"excellent": 85.0, "good": 70.0, "fair": 50.0, "poor": 0.0}
    )
    """Level = the first name (by descending threshold) whose threshold the confidence reaches.
    85/70/50 are the bands of the earlier ConfidenceScorer that dashboards already use."""
    high_confidence_threshold: float = 80.0
    """"High-confidence rate" = share of latest metrics at or above this (health document)."""
    neutral_consistency: float = 0.8
    """C before the subject has enough history: mildly favourable — most values are right,
    and a new user should not start "fair" only for being new."""
    min_history: int = 3
    """Values needed before C is computed: with fewer, a spread is meaningless."""
    consistency_z_scale: float = 2.0
    """C = exp(-z² / (2·s²)): with s = 2, z = 1 → 0.88, z = 2 → 0.61, z = 3 → 0.32, z = 5 → 0.04.
    Ordinary day-to-day variation scores high; only clear outliers are punished."""
    winsor_k: float = 3.0
    """A value is clipped to location ± k·spread before it updates the history, so one
    outlier cannot drag the baseline (robust, yet real trends still move it)."""
    history_alpha_min: float = 0.05
    """The history is exact (mean/variance) for the first 1/alpha values, then exponentially
    weighted with this factor: ~20-value memory, so a diet or a training block is followed."""
    min_spread_fraction: float = 0.02
    """Spread floor as a fraction of the metric's typical range, so a perfectly constant
    history (height, a repeated manual weight) does not make every tiny change an outlier."""
    agreement_tolerance: float = 0.10
    """Relative difference between two sources at which A = 0.5 (A = 1/(1+(d/tol)²)):
    devices commonly differ by a few per cent on steps or HR; 10 % is a real disagreement."""
    agreement_floor_fraction: float = 0.05
    """Denominator floor of the relative difference, as a fraction of the typical range, so
    values near zero (0 vs 1 floor climbed) are not a 100 % disagreement."""
    sample_slot_window_s: float = 300.0
    """Two providers' samples (no interval end) are in the same slot when within 5 minutes;
    interval values are in the same slot when their interval starts are equal."""
    default_reliability: float = 0.6
    """R for a provider we have no prior for: unknown, so a little above a coin toss."""
    reliability_priors: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {p: dict(m) for p, m in DEFAULT_RELIABILITY_PRIORS.items()}
    )
    """provider (upper case) → metric → prior; "*" is the provider's default."""
    device_priors: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {m: dict(k) for m, k in DEFAULT_DEVICE_PRIORS.items()}
    )
    """metric → device-name keyword (lower case) → prior; when the device name contains a
    keyword, the highest matching prior replaces the provider prior."""
    provenance_factors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PROVENANCE_FACTORS))
    upload_type_factors: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_UPLOAD_TYPE_FACTORS))
    half_life_overrides_s: Mapping[str, float] = field(default_factory=dict)
    """metric → freshness half-life in seconds, replacing the vocabulary's ``half_life_s``."""
    _cache: dict[tuple[str, str, str | None, str, str | None], float] = field(
        default_factory=dict, compare=False, repr=False
    )
    _levels_desc: tuple[tuple[str, float], ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.levels.items(), key=lambda kv: kv[1], reverse=True))
        object.__setattr__(self, "_levels_desc", ordered)

    # --- look-ups used on the hot path ------------------------------------------------------
    def level_for(self, confidence: float) -> str:
        for name, threshold in self._levels_desc:
            if confidence >= threshold:
                return name
        return self._levels_desc[-1][0]

    def is_high_confidence(self, confidence: float) -> bool:
        """Counts towards the "high-confidence rate" of the health document."""
        return confidence >= self.high_confidence_threshold

    def reliability(
        self,
        provider: str,
        metric: str,
        device: str | None = None,
        provenance: str = "unknown",
        upload_type: str | None = None,
    ) -> float:
        """R: the prior for (provider, metric[, device]) × the provenance/upload factor, in [0, 1]."""
        key = (provider, metric, device, provenance, upload_type)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        by_metric = self.reliability_priors.get(provider.upper())
        if by_metric is None:
            prior = self.default_reliability
        else:
            prior = by_metric.get(metric, by_metric.get("*", self.default_reliability))
        if device:
            keywords = self.device_priors.get(metric)
            if keywords:
                name = device.lower()
                matches = [p for kw, p in keywords.items() if kw in name]
                if matches:
                    prior = max(matches)
        factor = self.provenance_factors.get(provenance.lower(), self.provenance_factors.get("unknown", 1.0))
        if upload_type is not None:
            factor = min(factor, self.upload_type_factors.get(upload_type.lower(), 1.0))
        value = round(min(1.0, max(0.0, prior * factor)), 4)  # rounded: it is also a tie-breaker in SQL
        if len(self._cache) >= 4096:
            self._cache.clear()
        self._cache[key] = value
        return value

    def half_life_s(self, metric: str, vocabulary_half_life_s: float | None) -> float | None:
        return self.half_life_overrides_s.get(metric, vocabulary_half_life_s)


DEFAULT_MODEL = ConfidenceModel()


# --- (de)serialisation and validation --------------------------------------------------------
# Finite JSON numbers (not booleans, not strings) within bounds.
Unit: TypeAlias = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=1.0)]
Positive: TypeAlias = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0)]
Percent: TypeAlias = Annotated[float, Field(strict=True, allow_inf_nan=False, ge=0.0, le=100.0)]
Alpha: TypeAlias = Annotated[float, Field(strict=True, allow_inf_nan=False, gt=0.0, le=1.0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _WeightOverrides(_Strict):
    reliability: Unit | None = None
    consistency: Unit | None = None
    freshness: Unit | None = None
    completeness: Unit | None = None
    agreement: Unit | None = None


class _ModelOverrides(_Strict):
    """The JSON a ``VITALSTREAM_CONFIDENCE_MODEL`` file may hold: every field optional, each bounded."""

    weights: _WeightOverrides | None = None
    levels: dict[str, Percent] | None = None
    high_confidence_threshold: Percent | None = None
    neutral_consistency: Unit | None = None
    min_history: Annotated[int, Field(strict=True, ge=1)] | None = None
    consistency_z_scale: Positive | None = None
    winsor_k: Positive | None = None
    history_alpha_min: Alpha | None = None
    min_spread_fraction: Positive | None = None
    agreement_tolerance: Positive | None = None
    agreement_floor_fraction: Positive | None = None
    sample_slot_window_s: Positive | None = None
    default_reliability: Unit | None = None
    reliability_priors: dict[str, dict[str, Unit]] | None = None
    device_priors: dict[str, dict[str, Unit]] | None = None
    provenance_factors: dict[str, Unit] | None = None
    upload_type_factors: dict[str, Unit] | None = None
    half_life_overrides_s: dict[str, Positive] | None = None


def _validated(overrides: Mapping[str, Any]) -> _ModelOverrides:
    try:
        return _ModelOverrides.model_validate(dict(overrides))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ValueError(f"confidence model field {where!r}: {first['msg'].lower()}") from None


def model_to_dict(model: ConfidenceModel) -> dict[str, Any]:
    """A JSON-able dict of every field (the format :func:`load_model` reads)."""
    w = model.weights
    return {
        "weights": {f.name: getattr(w, f.name) for f in fields(w)},
        "levels": dict(model.levels),
        "high_confidence_threshold": model.high_confidence_threshold,
        "neutral_consistency": model.neutral_consistency,
        "min_history": model.min_history,
        "consistency_z_scale": model.consistency_z_scale,
        "winsor_k": model.winsor_k,
        "history_alpha_min": model.history_alpha_min,
        "min_spread_fraction": model.min_spread_fraction,
        "agreement_tolerance": model.agreement_tolerance,
        "agreement_floor_fraction": model.agreement_floor_fraction,
        "sample_slot_window_s": model.sample_slot_window_s,
        "default_reliability": model.default_reliability,
        "reliability_priors": {p: dict(m) for p, m in model.reliability_priors.items()},
        "device_priors": {m: dict(k) for m, k in model.device_priors.items()},
        "provenance_factors": dict(model.provenance_factors),
        "upload_type_factors": dict(model.upload_type_factors),
        "half_life_overrides_s": dict(model.half_life_overrides_s),
    }


def model_from_dict(overrides: Mapping[str, Any], base: ConfidenceModel = DEFAULT_MODEL) -> ConfidenceModel:
    """``base`` with ``overrides`` applied (scalars replaced, mappings merged one level deep).

    Validation is pydantic's (:class:`_ModelOverrides`); raises ``ValueError`` naming the field for
    an unknown field, a wrong type or a value out of range. Weights must also still sum to 1 (so
    confidence stays within 0–100) and one level must start at 0.
    """
    given = _validated(overrides)
    changes: dict[str, Any] = {}
    if given.weights is not None:
        weights = replace(base.weights, **given.weights.model_dump(exclude_none=True))
        if abs(weights.total() - 1.0) > 1e-6:
            raise ValueError(f"confidence model field 'weights': must sum to 1, got {weights.total():.6g}")
        changes["weights"] = weights
    if given.levels is not None:
        levels = {**base.levels, **given.levels}
        if not any(t == 0.0 for t in levels.values()):
            raise ValueError("confidence model field 'levels': one level must have threshold 0 (the lowest)")
        changes["levels"] = levels
    if given.reliability_priors is not None:
        priors = {p: dict(m) for p, m in base.reliability_priors.items()}
        for provider, by_metric in given.reliability_priors.items():
            priors.setdefault(provider.upper(), {}).update(by_metric)
        changes["reliability_priors"] = priors
    if given.device_priors is not None:
        devices = {m: dict(k) for m, k in base.device_priors.items()}
        for metric, keywords in given.device_priors.items():
            devices.setdefault(metric, {}).update({k.lower(): v for k, v in keywords.items()})
        changes["device_priors"] = devices
    for name in ("provenance_factors", "upload_type_factors"):
        factors = getattr(given, name)
        if factors is not None:
            changes[name] = {**getattr(base, name), **{k.lower(): v for k, v in factors.items()}}
    if given.half_life_overrides_s is not None:
        changes["half_life_overrides_s"] = {**base.half_life_overrides_s, **given.half_life_overrides_s}
    scalars = given.model_dump(exclude_none=True, exclude=set(changes) | {"weights", "levels"})
    return replace(base, _cache={}, **{k: v for k, v in scalars.items() if not isinstance(v, dict)}, **changes)


def load_model(path: str | None) -> ConfidenceModel:
    """The default model, or the default overridden by the JSON object in ``path``.

    ``path`` is None or empty → :data:`DEFAULT_MODEL`. An unreadable file, invalid JSON or an
    invalid field → ``ValueError`` saying which file and which field.
    """
    if not path:
        return DEFAULT_MODEL
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ValueError(f"confidence model file {path!r}: cannot read it ({exc.strerror or exc})") from exc
    except json.JSONDecodeError as exc:
        raise ValueError(f"confidence model file {path!r}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"confidence model file {path!r}: expected a JSON object of fields, got {type(data).__name__}")
    try:
        return model_from_dict(data)
    except ValueError as exc:
        raise ValueError(f"confidence model file {path!r}: {exc}") from exc
