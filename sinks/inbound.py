"""Turning consumed messages into rows (pure: works on anything shaped like a Kafka message).

``metrics.scored`` records in the codec's default framing take the fast reader of
:mod:`sinks.fastdecode`; everything else goes through :class:`schemas.codec.Codec`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from schemas import deadletter as D
from schemas.codec import Codec
from schemas.records import BackfillJob, EventOutcome, ScoredObservation, UserEvent
from sinks.fastdecode import ScoredReader
from sinks.jobs import JobRow, job_row
from sinks.outcomes import OutcomeRow, outcome_row
from sinks.rows import ObservationRow, observation_row, validate_user_event

SCORED, USERS, LEDGER, JOBS = "metrics.scored", "users", "events.ledger", "backfill.jobs"
TOPICS: tuple[str, ...] = (SCORED, USERS, LEDGER, JOBS)
EXPECTED: dict[str, type] = {SCORED: ScoredObservation, USERS: UserEvent, LEDGER: EventOutcome, JOBS: BackfillJob}


class MessageLike(Protocol):
    def topic(self) -> str | None: ...
    def partition(self) -> int | None: ...
    def offset(self) -> int | None: ...
    def key(self) -> bytes | None: ...
    def value(self) -> bytes | None: ...
    def headers(self) -> list[tuple[str, bytes]] | None: ...
    def timestamp(self) -> tuple[int, int]: ...


Row = ObservationRow | UserEvent | OutcomeRow | JobRow


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
        return D.header_value(self.msg.headers(), D.REPLAY_OF) is not None


def decode(msg: MessageLike, codec: Codec, prefix: str, reader: ScoredReader | None = None) -> Inbound:
    topic = msg.topic() or ""
    short = topic.removeprefix(prefix)
    item = Inbound(msg=msg, short_topic=short)
    value = msg.value()
    if value is None:  # tombstone on a compacted topic: nothing to store
        return item
    if reader is not None and short == SCORED and reader.accepts(value):
        try:
            row = reader.read(value)
        except Exception:  # noqa: S110 - the generic path below names the failure (and finds the event id)
            pass
        else:
            item.event_id, item.row = row.event_id, row
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
        elif isinstance(record, BackfillJob):
            item.row = job_row(record)
        else:
            assert isinstance(record, EventOutcome)
            item.event_id = record.event_id
            item.row = outcome_row(record, msg.offset() or 0)
    except Exception as exc:  # every decode/validation failure is permanent
        item.error = exc
    return item
