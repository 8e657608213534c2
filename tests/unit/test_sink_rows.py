"""Row building from records (pure)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import orjson
import pytest

from sinks.rows import (
    LATEST_COLUMNS,
    OBSERVATION_COLUMNS,
    InvalidRecord,
    latest_tuple,
    observation_row,
    user_id_of,
    validate_user_event,
)
from sinks.sample import scored, user_event

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def test_observation_row_carries_every_column() -> None:
    row = observation_row(
        scored(
            "terra:abc", "body_weight", 71.5, confidence=91.0, reliability=0.9, event_id="e1", unit="kg", device="scale"
        )
    )
    assert row.subject == "terra:abc" and row.metric == "body_weight" and row.value == 71.5
    assert row.user_id == "abc"
    assert row.level == "excellent" and row.reliability == 0.9 and row.device == "scale"
    assert orjson.loads(row.components) == {"P": 1.0, "R": 0.9}
    assert set(LATEST_COLUMNS) <= set(OBSERVATION_COLUMNS)
    assert latest_tuple(row) == tuple(getattr(row, c) for c in LATEST_COLUMNS)
    assert len(row) == len(OBSERVATION_COLUMNS)
    assert row.generation == 0


def test_rows_carry_the_scoring_generation() -> None:
    from dataclasses import replace

    row = observation_row(replace(scored("s", "body_weight", 70.0), generation=3))
    assert row.generation == 3 and latest_tuple(row)[LATEST_COLUMNS.index("generation")] == 3


def test_user_id_from_record_or_terra_subject() -> None:
    assert user_id_of("terra:u9", None) == "u9"
    assert user_id_of("alice", None) is None
    assert user_id_of("alice", "u7") == "u7"
    assert user_id_of("terra:", None) is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 100.5}, "outside 0-100"),
        ({"confidence": -1.0}, "outside 0-100"),
        ({"confidence": math.nan}, "finite"),
        ({"value": math.inf}, "finite"),
        ({"reliability": math.nan}, "finite"),
        ({"event_id": " "}, "event_id is empty"),
        ({"subject": ""}, "subject is empty"),
        ({"measured_at": datetime(2026, 1, 1)}, "time zone"),
    ],
)
def test_unstorable_records_are_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRecord, match=message):
        observation_row(scored(**kwargs))  # type: ignore[arg-type]


def test_unknown_level_is_invalid() -> None:
    rec = scored()
    bad = type(rec)(observation=rec.observation, confidence=50.0, level="meh", scored_at=rec.scored_at)
    with pytest.raises(InvalidRecord, match="level"):
        observation_row(bad)


def test_reauth_needs_old_user() -> None:
    with pytest.raises(InvalidRecord):
        validate_user_event(user_event("reauth", "new", "e1", T0))
    ev = user_event("reauth", "new", "e1", T0, old_user_id="old")
    assert validate_user_event(ev) is ev
