"""Terra ``menstruation`` events: cycle day, period and cycle length for a day."""

from __future__ import annotations

from ._common import fields, span
from ._emit import Emitter
from ._values import JsonObject, obj

_CYCLE = (
    ("day_in_cycle", "menstrual_cycle_day"),
    ("period_length_days", "menstrual_period_length"),
    ("cycle_length_days", "menstrual_cycle_length"),
)


def normalize_item(em: Emitter, item: JsonObject) -> None:
    """Cycle values describe the state of the day, not an accumulation over it, so a day
    still in progress is complete for them (completeness 1)."""
    sp = span(obj(item, "metadata"), em.now)
    em.begin_item(None, None, "unknown")
    fields(em, obj(item, "menstruation_data"), _CYCLE, sp, 1.0)
