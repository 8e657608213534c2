"""Terra ``nutrition`` events: a day's energy, macro- and micronutrients and water intake.

The food log owns ``water_intake`` (the body event's day total is not read: one source per metric)."""

from __future__ import annotations

from ._common import span
from ._emit import Emitter
from ._values import JsonObject, number, obj, objects

_Sources = tuple[tuple[str, str], ...]
_MICROGRAMS_PER_MG = 1000.0

# metric -> where to read it, in order: (``macros`` | ``micros``, field), and the factor from
# Terra's unit to the metric's (Terra sends every vitamin in mg; µg is the customary unit).
_NUTRIENTS: tuple[tuple[str, _Sources, float], ...] = (
    ("dietary_energy", (("macros", "calories"),), 1.0),
    ("dietary_protein", (("macros", "protein_g"),), 1.0),
    ("dietary_carbohydrates", (("macros", "carbohydrates_g"),), 1.0),
    ("dietary_fat", (("macros", "fat_g"),), 1.0),
    ("dietary_saturated_fat", (("macros", "saturated_fat_g"),), 1.0),
    ("dietary_trans_fat", (("macros", "trans_fat_g"),), 1.0),
    ("dietary_cholesterol", (("macros", "cholesterol_mg"),), 1.0),
    ("dietary_fiber", (("macros", "fiber_g"),), 1.0),
    ("dietary_sugar", (("macros", "sugar_g"),), 1.0),
    ("dietary_alcohol", (("macros", "alcohol_g"),), 1.0),
    ("dietary_sodium", (("macros", "sodium_mg"), ("micros", "sodium_mg")), 1.0),
    ("dietary_caffeine", (("micros", "caffeine_mg"),), 1.0),
    ("dietary_calcium", (("micros", "calcium_mg"),), 1.0),
    ("dietary_iron", (("micros", "iron_mg"),), 1.0),
    ("dietary_potassium", (("micros", "potassium_mg"),), 1.0),
    ("dietary_magnesium", (("micros", "magnesium_mg"),), 1.0),
    ("dietary_zinc", (("micros", "zinc_mg"),), 1.0),
    ("dietary_vitamin_c", (("micros", "vitamin_C_mg"),), 1.0),
    ("dietary_vitamin_d", (("micros", "vitamin_D_mg"),), _MICROGRAMS_PER_MG),
    ("dietary_vitamin_b12", (("micros", "vitamin_B12_mg"),), _MICROGRAMS_PER_MG),
    ("dietary_folate", (("micros", "folate_mg"),), _MICROGRAMS_PER_MG),
    ("dietary_vitamin_a", (("micros", "vitamin_A_mg"),), _MICROGRAMS_PER_MG),
)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    """Daily totals from ``summary``; a total the summary lacks is summed over ``meals``.

    Food logs are typed in by people, so nutrition is ``self_reported``.
    """
    sp = span(obj(item, "metadata"), em.now)
    em.begin_item(None, None, "self_reported")
    day = sp.day_completeness
    summary = obj(item, "summary")
    meals = objects(item, "meals")
    for metric, sources, factor in _NUTRIENTS:
        value = _first(summary, sources)
        if value is None and meals:
            present = [v for v in (_first(meal, sources) for meal in meals) if v is not None]
            value = sum(present) if present else None
        em.add(metric, None if value is None else value * factor, sp.start, sp.end, day)
    if summary is not None:
        em.add("water_intake", number(summary.get("water_ml")), sp.start, sp.end, day)


def _first(container: JsonObject | None, sources: _Sources) -> float | None:
    for section, key in sources:
        part = obj(container, section)
        value = None if part is None else number(part.get(key))
        if value is not None:
            return value
    return None
