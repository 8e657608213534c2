"""Turning consumed messages into rows (pure: works on anything shaped like a Kafka message)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from schemas.codec import Codec
from schemas.records import QualityDaily, ScoredObservation, UserEvent
from sinks.deadletter import header_value
from sinks.rows import ObservationRow, QualityRow, observation_row, quality_row, validate_user_event

SCORED, USERS, QUALITY = "metrics.scored", "users", "metrics.quality_daily"
TOPICS: tuple[str, ...] = (SCORED, USERS, QUALITY)
EXPECTED: dict[str, type] = {SCORED: ScoredObservation, USERS: UserEvent, QUALITY: QualityDaily}


class MessageLike(Protocol):
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


Row = ObservationRow | UserEvent | QualityRow


@dataclass(slots=True)
class Inbound:
    """One consumed message: its row, or why it cannot be stored, or nothing to do (a tombstone)."""

    msg: Any
    short_topic: str
    row: Row | None = None
    error: BaseException | None = None
    event_id: str | None = None

    @property
    def replayed(self) -> bool:
        return header_value(self.msg.headers(), "vs.replay.of") is not None


def decode(msg: MessageLike, codec: Codec, prefix: str) -> Inbound:
    topic = msg.topic() or ""
    short = topic.removeprefix(prefix)
    item = Inbound(msg=msg, short_topic=short)
    value = msg.value()
    if value is None:  # tombstone on a compacted topic: nothing to store
        return item
    try:
        record = codec.decode(value)
        expected = EXPECTED.get(short)
        if expected is None or not isinstance(record, expected):
            raise TypeError(f"{topic} carries {type(record).__name__}, expected {getattr(expected, '__name__', '?')}")
        if isinstance(record, ScoredObservation):
            item.event_id = record.observation.event_id
            item.row = observation_row(record)
        elif isinstance(record, UserEvent):
            item.event_id = record.event_id
            item.row = validate_user_event(record)
        else:
            assert isinstance(record, QualityDaily)
            item.row = quality_row(record)
    except Exception as exc:  # every decode/validation failure is permanent
        item.error = exc
    return item
