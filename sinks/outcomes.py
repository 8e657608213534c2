"""The event ledger (``events.ledger`` → ``ingested_events``): rows and the in-batch rule.

Which outcome an event id ends with (design §10.2):

- The worker's ledger is the source of truth for event outcomes. Its records are keyed by
  event id, so all records of one event sit in one partition, in order; the latest by
  (``at``, then offset) wins. ``ingested_events`` keeps the (``at``, offset) of the record it
  applied (``outcome_at``, ``ledger_offset``) and takes a record only when it is strictly
  later and says something else (a re-sent duplicate at a new offset is not news), so
  redelivering or replaying the ledger from the earliest offset changes nothing.
- The sink's own dead letters (stage ``sink``) stand: no ledger record overrides them. Only
  the sink's own DLQ replay path (a ``metrics.scored`` record carrying ``vs.replay.of``
  that now succeeds) turns them into ``processed``.
- Decision on the ``metrics.scored`` / ``users`` path: the sink still writes ``processed``
  (or ``ignored``, for a purged user or an unknown lifecycle kind) for the event ids it
  stores, but only *provisionally*: such a row is inserted when absent and may be upgraded
  (ignored → processed) only while no ledger record has been applied to it
  (``outcome_at IS NULL``); it never overrides what the ledger said (a later
  ``dead_lettered`` or ``ignored`` from the worker) and the ledger always overrides it. The
  sink keeps the path so that a row appears as soon as the data is visible and the table
  stays complete when the ledger lags or a producer writes ``metrics.scored`` directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from schemas.records import EventOutcome
from sinks.rows import InvalidRecord, no_nul

OUTCOMES = frozenset({"processed", "ignored", "dead_lettered"})
MAX_REASON = 1000


class OutcomeRow(NamedTuple):
    """One ledger record as staged for ``ingested_events`` (``outcome_at`` is the record's ``at``)."""

    event_id: str
    outcome: str
    stage: str
    reason: str | None
    outcome_at: datetime
    ledger_offset: int
    source: str | None
    event_type: str | None
    observations: int
    rejected: int

    @property
    def position(self) -> tuple[datetime, int]:
        return (self.outcome_at, self.ledger_offset)

    @property
    def content(self) -> tuple[object, ...]:
        """Everything but the event id and the offset: equal content means a re-sent duplicate."""
        return (*self[1:5], *self[6:])


OUTCOME_COLUMNS: tuple[str, ...] = OutcomeRow._fields


def outcome_row(ev: EventOutcome, offset: int) -> OutcomeRow:
    if not ev.event_id or not ev.event_id.strip():
        raise InvalidRecord("event_id is empty")
    if ev.outcome not in OUTCOMES:
        raise InvalidRecord(f"unknown outcome {ev.outcome!r}")
    if not ev.stage or not ev.stage.strip():
        raise InvalidRecord("stage is empty")
    if ev.at.tzinfo is None or ev.at.utcoffset() is None:
        raise InvalidRecord("at has no time zone")
    no_nul(ev.event_id, ev.stage, ev.reason, ev.source, ev.event_type)
    reason = ev.reason if ev.reason is None or len(ev.reason) <= MAX_REASON else ev.reason[:MAX_REASON]
    return OutcomeRow(
        ev.event_id, ev.outcome, ev.stage, reason, ev.at, offset, ev.source, ev.event_type, ev.observations, ev.rejected
    )


def latest_outcomes(rows: Iterable[OutcomeRow]) -> list[OutcomeRow]:
    """One row per event id: the latest by (``at``, offset), as ``UPSERT_OUTCOMES`` decides across
    batches; a later duplicate of the same content does not displace the first."""
    best: dict[str, OutcomeRow] = {}
    for row in rows:
        cur = best.get(row.event_id)
        if cur is None or (row.position > cur.position and row.content != cur.content):
            best[row.event_id] = row
    return list(best.values())
