"""The sink's DLQ headers (pure): the contract of schemas.deadletter with stage ``sink``."""

from __future__ import annotations

from schemas.deadletter import MAX_MESSAGE, MAX_STACKTRACE, header_value
from sinks.deadletter import dlq_headers, dlq_reason, error_class
from sinks.errors import KafkaUnavailable, is_permanent, is_transient
from sinks.rows import InvalidRecord

NOW_MS = 1_777_636_800_000


def _raise() -> ValueError:
    try:
        raise InvalidRecord("confidence outside 0-100" + "x" * 5000)
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
        now_ms=NOW_MS,
    )
    got = dict(headers)
    assert got["trace"] == b"t-1"
    assert got["vs.error.stage"] == b"sink"
    assert got["vs.error.class"] == b"InvalidRecord"
    assert got["vs.error.message"].startswith(b"confidence outside 0-100")
    assert len(got["vs.error.message"]) <= MAX_MESSAGE
    assert b"InvalidRecord" in got["vs.error.stacktrace"] and len(got["vs.error.stacktrace"]) <= MAX_STACKTRACE
    assert got["vs.original.topic"] == b"p.metrics.scored"
    assert got["vs.original.partition"] == b"2" and got["vs.original.offset"] == b"41"
    assert got["vs.original.timestamp"] == b"1700000000000"
    assert got["vs.attempts"] == b"1" and got["vs.first_failure_at"] == b"2026-05-01T12:00:00.000+00:00"
    assert got["vs.event_id"] == b"ev-9"


def test_a_failing_replay_counts_attempts_and_keeps_first_failure() -> None:
    first = dlq_headers(
        None, _raise(), topic="t", partition=0, offset=1, timestamp_ms=None, event_id=None, now_ms=NOW_MS
    )
    again = dlq_headers(
        [*first, ("vs.replay.of", b"0:1")],
        _raise(),
        topic="t",
        partition=0,
        offset=7,
        timestamp_ms=None,
        event_id=None,
        now_ms=NOW_MS + 10**9,
    )
    assert header_value(again, "vs.attempts") == "2"
    assert header_value(again, "vs.first_failure_at") == "2026-05-01T12:00:00.000+00:00"
    assert header_value(again, "vs.original.offset") == "7"
    assert [k for k, _ in again].count("vs.error.class") == 1
    assert dict(first)["vs.event_id"] == b""


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
    assert error_class(psycopg.errors.CheckViolation()) == "CheckViolation"
    assert dlq_reason(InvalidRecord("nope")) == "InvalidRecord: nope at unknown"
