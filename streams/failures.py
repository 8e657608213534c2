"""Failure routing for every stream stage (design §7): pure functions over plain data.

A failing record never blocks its partition and never crashes an agent. The agent catches
the exception per record and asks :func:`route` where the record goes:

- :class:`~streams.errors.TransientError` → the next retry tier by ``vs.attempts``
  (``retry.5s`` → ``retry.1m`` → ``retry.10m``), then ``dlq``;
- :class:`~streams.errors.PermanentError`, :class:`~schemas.codec.DecodeError` and any
  unexpected exception (a bug: it will fail again) → ``dlq`` at once.

The routed record keeps the original key, value and headers; the failure headers of a
previous attempt are replaced, ``vs.first_failure_at`` is kept from the first attempt.
Error messages come only from our own error classes (they carry no personal data); for
anything else only the class name is recorded, and the stacktrace holds code locations,
never the exception's message.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from schemas import headers as H
from schemas.codec import DecodeError
from schemas.topics import RETRY_TIERS
from streams.errors import PermanentError, TransientError

__all__ = [
    "DLQ",
    "MAX_MESSAGE",
    "MAX_STACKTRACE",
    "FailedRecord",
    "Routed",
    "attempts_of",
    "describe",
    "header_value",
    "is_transient",
    "route",
    "tier_for_attempt",
]

DLQ = "dlq"
MAX_MESSAGE = 500
MAX_STACKTRACE = 4096
_REPLACED = frozenset(H.ALL_FAILURE_HEADERS) - {H.FIRST_FAILURE_AT}
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


def header_value(headers: Iterable[tuple[str, bytes | None]], name: str) -> str | None:
    """The last value of header ``name`` as text (None if absent)."""
    found: str | None = None
    for k, v in headers:
        if k == name and v is not None:
            found = bytes(v).decode("utf-8", "replace")
    return found


def attempts_of(headers: Iterable[tuple[str, bytes | None]]) -> int:
    """Failed attempts so far (``vs.attempts``; 0 when absent or not a number)."""
    raw = header_value(headers, H.ATTEMPTS)
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientError)


def tier_for_attempt(attempts: int, tiers: Sequence[str] = RETRY_TIERS) -> str:
    """Topic for a transient failure that is the ``attempts``-th failure (1-based)."""
    if 1 <= attempts <= len(tiers):
        return tiers[attempts - 1]
    return DLQ


def _truncate(text: str, limit: int) -> str:
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def describe(exc: BaseException) -> tuple[str, str]:
    """(error class, safe message) of an exception."""
    if isinstance(exc, (PermanentError, TransientError)):
        return exc.error_class, _truncate(exc.reason, MAX_MESSAGE)
    if isinstance(exc, DecodeError):
        return type(exc).__name__, _truncate(str(exc), MAX_MESSAGE)
    name = type(exc).__name__
    return name, f"unexpected {name} (a bug: see the stacktrace)"


def stacktrace(exc: BaseException) -> str:
    """Code locations of the exception (and its causes), without any exception message."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(f"{type(current).__name__}\n" + "".join(traceback.format_tb(current.__traceback__)))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    text = "\ncaused by ".join(parts)
    if len(text.encode("utf-8")) > MAX_STACKTRACE:  # keep the innermost frames: the end is where it broke
        tail = text.encode("utf-8")[-(MAX_STACKTRACE - 4) :].decode("utf-8", "ignore")
        text = "...\n" + tail
    return text


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).isoformat(timespec="milliseconds")


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
    error_class, message = describe(exc)
    original = [(k, bytes(v)) for k, v in record.headers if k not in _REPLACED and v is not None]
    if event_id is None:
        event_id = header_value(record.headers, H.EVENT_ID)
    if header_value(original, H.FIRST_FAILURE_AT) is None:
        original.append((H.FIRST_FAILURE_AT, _iso(now_ms).encode()))
    added: Headers = [
        (H.ERROR_STAGE, stage.encode()),
        (H.ERROR_CLASS, error_class.encode()),
        (H.ERROR_MESSAGE, message.encode()),
        (H.ERROR_STACKTRACE, stacktrace(exc).encode()),
        (H.ORIGINAL_TOPIC, record.topic.encode()),
        (H.ORIGINAL_PARTITION, str(record.partition).encode()),
        (H.ORIGINAL_OFFSET, str(record.offset).encode()),
        (H.ORIGINAL_TIMESTAMP, str(record.timestamp_ms).encode()),
        (H.ATTEMPTS, str(attempts).encode()),
        (H.EVENT_ID, (event_id or "").encode()),
    ]
    return Routed(
        topic=target,
        key=record.key,
        value=record.value,
        headers=original + added,
        attempts=attempts,
        error_class=error_class,
        message=message,
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
