"""Daily data-quality aggregate per (UTC day, metric, provider): pure helpers.

Observations of one (day, metric, provider) are scored on every partition of
``metrics.normalized`` (keyed by subject), so the score agent cannot own the aggregate:
it sends *deltas* keyed ``day|metric|provider`` to an internal topic and the quality agent
folds them into its table and publishes the current :class:`QualityDaily`.

Exactly-once counting without transactions: each delta names the ``metrics.normalized``
partition its observations came from and carries one entry per observation with that
record's offset; the aggregate keeps the highest applied offset per source partition and
skips entries at or below it. A score batch that is processed again after a crash (same
offsets) therefore adds nothing, however the batches are cut the second time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import orjson

from schemas.records import QualityDaily

LEVELS = ("excellent", "good", "fair", "poor")
_LEVEL_INDEX = {name: i for i, name in enumerate(LEVELS)}


def quality_key(measured_at: datetime, metric: str, provider: str) -> str:
    day = measured_at.astimezone(UTC).date() if measured_at.tzinfo else measured_at.date()
    return f"{day.isoformat()}|{metric}|{provider}"


def encode_delta(source_partition: int, entries: Sequence[tuple[int, float, str]]) -> bytes:
    """entries: (source offset, confidence, level), in any order: they are written in offset order.

    A score batch collects entries per subject and metric, so one key's entries come out of
    offset order whenever a subject appears twice in a batch; :func:`apply_delta` skips every
    entry at or below the highest offset seen, so an unsorted delta would drop observations.
    """
    ordered = sorted(entries, key=lambda entry: entry[0])
    return orjson.dumps({"p": source_partition, "e": [[o, c, _LEVEL_INDEX.get(lv, 3)] for o, c, lv in ordered]})


def decode_delta(data: bytes) -> tuple[int, list[tuple[int, float, int]]]:
    doc = orjson.loads(data)
    return int(doc["p"]), [(int(o), float(c), int(li)) for o, c, li in doc["e"]]


def empty_state() -> dict[str, Any]:
    return {"n": 0, "s": 0.0, "l": [0, 0, 0, 0], "w": {}}


def apply_delta(
    state: Mapping[str, Any] | None, source_partition: int, entries: Sequence[tuple[int, float, int]]
) -> tuple[dict[str, Any], int]:
    """Fold ``entries`` into a copy of ``state``; returns (new state, entries applied)."""
    base = empty_state() if state is None else state
    count = int(base["n"])
    total = float(base["s"])
    levels = [int(x) for x in base["l"]]
    marks = {str(k): int(v) for k, v in base["w"].items()}
    mark_key = str(source_partition)
    mark = marks.get(mark_key, -1)
    applied = 0
    for offset, confidence, level in entries:
        if offset <= mark:
            continue
        count += 1
        total += confidence
        levels[level if 0 <= level < 4 else 3] += 1
        mark = offset
        applied += 1
    marks[mark_key] = mark
    return {"n": count, "s": total, "l": levels, "w": marks}, applied


def to_record(key: str, state: Mapping[str, Any], generation: int = 0) -> QualityDaily:
    day, metric, provider = key.split("|", 2)
    lv = state["l"]
    return QualityDaily(
        day=date.fromisoformat(day),
        metric=metric,
        provider=provider,
        count=int(state["n"]),
        confidence_sum=round(float(state["s"]), 4),
        excellent=int(lv[0]),
        good=int(lv[1]),
        fair=int(lv[2]),
        poor=int(lv[3]),
        generation=generation,
    )
