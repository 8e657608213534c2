"""The metric vocabulary (design §5) as data: name, canonical unit, bounds, staleness.

Names and units follow Open mHealth where it has one (``body_weight`` kg,
``heart_rate`` beats/min, ``step_count`` steps, ...). Each metric carries:

- ``typical_low``/``typical_high``: where a healthy adult's value normally falls
  (plausibility P = 1 inside, design §6);
- ``hard_low``/``hard_high``: outside these the value is physically impossible or
  a device sentinel, and the normalizer rejects it;
- ``half_life_s``: how fast a value goes stale (freshness F halves every half-life);
- ``kind``: ``sample`` for an instant reading, ``interval`` for a value that
  summarises a span (a day, a night, a workout);
- ``doc``: one line with the reason for the numbers.

Changing a number here changes behaviour without code changes; keep the reason current.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MINUTE = 60.0
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class MetricSpec:
    name: str
    unit: str
    kind: Literal["sample", "interval"]
    typical_low: float
    typical_high: float
    hard_low: float
    hard_high: float
    half_life_s: float
    doc: str

    def within_hard(self, value: float) -> bool:
        return self.hard_low <= value <= self.hard_high

    def within_typical(self, value: float) -> bool:
        return self.typical_low <= value <= self.typical_high


def _m(
    name: str,
    unit: str,
    kind: Literal["sample", "interval"],
    typical: tuple[float, float],
    hard: tuple[float, float],
    *,
    half_life: float,
    doc: str,
) -> MetricSpec:
    return MetricSpec(name, unit, kind, typical[0], typical[1], hard[0], hard[1], half_life, doc)


# fmt: off
_SPECS: tuple[MetricSpec, ...] = (
    # --- body composition -------------------------------------------------------------
    _m("body_weight", "kg", "sample", (45, 120), (2, 650), half_life=14 * DAY,
       doc="Adults mostly 45-120 kg; record human weights lie inside 2-650 kg; weight drifts over weeks."),
    _m("body_fat_percentage", "%", "sample", (8, 35), (2, 75), half_life=30 * DAY,
       doc="Healthy adults 8-35 %; below essential fat (~2 %) or above ~75 % is not survivable; changes over months."),
    _m("body_mass_index", "kg/m2", "sample", (18.5, 30), (7, 200), half_life=30 * DAY,
       doc="WHO normal-to-overweight 18.5-30; recorded extremes stay within 7-200; follows weight slowly."),
    _m("body_height", "cm", "sample", (150, 200), (40, 275), half_life=365 * DAY,
       doc="Adults mostly 150-200 cm; tallest recorded human 272 cm; height is stable for years."),
    _m("body_water_percentage", "%", "sample", (45, 65), (15, 85), half_life=30 * DAY,
       doc="Total body water is 45-65 % of adult weight; impedance scales never read outside 15-85 %."),
    _m("bone_mass", "kg", "sample", (2, 4.5), (0.2, 12), half_life=90 * DAY,
       doc="Scale-estimated bone mineral mass is 2-4.5 kg in adults; it changes over months to years."),
    _m("muscle_mass", "kg", "sample", (20, 70), (2, 200), half_life=30 * DAY,
       doc="Scale muscle mass (skeletal or soft lean, vendor-dependent) spans 20-70 kg in adults."),
    _m("lean_body_mass", "kg", "sample", (35, 90), (2, 300), half_life=30 * DAY,
       doc="Lean mass = weight minus fat: 35-90 kg for most adults; bounded by body weight itself."),
    _m("basal_metabolic_rate", "kcal/d", "sample", (1100, 2400), (300, 6000), half_life=30 * DAY,
       doc="Mifflin-St Jeor BMR of adults is ~1100-2400 kcal/day; derived from weight, so slow to change."),
    # --- vital signs ------------------------------------------------------------------
    _m("heart_rate", "beats/min", "sample", (40, 180), (20, 260), half_life=1 * HOUR,
       doc="Resting to hard exercise spans 40-180 bpm; below 20 or above ~260 a wrist reading is an artefact."),
    _m("resting_heart_rate", "beats/min", "interval", (40, 100), (20, 200), half_life=2 * DAY,
       doc="Normal resting 60-100 bpm, athletes down to 40; a daily value that is current for a day or two."),
    _m("daily_avg_heart_rate", "beats/min", "interval", (50, 110), (25, 220), half_life=1 * DAY,
       doc="Average over a day sits between resting and light activity: 50-110 bpm."),
    _m("daily_max_heart_rate", "beats/min", "interval", (90, 200), (30, 260), half_life=1 * DAY,
       doc="The day's peak ranges from brisk walking (~90) to maximal effort (~200) bpm."),
    _m("sleep_avg_heart_rate", "beats/min", "interval", (40, 80), (20, 200), half_life=1 * DAY,
       doc="Heart rate during sleep falls below resting: 40-80 bpm in healthy adults; one value per night."),
    _m("heart_rate_variability_rmssd", "ms", "sample", (15, 120), (1, 500), half_life=1 * DAY,
       doc="Adult RMSSD mostly 15-120 ms (falls with age); above ~500 ms is ectopy or artefact; nightly."),
    _m("heart_rate_variability_sdnn", "ms", "sample", (20, 200), (1, 1000), half_life=1 * DAY,
       doc="Short-term SDNN of adults is mostly 20-200 ms; values beyond 1000 ms are artefacts; nightly."),
    _m("pulse_wave_velocity", "m/s", "sample", (5, 10), (1, 30), half_life=30 * DAY,
       doc="Carotid-femoral PWV of healthy adults is 5-10 m/s; arterial stiffness changes over months."),
    _m("blood_pressure_systolic", "mmHg", "sample", (90, 140), (40, 300), half_life=7 * DAY,
       doc="Normal to stage-1 hypertension is 90-140 mmHg; cuffs do not read outside 40-300."),
    _m("blood_pressure_diastolic", "mmHg", "sample", (55, 90), (20, 200), half_life=7 * DAY,
       doc="Normal diastolic is 55-90 mmHg; cuffs do not read outside 20-200."),
    _m("oxygen_saturation", "%", "sample", (94, 100), (40, 100), half_life=1 * DAY,
       doc="Healthy SpO2 is 94-100 %; a saturation cannot exceed 100 % and oximeters stop reading near 40 %."),
    _m("respiratory_rate", "breaths/min", "sample", (10, 22), (3, 80), half_life=1 * DAY,
       doc="Adults breathe 10-22 /min at rest or asleep; outside 3-80 is not a breathing rate."),
    _m("body_temperature", "°C", "sample", (35.8, 37.8), (25, 45), half_life=6 * HOUR,
       doc="Core temperature of a healthy adult is 35.8-37.8 °C; outside 25-45 °C is not survivable."),
    _m("skin_temperature", "°C", "sample", (30, 37), (10, 45), half_life=6 * HOUR,
       doc="Wrist/finger skin runs 30-37 °C; below 10 or above 45 °C the sensor is off the body."),
    _m("skin_temperature_deviation", "°C", "interval", (-1, 1), (-10, 10), half_life=1 * DAY,
       doc="Nightly skin temperature differs from the personal baseline by under 1 °C unless ill or cycling."),
    _m("vo2_max", "mL/kg/min", "sample", (25, 60), (5, 100), half_life=30 * DAY,
       doc="Untrained to well-trained adults 25-60; the highest ever measured is ~97; fitness changes over weeks."),
    # --- metabolic --------------------------------------------------------------------
    _m("blood_glucose", "mg/dL", "sample", (70, 140), (10, 1500), half_life=30 * MINUTE,
       doc="Fasting to post-meal glucose is 70-140 mg/dL; meters read 10-600, records reach ~1500; moves in minutes."),
    _m("blood_ketones", "mg/dL", "sample", (0, 6), (0, 300), half_life=6 * HOUR,
       doc="Blood beta-hydroxybutyrate is under 0.6 mmol/L (~6 mg/dL) normally; ketoacidosis tops out near 25 mmol/L."),
    # --- activity (daily summaries) ---------------------------------------------------
    _m("step_count", "steps", "interval", (0, 20000), (0, 200000), half_life=1 * DAY,
       doc="Full days are 2,000-20,000 steps; typical from 0 as partial days arrive all day; 200,000 is ~140 km."),
    _m("distance", "m", "interval", (0, 20000), (0, 500000), half_life=1 * DAY,
       doc="Full days on foot are 1-20 km (typical from 0: partial days); 500 km/day beats any human-powered record."),
    _m("floors_climbed", "count", "interval", (0, 40), (0, 2000), half_life=1 * DAY,
       doc="Most people climb 0-40 floors a day; 2,000 floors (~6 km of ascent) is beyond any human day."),
    _m("energy_burned", "kcal", "interval", (0, 3500), (0, 20000), half_life=1 * DAY,
       doc="Full-day expenditure is 1,400-3,500 kcal (typical from 0: partial days); under 20,000 even in ultras."),
    _m("active_energy_burned", "kcal", "interval", (0, 1500), (0, 15000), half_life=1 * DAY,
       doc="Activity energy above basal is up to ~1,500 kcal a day; partial days report less."),
    _m("basal_energy_burned", "kcal", "interval", (0, 2400), (0, 6000), half_life=1 * DAY,
       doc="Resting energy over a full day equals BMR (1,100-2,400 kcal); partial days report less."),
    _m("active_duration", "s", "interval", (0, 14400), (0, DAY), half_life=1 * DAY,
       doc="Adults are active up to ~4 h a day (partial days less); a day has 86,400 s."),
    _m("stress_level", "score", "sample", (0, 50), (0, 100), half_life=1 * DAY,
       doc="Garmin-style stress 0-100: rest and low stress are 0-50; negative values are 'not measured' sentinels."),
    # --- provider scores --------------------------------------------------------------
    _m("sleep_score", "score", "interval", (60, 100), (0, 100), half_life=1 * DAY,
       doc="Provider sleep scores are 0-100; a normal night scores 60-100; one value per night."),
    _m("readiness_score", "score", "interval", (60, 100), (0, 100), half_life=1 * DAY,
       doc="Provider readiness/recovery-style scores are 0-100; typical days score 60-100."),
    _m("recovery_score", "score", "interval", (33, 100), (0, 100), half_life=1 * DAY,
       doc="Provider recovery scores are 0-100; below ~33 is the 'red' zone of WHOOP-like scales."),
    _m("activity_score", "score", "interval", (50, 100), (0, 100), half_life=1 * DAY,
       doc="Provider activity scores are 0-100; an ordinary active day scores 50-100."),
    # --- sleep ------------------------------------------------------------------------
    _m("sleep_duration", "s", "interval", (4 * HOUR, 10 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Adults sleep 4-10 h a night (7-9 h recommended); no session exceeds a day."),
    _m("sleep_deep_duration", "s", "interval", (0.5 * HOUR, 2.5 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Deep (N3) sleep is 13-23 % of a night: about 0.5-2.5 h."),
    _m("sleep_rem_duration", "s", "interval", (0.5 * HOUR, 2.5 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="REM is 20-25 % of a night: about 0.5-2.5 h."),
    _m("sleep_light_duration", "s", "interval", (2 * HOUR, 6 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Light (N1+N2) sleep is about half a night: 2-6 h."),
    _m("sleep_awake_duration", "s", "interval", (0, 1.5 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Wake after sleep onset is usually under 90 min in healthy adults."),
    _m("sleep_latency", "s", "interval", (0, 30 * MINUTE), (0, 12 * HOUR), half_life=1 * DAY,
       doc="Falling asleep takes under 30 min normally; over 12 h is not a latency."),
    _m("sleep_efficiency", "%", "interval", (75, 100), (0, 100), half_life=1 * DAY,
       doc="Asleep/in-bed is 75-100 % for good sleepers; a ratio cannot exceed 100 %."),
    _m("time_in_bed", "s", "interval", (5 * HOUR, 10 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Adults spend 5-10 h in bed a night; no session exceeds a day."),
    # --- workouts ---------------------------------------------------------------------
    _m("workout_duration", "s", "interval", (10 * MINUTE, 3 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Workouts last 10 min-3 h; over two days is a broken recording; a workout stays relevant for days."),
    _m("workout_distance", "m", "interval", (1000, 50000), (0, 1000000), half_life=3 * DAY,
       doc="Runs and rides cover 1-50 km; no single human-powered session reaches 1,000 km."),
    _m("workout_steps", "steps", "interval", (1000, 20000), (0, 300000), half_life=3 * DAY,
       doc="A walk or run takes 1,000-20,000 steps; 300,000 would be a 200+ km walk."),
    _m("workout_energy_burned", "kcal", "interval", (50, 1500), (0, 20000), half_life=3 * DAY,
       doc="A session burns 50-1,500 kcal; even multi-day ultra events stay below 20,000."),
    _m("workout_active_energy_burned", "kcal", "interval", (30, 1200), (0, 20000), half_life=3 * DAY,
       doc="Energy above basal during a session: 30-1,200 kcal for most workouts."),
    _m("workout_avg_heart_rate", "beats/min", "interval", (90, 170), (25, 250), half_life=3 * DAY,
       doc="Average heart rate over a workout is 90-170 bpm from easy to hard effort."),
    _m("workout_max_heart_rate", "beats/min", "interval", (110, 200), (30, 260), half_life=3 * DAY,
       doc="Peak workout heart rate is 110-200 bpm; above ~260 is an artefact."),
    # --- nutrition (daily totals) -----------------------------------------------------
    _m("dietary_energy", "kcal", "interval", (0, 3500), (0, 30000), half_life=1 * DAY,
       doc="Full-day intake is 1,200-3,500 kcal (typical from 0: partly logged days); 30,000 is beyond any record."),
    _m("dietary_protein", "g", "interval", (0, 200), (0, 2000), half_life=1 * DAY,
       doc="Adults eat up to ~200 g protein a day (0.8-2 g/kg); partly logged days report less."),
    _m("dietary_carbohydrates", "g", "interval", (0, 400), (0, 5000), half_life=1 * DAY,
       doc="Carbohydrate intake is up to ~400 g a day (low-carb to endurance diets); partial days less."),
    _m("dietary_fat", "g", "interval", (0, 150), (0, 3000), half_life=1 * DAY,
       doc="Fat intake is up to ~150 g a day (20-35 % of energy); partial days less."),
    _m("dietary_fiber", "g", "interval", (0, 50), (0, 500), half_life=1 * DAY,
       doc="Fibre intake is up to ~50 g a day (25-38 g recommended); partial days less."),
    _m("dietary_sugar", "g", "interval", (0, 120), (0, 2000), half_life=1 * DAY,
       doc="Total sugars are up to ~120 g a day in typical diets."),
    _m("dietary_sodium", "mg", "interval", (0, 5000), (0, 100000), half_life=1 * DAY,
       doc="Sodium intake is up to ~5 g a day (2.3 g recommended maximum); partial days less."),
    _m("dietary_caffeine", "mg", "interval", (0, 400), (0, 10000), half_life=1 * DAY,
       doc="Up to 400 mg/day is the safe-intake guideline; ~10 g is a lethal dose."),
    _m("water_intake", "mL", "interval", (0, 4000), (0, 30000), half_life=1 * DAY,
       doc="Adults drink 1-4 L a day (typical from 0 for partial days); more than 30 L a day is fatal."),
    # --- reproductive health ----------------------------------------------------------
    _m("menstrual_cycle_day", "day", "interval", (1, 35), (1, 400), half_life=1 * DAY,
       doc="Cycles run 21-35 days, so day-of-cycle is 1-35; it changes every day."),
    _m("menstrual_period_length", "day", "interval", (2, 8), (0, 90), half_life=30 * DAY,
       doc="Bleeding lasts 2-8 days; a period is re-evaluated once a cycle."),
    _m("menstrual_cycle_length", "day", "interval", (21, 35), (5, 400), half_life=30 * DAY,
       doc="Normal cycles are 21-35 days; changes cycle to cycle."),
)
# fmt: on

VOCABULARY: dict[str, MetricSpec] = {spec.name: spec for spec in _SPECS}
"""Every metric the pipeline knows, by name."""

UNITS: frozenset[str] = frozenset(spec.unit for spec in _SPECS)
"""Every canonical unit in use."""
