"""Dead-letter records of the sink (pure): the one contract of :mod:`schemas.deadletter` with stage ``sink``."""

from __future__ import annotations

import time

from schemas import deadletter as D

STAGE = "sink"
Headers = list[tuple[str, bytes]]


def dlq_headers(
    original: Headers | None,
    exc: BaseException,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int | None,
    event_id: str | None,
    now_ms: int | None = None,
) -> Headers:
    """The original headers (our own ``vs.*`` ones replaced) followed by the error headers.

    A record that failed before (a replay) keeps its first failure time and counts one
    more attempt.
    """
    headers, _failure, _attempts = D.failure_headers(
        original,
        exc,
        stage=STAGE,
        origin=D.Origin(topic, partition, offset, timestamp_ms),
        now_ms=int(time.time() * 1000) if now_ms is None else now_ms,
        event_id=event_id,
    )
    return headers


def dlq_reason(exc: BaseException) -> str:
    """The ledger reason of a sink dead letter: class and value-free message."""
    return D.describe(exc).reason


error_class = D.error_class_of
"""The contract's class name (metrics labels, log fields)."""
