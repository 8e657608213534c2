"""Which failures are transient (pause, back off, retry: never skip) and which are permanent (DLQ)."""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from sinks.rows import InvalidRecord


class KafkaUnavailable(RuntimeError):
    """The broker did not acknowledge what the sink produced (DLQ records, tombstones) in time."""


# DataError/IntegrityError: the database (or psycopg, e.g. a NUL byte in text) refuses the row;
# the others come from building rows out of one record.
PERMANENT: tuple[type[BaseException], ...] = (
    psycopg.DataError,
    psycopg.IntegrityError,
    InvalidRecord,
    UnicodeError,
    ValueError,
    TypeError,
)


def is_permanent(exc: BaseException) -> bool:
    """A record the database rejects whatever happens: isolate it and dead-letter it."""
    return isinstance(exc, PERMANENT)


def is_transient(exc: BaseException) -> bool:
    """Anything else that went wrong while talking to PostgreSQL or Kafka is retried.

    ``OperationalError`` (connection lost, server shutting down, statement/lock timeout,
    deadlock, serialization failure), ``InterfaceError``, pool timeouts and broker
    unavailability are the expected cases; any other database error is retried too rather
    than dropping data, and shows up in the logs and the transient-error counter.
    """
    if is_permanent(exc):
        return False
    return isinstance(exc, (psycopg.Error, PoolTimeout, KafkaUnavailable, OSError))
