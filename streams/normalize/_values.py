"""Safe coercion of JSON values: numbers, times, nested objects, unit conversions.

Every reader returns ``None`` (or an empty tuple) for anything that is not the expected
JSON type, so a wrong type in one field drops that value and nothing else. The checks
are plain ``type(...) is`` tests: they run once per value on the hot path.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any, Final

JsonObject = dict[str, Any]

DAY: Final = timedelta(days=1)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)

# --- unit conversions (Terra unit -> canonical unit) -------------------------------------
GRAMS_PER_KG: Final = 1000.0
KJ_PER_KCAL: Final = 4.184
MG_DL_PER_MMOL_L_GLUCOSE: Final = 18.0182


def grams_to_kg(grams: float) -> float:
    return grams / GRAMS_PER_KG


def kg_to_grams(kg: float) -> float:
    return kg * GRAMS_PER_KG


def kilojoules_to_kcal(kj: float) -> float:
    return kj / KJ_PER_KCAL


def kcal_to_kilojoules(kcal: float) -> float:
    return kcal * KJ_PER_KCAL


def glucose_mmol_l_to_mg_dl(mmol_l: float) -> float:
    return mmol_l * MG_DL_PER_MMOL_L_GLUCOSE


def glucose_mg_dl_to_mmol_l(mg_dl: float) -> float:
    return mg_dl / MG_DL_PER_MMOL_L_GLUCOSE


# --- JSON readers -------------------------------------------------------------------------
def number(value: object) -> float | None:
    """A finite JSON number as float; ``None`` for bools, strings, NaN, infinities, null."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int) and not isinstance(value, bool):
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def num(obj: JsonObject, key: str) -> float | None:
    return number(obj.get(key))


def obj(parent: JsonObject | None, key: str) -> JsonObject | None:
    """The nested object at ``key``, or ``None`` when missing or not an object."""
    if parent is None:
        return None
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def objects(parent: JsonObject | None, key: str) -> list[JsonObject]:
    """The objects of the array at ``key``; non-object items are skipped."""
    if parent is None:
        return []
    value = parent.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict)]


def text(value: object, limit: int = 200) -> str | None:
    """A non-empty string (trimmed, at most ``limit`` characters), else ``None``."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if not stripped:
        return None
    return stripped[:limit]


def parse_local(value: object) -> datetime | None:
    """An ISO-8601 timestamp as given (offset kept; naive stays naive), or ``None``."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def to_utc(local: datetime | None) -> datetime | None:
    """``local`` as an aware UTC datetime (naive means UTC); ``None`` if not representable."""
    if local is None:
        return None
    if local.tzinfo is None:
        return local.replace(tzinfo=UTC)
    try:
        return local.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def parse_time(value: object) -> datetime | None:
    """An ISO-8601 timestamp (``Z``, offsets, naive = UTC) as aware UTC, else ``None``."""
    return to_utc(parse_local(value))


def day_fraction(start: datetime | None, end: datetime | None, now: datetime | None = None) -> float:
    """Covered fraction of a nominal 24 h day, from the wall-clock times as sent.

    Per Terra's schema a day runs from its ``start_time`` to ``end_time`` = the next midnight
    (Terra's own examples send 00:00 -> 00:00), also while the day is still in progress: the
    covered part ends at ``now`` (when the payload was sent) if that comes first. Wall-clock
    (offset-free) times make a DST day whose end is the next local midnight count as complete.
    """
    if start is None or end is None:
        return 1.0
    end_wall = end.replace(tzinfo=None)
    if now is not None:
        now_wall = now.astimezone(end.tzinfo if end.tzinfo is not None else UTC).replace(tzinfo=None)
        end_wall = min(end_wall, now_wall)
    covered = end_wall - start.replace(tzinfo=None)
    fraction = covered / DAY
    if fraction <= 0.0:
        return 0.0
    return 1.0 if fraction >= 1.0 else fraction


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def birth_year(value: object) -> int | None:
    """The year of an ISO date (``1999-11-23``), nothing else of it."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    head = value[:4]
    if not head.isascii() or not head.isdigit():
        return None
    if len(value) > 4 and value[4] != "-":
        return None
    year = int(head)
    return year if 1850 <= year <= 2200 else None


# --- Terra upload types -------------------------------------------------------------------
# UploadType.yaml (activity, daily): 0 Unknown, 1 Automatic, 2 Manual, 3 Update, 4 Delete,
# 5 Pending, 6 Third party upload.
UPLOAD_TYPES: Final[dict[int, tuple[str, str]]] = {
    0: ("UNKNOWN", "unknown"),
    1: ("AUTOMATIC", "sensed"),
    2: ("MANUAL", "self_reported"),
    3: ("UPDATE", "sensed"),
    4: ("DELETE", "unknown"),
    5: ("PENDING", "unknown"),
    6: ("THIRD_PARTY_UPLOAD", "sensed"),
}
# SleepUploadType.yaml numbers differ: 0 Unknown, 1 Manual, 2 Automatic, 3 Tentative,
# 4 Indeterminate.
SLEEP_UPLOAD_TYPES: Final[dict[int, tuple[str, str]]] = {
    0: ("UNKNOWN", "unknown"),
    1: ("MANUAL", "self_reported"),
    2: ("AUTOMATIC", "sensed"),
    3: ("TENTATIVE", "sensed"),
    4: ("INDETERMINATE", "unknown"),
}
UPLOAD_DELETE: Final = "DELETE"


def upload_type(value: object, table: dict[int, tuple[str, str]]) -> tuple[str | None, str]:
    """(enum name, provenance) for an upload-type code; names are accepted too."""
    code: int | None = None
    if isinstance(value, bool):
        return None, "unknown"
    if isinstance(value, int):
        code = value
    elif isinstance(value, float) and value.is_integer():
        code = int(value)
    elif isinstance(value, str):
        wanted = value.strip().upper().replace(" ", "_")
        for name, provenance in table.values():
            if name == wanted:
                return name, provenance
        return None, "unknown"
    if code is None or code not in table:
        return None, "unknown"
    return table[code]
