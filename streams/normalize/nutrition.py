"""Terra ``nutrition`` events: a day's energy, macronutrients and water intake."""

from __future__ import annotations

from ._common import span
from ._emit import Emitter
from ._values import JsonObject, number, obj, objects

_Sources = tuple[tuple[str, str], ...]

# metric -> where to read it, in order: (``macros`` | ``micros``, field).
_NUTRIENTS: tuple[tuple[str, _Sources], ...] = (
    ("dietary_energy", (("macros", "calories"),)),
    ("dietary_protein", (("macros", "protein_g"),)),
    ("dietary_carbohydrates", (("macros", "carbohydrates_g"),)),
    ("dietary_fat", (("macros", "fat_g"),)),
    ("dietary_fiber", (("macros", "fiber_g"),)),
    ("dietary_sugar", (("macros", "sugar_g"),)),
    ("dietary_sodium", (("macros", "sodium_mg"), ("micros", "sodium_mg"))),
    ("dietary_caffeine", (("micros", "caffeine_mg"),)),
)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    """Daily totals from ``summary``; a total the summary lacks is summed over ``meals``.

    Food logs are typed in by people, so nutrition is ``self_reported``.
    """
    sp = span(obj(item, "metadata"))
    em.begin_item(None, None, "self_reported")
    day = sp.day_completeness
    summary = obj(item, "summary")
    meals = objects(item, "meals")
    for metric, sources in _NUTRIENTS:
        value = _first(summary, sources)
        if value is None and meals:
            present = [v for v in (_first(meal, sources) for meal in meals) if v is not None]
            value = sum(present) if present else None
        em.add(metric, value, sp.start, sp.end, day)
    if summary is not None:
        em.add("water_intake", number(summary.get("water_ml")), sp.start, sp.end, day)


def _first(container: JsonObject | None, sources: _Sources) -> float | None:
    for section, key in sources:
        part = obj(container, section)
        value = None if part is None else number(part.get(key))
        if value is not None:
            return value
    return None
