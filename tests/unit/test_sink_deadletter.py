"""DLQ headers (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

from sinks.deadletter import MAX_STACKTRACE, dlq_headers, dlq_reason, error_class, header_value
from sinks.errors import KafkaUnavailable, is_permanent, is_transient
from sinks.rows import InvalidRecord

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)


def _raise() -> ValueError:
    try:
        raise InvalidRecord("confidence 150 outside 0-100" + "x" * 5000)
    except InvalidRecord as exc:
        return exc


def test_headers_keep_originals_and_add_error_context() -> None:
    exc = _raise()
    headers = dlq_headers(
        [("trace", b"t-1")],
        exc,
        topic="p.metrics.scored",
        partition=2,
        offset=41,
        timestamp_ms=1700000000000,
        event_id="ev-9",
        now=NOW,
    )
    got = dict(headers)
    assert got["trace"] == b"t-1"
    assert got["vs.error.stage"] == b"sink"
    assert got["vs.error.class"] == b"sinks.rows.InvalidRecord"
    assert got["vs.error.message"].startswith(b"confidence 150")
    assert len(got["vs.error.message"]) <= 1000 * 3
    assert b"InvalidRecord" in got["vs.error.stacktrace"] and len(got["vs.error.stacktrace"]) <= MAX_STACKTRACE * 3
    assert got["vs.original.topic"] == b"p.metrics.scored"
    assert got["vs.original.partition"] == b"2" and got["vs.original.offset"] == b"41"
    assert got["vs.original.timestamp"] == b"1700000000000"
    assert got["vs.attempts"] == b"1" and got["vs.first_failure_at"] == NOW.isoformat().encode()
    assert got["vs.event_id"] == b"ev-9"


def test_a_failing_replay_counts_attempts_and_keeps_first_failure() -> None:
    first = dlq_headers(None, _raise(), topic="t", partition=0, offset=1, timestamp_ms=None, event_id=None, now=NOW)
    again = dlq_headers(
        [*first, ("vs.replay.of", b"0:1")],
        _raise(),
        topic="t",
        partition=0,
        offset=7,
        timestamp_ms=None,
        event_id=None,
        now=datetime(2027, 1, 1, tzinfo=UTC),
    )
    assert header_value(again, "vs.attempts") == "2"
    assert header_value(again, "vs.first_failure_at") == NOW.isoformat()
    assert header_value(again, "vs.original.offset") == "7"
    assert [k for k, _ in again].count("vs.error.class") == 1
    assert "vs.event_id" not in dict(first)


def test_error_classification() -> None:
    import psycopg
    from psycopg_pool import PoolTimeout

    assert is_permanent(psycopg.errors.CheckViolation()) and not is_transient(psycopg.errors.CheckViolation())
    assert is_permanent(psycopg.DataError()) and is_permanent(InvalidRecord("x"))
    for exc in (
        psycopg.OperationalError(),
        psycopg.errors.AdminShutdown(),
        psycopg.errors.DeadlockDetected(),
        psycopg.errors.QueryCanceled(),
        psycopg.InterfaceError(),
        PoolTimeout(),
        KafkaUnavailable(),
    ):
        assert is_transient(exc) and not is_permanent(exc), exc
    assert error_class(psycopg.errors.CheckViolation()) == "psycopg.errors.CheckViolation"
    assert dlq_reason(InvalidRecord("nope")) == "sinks.rows.InvalidRecord: nope"
