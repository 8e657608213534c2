"""Failure routing for every stream stage (design §7): pure functions over plain data.

A failing record never blocks its partition and never crashes an agent. The agent catches
the exception per record and asks :func:`route` where the record goes:

- :class:`~streams.errors.TransientError` → the next retry tier by ``vs.attempts``
  (``retry.5s`` → ``retry.1m`` → ``retry.10m``), then ``dlq``;
- :class:`~streams.errors.PermanentError`, :class:`~schemas.codec.DecodeError` and any
  unexpected exception (a bug: it will fail again) → ``dlq`` at once.

Headers, error naming, limits and the value-free message are the one DLQ contract of
:mod:`schemas.deadletter`, shared with the sink.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from schemas import deadletter as D
from schemas.deadletter import attempts_of, header_value
from schemas.topics import RETRY_TIERS
from streams.errors import TransientError

__all__ = [
    "DLQ",
    "FailedRecord",
    "Routed",
    "attempts_of",
    "header_value",
    "is_transient",
    "route",
    "tier_for_attempt",
]

DLQ = "dlq"
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class FailedRecord:
    """The record as the failing stage consumed it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()


@dataclass(frozen=True, slots=True)
class Routed:
    """Where the failed record goes (``topic`` is a catalogue short name) and how."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: Headers
    attempts: int
    error_class: str
    message: str
    event_id: str | None

    @property
    def dead(self) -> bool:
        return self.topic == DLQ

    @property
    def reason(self) -> str:
        """The ledger's analyst-readable reason (value-free, see :mod:`schemas.deadletter`)."""
        return D.Failure(self.error_class, self.message).reason


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)


def tier_for_attempt(attempts: int, tiers: Sequence[str] = RETRY_TIERS) -> str:
    """Topic for a transient failure that is the ``attempts``-th failure (1-based)."""
    if 1 <= attempts <= len(tiers):
        return tiers[attempts - 1]
    return DLQ


def route(
    record: FailedRecord,
    exc: BaseException,
    *,
    stage: str,
    now_ms: int,
    event_id: str | None = None,
    tiers: Sequence[str] = RETRY_TIERS,
) -> Routed:
    """Decide where ``record`` goes after ``exc`` in ``stage`` and build its headers."""
    attempts = attempts_of(record.headers) + 1
    target = tier_for_attempt(attempts, tiers) if is_transient(exc) else DLQ
    origin = D.Origin(record.topic, record.partition, record.offset, record.timestamp_ms)
    headers, failure, attempts = D.failure_headers(
        record.headers, exc, stage=stage, origin=origin, now_ms=now_ms, event_id=event_id
    )
    event_id = event_id or header_value(record.headers, D.EVENT_ID)
    return Routed(
        topic=target,
        key=record.key,
        value=record.value,
        headers=headers,
        attempts=attempts,
        error_class=failure.error_class,
        message=failure.message,
        event_id=event_id or None,
    )


def retry_due_s(timestamp_ms: int, tier: str, delays_s: Sequence[float], tiers: Sequence[str] = RETRY_TIERS) -> float:
    """Epoch seconds when a record that entered ``tier`` at ``timestamp_ms`` is due."""
    index = tiers.index(tier)
    delay = delays_s[index] if index < len(delays_s) else (delays_s[-1] if delays_s else 0.0)
    return timestamp_ms / 1000.0 + float(delay)


def republish_headers(headers: Iterable[tuple[str, bytes | None]]) -> Headers:
    """Headers of a retried record as it goes back to its original topic: all of them."""
    return [(k, bytes(v)) for k, v in headers if v is not None]
