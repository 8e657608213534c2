"""Failure routing (design §7) and the quality aggregate, on plain data."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from schemas import headers as H
from schemas.codec import DecodeError
from streams import quality
from streams.errors import SchemaInvalidError, TransientError
from streams.failures import (
    MAX_STACKTRACE,
    FailedRecord,
    attempts_of,
    header_value,
    retry_due_s,
    route,
    tier_for_attempt,
)

NOW_MS = 1_800_000_000_000


def record(headers: list[tuple[str, bytes]] | None = None) -> FailedRecord:
    return FailedRecord(
        topic="vitalstream.webhooks.raw",
        partition=3,
        offset=42,
        timestamp_ms=NOW_MS - 5000,
        key=b"user-1",
        value=b"\xc3\x01payload",
        headers=headers or [("vs.event_id", b"ev-1")],
    )


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def test_permanent_error_goes_to_dlq_with_every_header() -> None:
    routed = route(
        record(), raised(SchemaInvalidError("payload is a JSON array, not an object")), stage="normalize", now_ms=NOW_MS
    )
    assert routed.topic == "dlq" and routed.dead and routed.attempts == 1
    h = dict(routed.headers)
    assert set(H.ALL_FAILURE_HEADERS) <= set(h)
    assert h[H.ERROR_STAGE] == b"normalize"
    assert h[H.ERROR_CLASS] == b"SchemaInvalidError"
    assert h[H.ERROR_MESSAGE] == b"payload is a JSON array, not an object"
    assert h[H.ORIGINAL_TOPIC] == b"vitalstream.webhooks.raw"
    assert (h[H.ORIGINAL_PARTITION], h[H.ORIGINAL_OFFSET]) == (b"3", b"42")
    assert h[H.ORIGINAL_TIMESTAMP] == str(NOW_MS - 5000).encode()
    assert h[H.ATTEMPTS] == b"1" and h[H.EVENT_ID] == b"ev-1"
    assert datetime.fromisoformat(h[H.FIRST_FAILURE_AT].decode()) == datetime.fromtimestamp(NOW_MS / 1000, UTC)
    assert routed.key == b"user-1" and routed.value == b"\xc3\x01payload"
    assert [k for k, _ in routed.headers].count(H.EVENT_ID) == 1


@pytest.mark.parametrize(("previous", "expected"), [(0, "retry.5s"), (1, "retry.1m"), (2, "retry.10m"), (3, "dlq")])
def test_transient_error_moves_through_the_tiers_by_attempts(previous: int, expected: str) -> None:
    headers = [("vs.event_id", b"ev-1")]
    if previous:
        headers += [
            (H.ATTEMPTS, str(previous).encode()),
            (H.FIRST_FAILURE_AT, b"2027-01-01T00:00:00.000+00:00"),
            (H.ERROR_CLASS, b"Old"),
        ]
    routed = route(record(headers), raised(TransientError("download timed out")), stage="normalize", now_ms=NOW_MS)
    assert routed.topic == expected
    assert header_value(routed.headers, H.ATTEMPTS) == str(previous + 1)
    assert [k for k, _ in routed.headers].count(H.ERROR_CLASS) == 1
    if previous:
        assert header_value(routed.headers, H.FIRST_FAILURE_AT) == "2027-01-01T00:00:00.000+00:00"


def test_decode_error_and_bugs_are_permanent_and_keep_no_message_details() -> None:
    assert route(record(), raised(DecodeError("unknown schema fingerprint")), stage="score", now_ms=NOW_MS).dead
    bug = route(record(), raised(KeyError("someone@example.com")), stage="score", now_ms=NOW_MS)
    assert bug.dead and bug.error_class == "KeyError"
    text = b"".join(v for _, v in bug.headers)
    assert b"someone@example.com" not in text
    assert b"test_streams_failures.py" in dict(bug.headers)[H.ERROR_STACKTRACE]


def test_stacktrace_and_message_are_truncated() -> None:
    def deep(n: int) -> None:
        if n == 0:
            raise TransientError("x" * 10_000)
        deep(n - 1)

    try:
        deep(200)
    except TransientError as exc:
        routed = route(record(), exc, stage="normalize", now_ms=NOW_MS)
    h = dict(routed.headers)
    assert len(h[H.ERROR_STACKTRACE]) <= MAX_STACKTRACE
    assert len(h[H.ERROR_MESSAGE]) <= 500


def test_helpers() -> None:
    assert attempts_of([(H.ATTEMPTS, b"nonsense")]) == 0
    assert attempts_of([]) == 0
    assert tier_for_attempt(0) == "dlq" and tier_for_attempt(4) == "dlq"
    assert retry_due_s(1000, "retry.1m", [0.5, 1.0, 2.0]) == pytest.approx(2.0)


def test_quality_delta_applies_each_offset_once() -> None:
    key = quality.quality_key(datetime(2026, 7, 1, 23, 30, tzinfo=UTC), "body_weight", "GARMIN")
    assert key == "2026-07-01|body_weight|GARMIN"
    _, entries = quality.decode_delta(quality.encode_delta(2, [(10, 90.0, "excellent"), (11, 40.0, "poor")]))
    state, n = quality.apply_delta(None, 2, entries)
    assert n == 2
    again, n2 = quality.apply_delta(state, 2, [*entries[:1], (12, 60.0, 2)])  # a batch cut differently on replay
    assert n2 == 1 and again["n"] == 3
    other, n3 = quality.apply_delta(again, 4, entries)  # another source partition has its own offsets
    assert n3 == 2
    rec = quality.to_record(key, other)
    assert (rec.day, rec.count, rec.excellent, rec.fair, rec.poor) == (date(2026, 7, 1), 5, 2, 1, 2)
    assert rec.confidence_sum == pytest.approx(90 + 40 + 60 + 90 + 40)
