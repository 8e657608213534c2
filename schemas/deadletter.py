"""The retry/dead-letter contract (design §7): header names, error naming, limits, safe text.

Every stage that routes a failed record (the worker's stages, the sink) builds its headers
here, and ``vitalstream dlq`` reads them with the same names, so there is one shape:

- the original key, value and headers are kept; our own failure headers of an earlier
  attempt are replaced, ``vs.first_failure_at`` is kept from the first attempt and
  ``vs.attempts`` counts on;
- ``vs.error.class`` is the exception's bare class name (``SchemaInvalidError``,
  ``DataError``): one naming scheme, so ``dlq ls`` groups and ``dlq replay --error-class``
  filters one way (:func:`canonical_class` also folds the dotted names older sinks wrote);
- ``vs.error.message`` and the analyst-readable ``reason`` never carry exception text
  that could quote values. A :class:`VettedError` (our own error types) carries a fixed
  reason written in our code; any other exception is described by a fixed text per class
  (:data:`DESCRIPTIONS`) — never ``str(exc)`` — plus the code location that raised it
  (``module:function:line``);
- ``vs.error.stacktrace`` holds class names and code locations only, no messages.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType

ERROR_STAGE = "vs.error.stage"
ERROR_CLASS = "vs.error.class"
ERROR_MESSAGE = "vs.error.message"
ERROR_STACKTRACE = "vs.error.stacktrace"
ORIGINAL_TOPIC = "vs.original.topic"
ORIGINAL_PARTITION = "vs.original.partition"
ORIGINAL_OFFSET = "vs.original.offset"
ORIGINAL_TIMESTAMP = "vs.original.timestamp"
ATTEMPTS = "vs.attempts"
FIRST_FAILURE_AT = "vs.first_failure_at"
EVENT_ID = "vs.event_id"
REPLAY_OF = "vs.replay.of"
VALUE_REFUSED = "vs.value.refused"
"""On a DLQ record without its value: why Kafka refused the value (the original is at ``vs.original.*``)."""

FAILURE_HEADERS = (
    ERROR_STAGE,
    ERROR_CLASS,
    ERROR_MESSAGE,
    ERROR_STACKTRACE,
    ORIGINAL_TOPIC,
    ORIGINAL_PARTITION,
    ORIGINAL_OFFSET,
    ORIGINAL_TIMESTAMP,
    ATTEMPTS,
    FIRST_FAILURE_AT,
    EVENT_ID,
)
"""Every header a failure adds (:data:`REPLAY_OF` is added by a replay)."""

MAX_MESSAGE = 500
"""Bytes of ``vs.error.message`` (UTF-8)."""
MAX_STACKTRACE = 4096
"""Bytes of ``vs.error.stacktrace``; the innermost frames are kept."""
MAX_REASON = 500
"""Characters of the ``reason`` an analyst reads (``ingested_events``, ``events.ledger``)."""
OUR_PACKAGES = frozenset({"schemas", "gateway", "streams", "sinks", "vitalstream"})

Headers = list[tuple[str, bytes]]


class VettedError(Exception):
    """An error of ours whose ``reason`` is fixed text written in our code (no payload or row values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def error_class(self) -> str:
        return type(self).__name__


DESCRIPTIONS: tuple[tuple[str, str], ...] = (
    ("DecodeError", "the record is not readable with the vitalstream Avro contract"),
    ("UnicodeError", "text that is not valid UTF-8"),
    ("IntegrityError", "the database refused the row (a constraint)"),
    ("DataError", "the database refused a value of the row"),
    ("OperationalError", "the database connection or statement failed"),
    ("KafkaException", "the broker call failed"),
    ("TimeoutError", "an operation timed out"),
    ("OSError", "an operating-system or network call failed"),
    ("KeyError", "a lookup found no entry (a bug or an unforeseen input)"),
    ("TypeError", "a value of an unexpected type (a bug or an unforeseen input)"),
    ("ValueError", "a value out of its allowed range (a bug or an unforeseen input)"),
)
"""Fixed text per exception class name, matched along the class's MRO (the first match wins)."""
UNEXPECTED = "unexpected exception (a bug: see the stacktrace)"


@dataclass(frozen=True, slots=True)
class Failure:
    """What the headers and the ledger say about one failure."""

    error_class: str
    message: str

    @property
    def reason(self) -> str:
        """The analyst-readable one-liner (``ingested_events.reason``)."""
        return truncate(f"{self.error_class}: {self.message}", MAX_REASON)


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` UTF-8 bytes, ``...`` marking a cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def canonical_class(name: str) -> str:
    """The bare class name (``sinks.rows.InvalidRecord`` → ``InvalidRecord``)."""
    return name.rsplit(".", 1)[-1] or "unknown"


def _frames(tb: TracebackType | None) -> list[traceback.FrameSummary]:
    return list(traceback.extract_tb(tb)) if tb is not None else []


def location(exc: BaseException) -> str:
    """``module:function:line`` where ``exc`` was raised: the innermost frame in our code, else the innermost."""
    frames = [
        (frame.f_globals.get("__name__", "?"), frame.f_code.co_name, line)
        for frame, line in traceback.walk_tb(exc.__traceback__)
    ]
    if not frames:
        return "unknown"
    ours = [f for f in frames if str(f[0]).split(".", 1)[0] in OUR_PACKAGES]
    module, function, line = (ours or frames)[-1]
    return f"{module}:{function}:{line}"


def error_class_of(exc: BaseException) -> str:
    """The one naming scheme of ``vs.error.class``: the bare class name."""
    return exc.error_class if isinstance(exc, VettedError) else type(exc).__name__


def describe(exc: BaseException) -> Failure:
    """The class and the value-free message of ``exc`` (see the module docstring)."""
    if isinstance(exc, VettedError):
        return Failure(exc.error_class, truncate(f"{exc.reason} at {location(exc)}", MAX_MESSAGE))
    names = [cls.__name__ for cls in type(exc).__mro__]
    text = next((d for n, d in DESCRIPTIONS if n in names), UNEXPECTED)
    return Failure(error_class_of(exc), truncate(f"{text} at {location(exc)}", MAX_MESSAGE))


def stacktrace(exc: BaseException) -> str:
    """Class names and code locations of ``exc`` and its causes, never their messages."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        frames = "".join(traceback.format_list(_frames(current.__traceback__)))
        parts.append(f"{type(current).__name__}\nTraceback (most recent call last):\n{frames}")
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    text = "\ncaused by ".join(parts)
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_STACKTRACE:  # the end is where it broke
        text = "...\n" + encoded[-(MAX_STACKTRACE - 4) :].decode("utf-8", "ignore")
    return text


def header_value(headers: Iterable[tuple[str, bytes | str | None]] | None, name: str) -> str | None:
    """The last value of header ``name`` as text (None if absent)."""
    found: str | None = None
    for key, value in headers or ():
        if key == name and value is not None:
            found = value if isinstance(value, str) else bytes(value).decode("utf-8", "replace")
    return found


def attempts_of(headers: Iterable[tuple[str, bytes | str | None]] | None) -> int:
    """Failed attempts so far (``vs.attempts``; 0 when absent or not a number)."""
    raw = header_value(headers, ATTEMPTS)
    try:
        return max(0, int(raw)) if raw is not None else 0
    except ValueError:
        return 0


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where the failed record was read."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None


def failure_headers(
    original: Sequence[tuple[str, bytes | str | None]] | None,
    exc: BaseException,
    *,
    stage: str,
    origin: Origin,
    now_ms: int,
    event_id: str | None = None,
) -> tuple[Headers, Failure, int]:
    """(headers, failure, attempts): the original headers (ours replaced) followed by the failure headers."""
    failure = describe(exc)
    attempts = attempts_of(original) + 1
    replaced = set(FAILURE_HEADERS) - {FIRST_FAILURE_AT}
    kept: Headers = [
        (k, v.encode() if isinstance(v, str) else bytes(v))
        for k, v in (original or ())
        if k not in replaced and v is not None
    ]
    if header_value(kept, FIRST_FAILURE_AT) is None:
        kept.append((FIRST_FAILURE_AT, iso_ms(now_ms).encode()))
    event_id = event_id or header_value(original, EVENT_ID)
    added = [
        (ERROR_STAGE, stage),
        (ERROR_CLASS, failure.error_class),
        (ERROR_MESSAGE, failure.message),
        (ERROR_STACKTRACE, stacktrace(exc)),
        (ORIGINAL_TOPIC, origin.topic),
        (ORIGINAL_PARTITION, str(origin.partition)),
        (ORIGINAL_OFFSET, str(origin.offset)),
        (ORIGINAL_TIMESTAMP, "" if origin.timestamp_ms is None else str(origin.timestamp_ms)),
        (ATTEMPTS, str(attempts)),
        (EVENT_ID, event_id or ""),
    ]
    return kept + [(k, v.encode("utf-8")) for k, v in added], failure, attempts


def replay_headers(original: Iterable[tuple[str, bytes | None]], ref: str) -> Headers:
    """Headers of a replayed DLQ record: failure details dropped, attempts reset, ``vs.replay.of`` set."""
    drop = {ERROR_STAGE, ERROR_CLASS, ERROR_MESSAGE, ERROR_STACKTRACE, ATTEMPTS, FIRST_FAILURE_AT, REPLAY_OF}
    kept = [(k, bytes(v)) for k, v in original if k not in drop and v is not None]
    return [*kept, (REPLAY_OF, f"dlq:{ref}".encode()), (ATTEMPTS, b"0")]


def value_free_headers(headers: Iterable[tuple[str, bytes | None]], refusal: str) -> list[tuple[str, bytes]]:
    """Headers of a dead letter whose value Kafka refused: all of them, plus why the value is missing.

    Failure copies already carry ``vs.original.topic/partition/offset``: where the value still lives.
    """
    kept = [(k, bytes(v)) for k, v in headers if v is not None and k != VALUE_REFUSED]
    return [*kept, (VALUE_REFUSED, refusal.encode())]
