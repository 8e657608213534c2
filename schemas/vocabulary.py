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
- ``doc``: one line with the reason for the numbers;
- ``statistic``/``of``: for a descriptive statistic over a span (Open mHealth's
  ``descriptive_statistic``: ``average``, ``minimum``, ``maximum``), which one and of which
  base metric — ``daily_avg_body_weight`` is the ``average`` ``of`` ``body_weight`` over a day.
  Such a value is its own interval metric, never mixed into the base metric's samples.

Lab results (``lab.<biomarker>[<ucum unit>]``) are not listed one by one: :func:`spec_for`
gives each the generic :data:`LAB_SPEC` numbers under its own name and unit.

Changing a number here changes behaviour without code changes; keep the reason current.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
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
    statistic: Literal["average", "minimum", "maximum"] | None = None
    of: str | None = None

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
    # --- body composition and metabolism (more) ---------------------------------------
    _m("resting_metabolic_rate", "kcal/d", "sample", (1100, 2600), (300, 6000), half_life=30 * DAY,
       doc="Measured or estimated RMR sits ~10 % above BMR: 1100-2600 kcal/day for adults; as slow as BMR."),
    _m("skinfold_thickness", "mm", "sample", (5, 40), (1, 100), half_life=30 * DAY,
       doc="Caliper skinfolds read 5-40 mm at common sites; calipers open to ~60-80 mm; fat changes over weeks."),
    _m("visceral_fat_level", "level", "sample", (1, 12), (1, 59), half_life=30 * DAY,
       doc="Scale visceral-fat rating is 1-59 (Tanita/Omron scale); 1-12 is the healthy band; slow to change."),
    _m("body_water_mass", "kg", "sample", (25, 55), (5, 200), half_life=30 * DAY,
       doc="Total body water is 45-65 % of weight: 25-55 kg for most adults; bounded by body weight itself."),
    _m("insulin_dose", "IU", "sample", (0, 30), (0, 500), half_life=6 * HOUR,
       doc="One bolus or basal entry is mostly 0-30 IU; single doses above ~500 IU are not given; acts for hours."),
    _m("glucose_management_indicator", "%", "interval", (5, 7), (3, 20), half_life=7 * DAY,
       doc="GMI (estimated A1C from CGM) is 5-7 % in good control; the formula gives 3-20 % for any real glucose."),
    _m("glucose_time_in_range", "%", "interval", (70, 100), (0, 100), half_life=1 * DAY,
       doc="Share of the day at 70-180 mg/dL; consensus target > 70 %; a share cannot exceed 100 %."),
    _m("muscle_oxygen_saturation", "%", "sample", (40, 85), (0, 100), half_life=1 * HOUR,
       doc="NIRS muscle SmO2 is 40-85 % at rest to moderate work, near 0 % at exhaustion; moves in seconds."),
    # --- day activity (more) ------------------------------------------------------------
    _m("low_intensity_duration", "s", "interval", (0, 6 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Light activity fills up to ~6 h of a waking day; a day has 86,400 s."),
    _m("moderate_intensity_duration", "s", "interval", (0, 2 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="WHO asks 150-300 min of moderate activity a week: 0-2 h on most days."),
    _m("vigorous_intensity_duration", "s", "interval", (0, 1.5 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Vigorous activity is 0-90 min on most days (75-150 min/week recommended)."),
    _m("inactive_duration", "s", "interval", (0, 16 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Adults sit or lie awake 6-16 h a day; partial days report less."),
    _m("standing_duration", "s", "interval", (0, 8 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Time standing is up to ~8 h a day for most people; a day has 86,400 s."),
    _m("stand_hours", "count", "interval", (0, 16), (0, 24), half_life=1 * DAY,
       doc="Hours with at least one minute standing (Apple's stand hours): 0-16 typical, at most 24 in a day."),
    _m("elevation_gain", "m", "interval", (0, 300), (0, 20000), half_life=1 * DAY,
       doc="Everyday ascent is 0-300 m; 20 km of climbing in a day is beyond any human record (~ 10 km)."),
    _m("elevation_loss", "m", "interval", (0, 300), (0, 20000), half_life=1 * DAY,
       doc="Descent mirrors ascent over a day: 0-300 m typical, 20 km beyond any record."),
    _m("stress_duration", "s", "interval", (0, 8 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Garmin-style time in any stressed state: a few hours on ordinary days; at most a day."),
    _m("body_battery", "score", "sample", (5, 100), (0, 100), half_life=6 * HOUR,
       doc="Garmin Body Battery runs 5-100 through a day; drains and charges within hours."),
    _m("day_strain", "score", "interval", (4, 18), (0, 21), half_life=1 * DAY,
       doc="WHOOP day strain is 0-21 (logarithmic); ordinary days score 4-18; one value per day."),
    # --- sleep (more) ---------------------------------------------------------------------
    _m("sleep_awakenings", "count", "interval", (0, 15), (0, 200), half_life=1 * DAY,
       doc="Adults wake briefly 0-15 times a night that devices detect; hundreds is a sensor fault."),
    _m("snoring_duration", "s", "interval", (0, 2 * HOUR), (0, DAY), half_life=1 * DAY,
       doc="Snoring fills 0-2 h of most nights (habitual snorers more); no session exceeds a day."),
    _m("snoring_events", "count", "interval", (0, 100), (0, 5000), half_life=1 * DAY,
       doc="Detected snoring episodes are 0-100 a night; thousands is microphone noise."),
    _m("sleep_recovery_level", "level", "interval", (3, 6), (1, 6), half_life=1 * DAY,
       doc="Terra RecoveryLevel 1 (very poor) - 6 (very good), 0 = unknown is no value; normal nights 3-6."),
    # --- workouts (more) ------------------------------------------------------------------
    _m("workout_heart_rate", "beats/min", "sample", (90, 190), (25, 260), half_life=3 * DAY,
       doc="Heart rate during exercise: 90-190 bpm from easy to maximal; it describes the workout, not the day."),
    _m("workout_heart_rate_variability_rmssd", "ms", "sample", (2, 40), (1, 500), half_life=3 * DAY,
       doc="RMSSD collapses under load (2-40 ms); not the nightly RMSSD whose bounds and half-life differ."),
    _m("workout_heart_rate_variability_sdnn", "ms", "sample", (5, 80), (1, 1000), half_life=3 * DAY,
       doc="SDNN during exercise is 5-80 ms, far below resting values; kept apart from the nightly series."),
    _m("workout_oxygen_saturation", "%", "sample", (90, 100), (40, 100), half_life=3 * DAY,
       doc="SpO2 during exercise stays 90-100 % (lower at altitude); a saturation cannot exceed 100 %."),
    _m("workout_vo2", "mL/kg/min", "sample", (10, 60), (3, 100), half_life=3 * DAY,
       doc="Oxygen uptake during exercise: 10-60 mL/kg/min (3.5 at rest, ~97 the highest ever measured)."),
    _m("workout_min_heart_rate", "beats/min", "interval", (50, 120), (20, 250), half_life=3 * DAY,
       doc="The lowest heart rate of a session (warm-up, pauses) is 50-120 bpm."),
    _m("workout_avg_oxygen_saturation", "%", "interval", (92, 100), (40, 100), half_life=3 * DAY,
       doc="Average SpO2 over a session stays 92-100 % at sea level."),
    _m("workout_avg_muscle_oxygen_saturation", "%", "interval", (30, 80), (0, 100), half_life=3 * DAY,
       doc="Average muscle SmO2 over a session is 30-80 % (NIRS); 0-100 % is the scale."),
    _m("workout_moving_duration", "s", "interval", (10 * MINUTE, 3 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Moving time is the workout minus pauses: 10 min-3 h, bounded like the workout duration."),
    _m("workout_elevation_gain", "m", "interval", (0, 1500), (0, 20000), half_life=3 * DAY,
       doc="Rides and runs climb 0-1500 m; 20 km of ascent in one session is beyond any record."),
    _m("workout_elevation_loss", "m", "interval", (0, 1500), (0, 20000), half_life=3 * DAY,
       doc="Descent mirrors ascent: 0-1500 m typical, 20 km beyond any record."),
    _m("workout_floors_climbed", "count", "interval", (0, 30), (0, 2000), half_life=3 * DAY,
       doc="A session climbs 0-30 floors (stair workouts more); 2,000 floors is ~6 km of ascent."),
    _m("workout_avg_power", "W", "interval", (80, 350), (0, 2500), half_life=3 * DAY,
       doc="Average cycling/rowing power is 80-350 W; elite sprints peak near 2,500 W, no average can exceed it."),
    _m("workout_max_power", "W", "interval", (200, 1200), (0, 2500), half_life=3 * DAY,
       doc="Peak power of a session is 200-1,200 W; track sprinters reach ~2,500 W."),
    _m("workout_power", "W", "sample", (0, 500), (0, 2500), half_life=3 * DAY,
       doc="Instantaneous power is 0-500 W for most riders; above 2,500 W is a meter fault."),
    _m("workout_avg_cadence", "/min", "interval", (60, 180), (0, 300), half_life=3 * DAY,
       doc="Cycling cadence 60-100 rpm, running 150-180 steps/min; above 300 /min is a sensor fault."),
    _m("workout_max_cadence", "/min", "interval", (80, 220), (0, 300), half_life=3 * DAY,
       doc="Peak cadence of a session is 80-220 /min; above 300 is a sensor fault."),
    _m("workout_cadence", "/min", "sample", (0, 190), (0, 300), half_life=3 * DAY,
       doc="Instantaneous cadence 0-190 /min (0 when coasting); above 300 is a sensor fault."),
    _m("workout_avg_speed", "m/s", "interval", (1, 12), (0, 100), half_life=3 * DAY,
       doc="Walking to cycling averages 1-12 m/s; no human-powered session averages 100 m/s (360 km/h)."),
    _m("workout_max_speed", "m/s", "interval", (2, 25), (0, 100), half_life=3 * DAY,
       doc="Peak speeds are 2-25 m/s (descending on a bike ~25); 100 m/s is a GPS glitch."),
    _m("workout_speed", "m/s", "sample", (0, 15), (0, 100), half_life=3 * DAY,
       doc="Instantaneous speed 0-15 m/s for most sessions; 100 m/s is a GPS glitch."),
    _m("workout_heart_rate_zone_0_duration", "s", "interval", (0, 3 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in Terra zone 0 (resting) during a session: 0-3 h, bounded like the workout."),
    _m("workout_heart_rate_zone_1_duration", "s", "interval", (0, 3 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in zone 1 (very light): up to the whole session, bounded like the workout."),
    _m("workout_heart_rate_zone_2_duration", "s", "interval", (0, 3 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in zone 2 (light, the endurance zone): up to the whole session."),
    _m("workout_heart_rate_zone_3_duration", "s", "interval", (0, 2 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in zone 3 (moderate): usually under 2 h."),
    _m("workout_heart_rate_zone_4_duration", "s", "interval", (0, 1 * HOUR), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in zone 4 (hard): usually under an hour."),
    _m("workout_heart_rate_zone_5_duration", "s", "interval", (0, 20 * MINUTE), (0, 2 * DAY), half_life=3 * DAY,
       doc="Time in zone 5 (maximal) is minutes: few can hold it beyond ~20 min."),
    _m("workout_strain", "score", "interval", (4, 18), (0, 21), half_life=3 * DAY,
       doc="WHOOP activity strain 0-21 (logarithmic); typical sessions score 4-18."),
    _m("workout_work", "kJ", "interval", (100, 3000), (0, 30000), half_life=3 * DAY,
       doc="Mechanical work from a power meter: 100-3,000 kJ a ride (~ kcal burned); 30,000 kJ beats any record."),
    _m("workout_swim_laps", "count", "interval", (10, 120), (0, 5000), half_life=3 * DAY,
       doc="A pool session is 10-120 lengths; 5,000 (125 km in a 25 m pool) is beyond any record."),
    _m("workout_swim_strokes", "count", "interval", (200, 3000), (0, 200000), half_life=3 * DAY,
       doc="Strokes per session are ~15-20 per length: 200-3,000; 200,000 is beyond any swim."),
    # --- nutrition (more daily totals) -----------------------------------------------------
    _m("dietary_saturated_fat", "g", "interval", (0, 40), (0, 1000), half_life=1 * DAY,
       doc="Saturated fat is up to ~40 g a day (< 10 % of energy recommended); partial days less."),
    _m("dietary_trans_fat", "g", "interval", (0, 5), (0, 200), half_life=1 * DAY,
       doc="Trans fat is 0-5 g a day in current diets (as low as possible recommended)."),
    _m("dietary_cholesterol", "mg", "interval", (0, 400), (0, 10000), half_life=1 * DAY,
       doc="Dietary cholesterol is up to ~400 mg a day (an egg has ~190 mg)."),
    _m("dietary_alcohol", "g", "interval", (0, 40), (0, 1000), half_life=1 * DAY,
       doc="0-40 g ethanol a day (a standard drink is 10-14 g); ~1 kg is far past a lethal dose."),
    _m("dietary_calcium", "mg", "interval", (0, 1500), (0, 20000), half_life=1 * DAY,
       doc="Calcium intake is up to ~1,500 mg a day (1,000-1,200 recommended); partial days less."),
    _m("dietary_iron", "mg", "interval", (0, 30), (0, 2000), half_life=1 * DAY,
       doc="Iron intake is up to ~30 mg a day (8-18 mg recommended; 45 mg upper limit)."),
    _m("dietary_potassium", "mg", "interval", (0, 5000), (0, 50000), half_life=1 * DAY,
       doc="Potassium intake is up to ~5 g a day (3.4 g recommended for men)."),
    _m("dietary_magnesium", "mg", "interval", (0, 600), (0, 20000), half_life=1 * DAY,
       doc="Magnesium intake is up to ~600 mg a day (310-420 mg recommended)."),
    _m("dietary_zinc", "mg", "interval", (0, 25), (0, 2000), half_life=1 * DAY,
       doc="Zinc intake is up to ~25 mg a day (8-11 mg recommended; 40 mg upper limit)."),
    _m("dietary_vitamin_c", "mg", "interval", (0, 500), (0, 50000), half_life=1 * DAY,
       doc="Vitamin C is up to ~500 mg a day with fruit or a supplement (75-90 mg recommended)."),
    _m("dietary_vitamin_d", "µg", "interval", (0, 50), (0, 10000), half_life=1 * DAY,
       doc="Vitamin D is 0-50 µg a day (15-20 µg recommended, 100 µg upper limit); Terra sends mg (x1000)."),
    _m("dietary_vitamin_b12", "µg", "interval", (0, 20), (0, 100000), half_life=1 * DAY,
       doc="B12 is up to ~20 µg a day from food (2.4 µg recommended); supplements reach 1,000+ µg."),
    _m("dietary_folate", "µg", "interval", (0, 1000), (0, 100000), half_life=1 * DAY,
       doc="Folate is up to ~1,000 µg a day (400 µg recommended); Terra sends mg (x1000)."),
    _m("dietary_vitamin_a", "µg", "interval", (0, 3000), (0, 300000), half_life=1 * DAY,
       doc="Vitamin A is up to ~3,000 µg RAE a day (700-900 recommended, 3,000 upper limit)."),
)


def _stat(
    name: str,
    statistic: Literal["average", "minimum", "maximum"],
    of: str,
    *,
    doc: str,
    typical: tuple[float, float] | None = None,
    half_life: float | None = None,
) -> MetricSpec:
    """A descriptive statistic of ``of`` over a span: its unit and hard bounds, its own metric."""
    base = next(spec for spec in _SPECS if spec.name == of)
    lo, hi = typical if typical is not None else (base.typical_low, base.typical_high)
    life = half_life if half_life is not None else max(base.half_life_s, DAY)
    return MetricSpec(name, base.unit, "interval", lo, hi, base.hard_low, base.hard_high, life, doc, statistic, of)


_STATISTICS: tuple[MetricSpec, ...] = (
    _stat("daily_avg_body_weight", "average", "body_weight", half_life=14 * DAY,
          doc="Average of the day's weighings: the weight bounds; stale as slowly as weight itself."),
    _stat("daily_avg_body_fat_percentage", "average", "body_fat_percentage", half_life=30 * DAY,
          doc="Average of the day's fat readings: same bounds and pace as single readings."),
    _stat("daily_avg_body_mass_index", "average", "body_mass_index", half_life=30 * DAY,
          doc="Average of the day's BMI values: same bounds and pace as single values."),
    _stat("daily_avg_blood_pressure_systolic", "average", "blood_pressure_systolic", half_life=7 * DAY,
          doc="Average of the day's cuff readings: the cuff bounds; a week's half-life like single readings."),
    _stat("daily_avg_blood_pressure_diastolic", "average", "blood_pressure_diastolic", half_life=7 * DAY,
          doc="Average of the day's diastolic readings: the cuff bounds; a week's half-life."),
    _stat("daily_avg_blood_glucose", "average", "blood_glucose", typical=(70, 154),
          doc="Mean glucose of a day: 70-154 mg/dL (154 = A1C 7 %); a day's mean is current for a day."),
    _stat("daily_avg_blood_ketones", "average", "blood_ketones",
          doc="Average of the day's blood ketone readings: same bounds as single readings."),
    _stat("daily_avg_body_temperature", "average", "body_temperature",
          doc="Average core temperature of a day: the bounds of a reading; current for a day."),
    _stat("daily_avg_skin_temperature", "average", "skin_temperature",
          doc="Average skin temperature of a day: the bounds of a reading; current for a day."),
    _stat("daily_avg_oxygen_saturation", "average", "oxygen_saturation", typical=(95, 100),
          doc="Average SpO2 of a day: 95-100 % in health (an average hides dips); current for a day."),
    _stat("daily_avg_muscle_oxygen_saturation", "average", "muscle_oxygen_saturation",
          doc="Average SmO2 reported for a day (only when every sample says muscle): the SmO2 bounds."),
    _stat("daily_avg_vo2_max", "average", "vo2_max", half_life=30 * DAY,
          doc="Day average of VO2max estimates: the VO2max bounds; fitness changes over weeks."),
    _stat("daily_avg_heart_rate_variability_rmssd", "average", "heart_rate_variability_rmssd",
          doc="A day's average RMSSD (day and night readings): the RMSSD bounds; current for a day."),
    _stat("daily_avg_heart_rate_variability_sdnn", "average", "heart_rate_variability_sdnn",
          doc="A day's average SDNN: the SDNN bounds; current for a day."),
    _stat("daily_min_heart_rate", "minimum", "heart_rate", typical=(35, 75),
          doc="The day's lowest heart rate is usually asleep: 35-75 bpm; one value per day."),
    _stat("daily_avg_stress_level", "average", "stress_level", typical=(10, 50),
          doc="Garmin-style average stress of a day is 10-50 (rest to medium); one value per day."),
    _stat("daily_max_stress_level", "maximum", "stress_level", typical=(40, 100),
          doc="The day's peak stress reaches 40-100 on ordinary days; one value per day."),
    _stat("sleep_min_heart_rate", "minimum", "heart_rate", typical=(35, 70),
          doc="The lowest heart rate of a night is 35-70 bpm in healthy adults (athletes lower)."),
    _stat("sleep_max_heart_rate", "maximum", "heart_rate", typical=(55, 110),
          doc="The highest heart rate of a night (arousals, REM) is 55-110 bpm."),
    _stat("sleep_resting_heart_rate", "minimum", "heart_rate", typical=(38, 80),
          doc="Resting HR measured during sleep (Oura/WHOOP style): 38-80 bpm; one value per night."),
    _stat("sleep_avg_heart_rate_variability_rmssd", "average", "heart_rate_variability_rmssd",
          doc="The night's average RMSSD: the nightly HRV most devices report; the RMSSD bounds."),
    _stat("sleep_avg_heart_rate_variability_sdnn", "average", "heart_rate_variability_sdnn",
          doc="The night's average SDNN: the SDNN bounds; one value per night."),
    _stat("sleep_avg_respiratory_rate", "average", "respiratory_rate", typical=(11, 20),
          doc="Average breathing rate asleep is 11-20 /min; one value per night."),
    _stat("sleep_min_respiratory_rate", "minimum", "respiratory_rate", typical=(8, 16),
          doc="The night's lowest breathing rate is 8-16 /min."),
    _stat("sleep_max_respiratory_rate", "maximum", "respiratory_rate", typical=(14, 28),
          doc="The night's highest breathing rate is 14-28 /min (arousals)."),
    _stat("sleep_avg_oxygen_saturation", "average", "oxygen_saturation", typical=(93, 100),
          doc="Average SpO2 asleep is 93-100 % (a few points below daytime); one value per night."),
)

LAB_SPEC = MetricSpec(
    "lab", "", "sample", -1e9, 1e9, -1e12, 1e12, 180 * DAY,
    "Lab results carry their own reference range and flag: no per-biomarker bounds here (the range is "
    "the plausibility evidence); a lab value is current for months (tests are repeated yearly at most).",
)
"""The numbers every ``lab.<biomarker>[<unit>]`` metric shares (see :func:`spec_for`)."""
# fmt: on

_EARLIER_STATISTICS: dict[str, tuple[Literal["average", "minimum", "maximum"], str]] = {
    "daily_avg_heart_rate": ("average", "heart_rate"),
    "daily_max_heart_rate": ("maximum", "heart_rate"),
    "sleep_avg_heart_rate": ("average", "heart_rate"),
    "workout_avg_heart_rate": ("average", "workout_heart_rate"),
    "workout_max_heart_rate": ("maximum", "workout_heart_rate"),
    "workout_min_heart_rate": ("minimum", "workout_heart_rate"),
}
"""Statistics named before ``statistic``/``of`` existed: their numbers stay as they are."""

VOCABULARY: dict[str, MetricSpec] = {
    spec.name: replace(spec, statistic=_EARLIER_STATISTICS[spec.name][0], of=_EARLIER_STATISTICS[spec.name][1])
    if spec.name in _EARLIER_STATISTICS
    else spec
    for spec in (*_SPECS, *_STATISTICS)
}
"""Every metric the pipeline knows, by name (lab results aside: see :func:`spec_for`)."""

UNITS: frozenset[str] = frozenset(spec.unit for spec in VOCABULARY.values())
"""Every canonical unit in use."""

LAB_PREFIX = "lab."


def lab_metric(biomarker: str, unit: str) -> str:
    """``lab.<biomarker>[<unit>]``: one metric per biomarker and unit, so a history never mixes
    mmol/L with mg/dL (labs differ; converting would need the analyte's molar mass)."""
    return f"{LAB_PREFIX}{biomarker}[{unit}]"


@lru_cache(maxsize=4096)
def spec_for(metric: str) -> MetricSpec | None:
    """The spec of a vocabulary metric or of a lab metric (:data:`LAB_SPEC` under its name and
    unit); ``None`` for anything else."""
    spec = VOCABULARY.get(metric)
    if spec is not None:
        return spec
    if metric.startswith(LAB_PREFIX) and metric.endswith("]") and "[" in metric:
        unit = metric[metric.index("[") + 1 : -1]
        if len(metric) > len(LAB_PREFIX) + 2 + len(unit):
            return replace(LAB_SPEC, name=metric, unit=unit)
    return None
