"""Dead-letter records (pure): the original key/value/headers plus the ``vs.*`` headers of design §7."""

from __future__ import annotations

import traceback
from datetime import UTC, datetime

STAGE = "sink"
MAX_MESSAGE = 1000
MAX_STACKTRACE = 4000
OWN_HEADERS = frozenset(
    {
        "vs.error.stage",
        "vs.error.class",
        "vs.error.message",
        "vs.error.stacktrace",
        "vs.original.topic",
        "vs.original.partition",
        "vs.original.offset",
        "vs.original.timestamp",
        "vs.attempts",
        "vs.first_failure_at",
        "vs.event_id",
    }
)

Headers = list[tuple[str, bytes]]


def error_class(exc: BaseException) -> str:
    cls = type(exc)
    return f"{cls.__module__}.{cls.__qualname__}"


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 15] + "…[truncated]"


def header_value(headers: Headers | None, name: str) -> str | None:
    for key, value in headers or ():
        if key == name and value is not None:
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return None


def dlq_headers(
    original: Headers | None,
    exc: BaseException,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    event_id: str | None,
    now: datetime | None = None,
) -> Headers:
    """The original headers (our own ``vs.*`` ones replaced) followed by the error headers.

    A record that failed before (a replay) keeps its first failure time and counts one
    more attempt.
    """
    now = now or datetime.now(UTC)
    previous_attempts = header_value(original, "vs.attempts")
    try:
        attempts = int(previous_attempts) + 1 if previous_attempts else 1
    except ValueError:
        attempts = 1
    first_failure = header_value(original, "vs.first_failure_at") or now.isoformat()
    event_id = event_id or header_value(original, "vs.event_id")
    kept = [(k, v) for k, v in (original or ()) if k not in OWN_HEADERS]
    stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    added = {
        "vs.error.stage": STAGE,
        "vs.error.class": error_class(exc),
        "vs.error.message": truncate(str(exc) or type(exc).__name__, MAX_MESSAGE),
        "vs.error.stacktrace": truncate(stack, MAX_STACKTRACE),
        "vs.original.topic": topic,
        "vs.original.partition": str(partition),
        "vs.original.offset": str(offset),
        "vs.original.timestamp": "" if timestamp_ms is None else str(timestamp_ms),
        "vs.attempts": str(attempts),
        "vs.first_failure_at": first_failure,
    }
    if event_id:
        added["vs.event_id"] = event_id
    return kept + [(k, v.encode("utf-8")) for k, v in added.items()]


def dlq_reason(exc: BaseException) -> str:
    return truncate(f"{error_class(exc)}: {exc}", MAX_MESSAGE)
