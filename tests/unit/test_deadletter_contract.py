"""The one DLQ contract (schemas.deadletter): the worker and the sink write the same headers, never values."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from schemas import deadletter as D
from schemas.records import RawWebhook
from sinks.deadletter import dlq_headers, dlq_reason
from sinks.rows import InvalidRecord, make_observation_row
from streams.errors import SchemaInvalidError
from streams.failures import FailedRecord, route
from streams.normalize import normalize

SECRET_VALUE = "jane.doe@example.com"
NOW_MS = 1_800_000_000_000


def raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:
        return caught


def worker_headers(exc: BaseException) -> dict[str, bytes]:
    record = FailedRecord("t.webhooks.raw", 1, 2, NOW_MS, b"k", b"v", [("vs.event_id", b"e")])
    return dict(route(record, exc, stage="normalize", now_ms=NOW_MS).headers)


def sink_headers(exc: BaseException) -> dict[str, bytes]:
    return dict(
        dlq_headers(None, exc, topic="t", partition=1, offset=2, timestamp_ms=NOW_MS, event_id="e", now_ms=NOW_MS)
    )


VALUE_BEARING = [
    KeyError(SECRET_VALUE),
    ValueError(f"invalid literal {SECRET_VALUE!r}"),
    psycopg.DataError(f"value too long: {SECRET_VALUE}"),
    psycopg.errors.UniqueViolation(f"Key (subject)=({SECRET_VALUE}) already exists."),
    RuntimeError(SECRET_VALUE),
]


@pytest.mark.parametrize("exc", VALUE_BEARING, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("build", [worker_headers, sink_headers], ids=["worker", "sink"])
def test_no_exception_text_reaches_headers_or_reason(exc: BaseException, build: object) -> None:
    headers = build(raised(exc))  # type: ignore[operator]
    assert SECRET_VALUE.encode() not in b"".join(headers.values())
    assert SECRET_VALUE not in dlq_reason(raised(exc))
    message = headers[D.ERROR_MESSAGE].decode()
    assert " at tests.unit.test_deadletter_contract:raised:" in message


def test_worker_and_sink_write_one_shape() -> None:
    exc = raised(SchemaInvalidError("payload without type"))
    worker, sink = worker_headers(exc), sink_headers(exc)
    assert set(D.FAILURE_HEADERS) <= set(worker) and set(D.FAILURE_HEADERS) <= set(sink)
    for name in (D.ERROR_CLASS, D.ERROR_MESSAGE, D.ERROR_STACKTRACE, D.ATTEMPTS, D.FIRST_FAILURE_AT):
        assert worker[name] == sink[name], name
    assert worker[D.ERROR_CLASS] == b"SchemaInvalidError"
    assert worker[D.ERROR_MESSAGE].startswith(b"payload without type at tests.unit.test_deadletter_contract:raised:")
    assert sink_headers(raised(psycopg.errors.CheckViolation()))[D.ERROR_CLASS] == b"CheckViolation"


def test_our_own_errors_carry_their_vetted_reason_not_the_value() -> None:
    try:
        make_observation_row(
            "s", "m", "p", datetime.now(UTC), None, 1.0, "u", 150.0, "good", 0.5, "e", datetime.now(UTC),
            None, {}, None, None, None, None, 1.0, datetime.now(UTC), 0,
        )  # fmt: skip
    except InvalidRecord as exc:
        failure = D.describe(exc)
    assert failure.error_class == "InvalidRecord"
    assert failure.message.startswith("confidence outside 0-100 at sinks.rows:make_observation_row:")
    assert "150" not in failure.message


def test_a_normalizer_bug_never_quotes_the_payload() -> None:
    raw = RawWebhook(event_id="e", source="terra", received_at=datetime.now(UTC), idempotency_key="k", body=b"{}")
    payload = {"type": "body", "user": {"user_id": "u", "provider": "X"}, "data": [{"metadata": SECRET_VALUE}]}
    try:
        normalize(raw, payload)
    except Exception as exc:
        assert SECRET_VALUE not in str(exc) and SECRET_VALUE not in D.describe(exc).message
    else:  # the normalizer skipped the odd item: nothing to leak either
        pass


def test_limits_and_canonical_names() -> None:
    long = raised(SchemaInvalidError("x" * 10_000))
    assert len(worker_headers(long)[D.ERROR_MESSAGE]) <= D.MAX_MESSAGE
    assert len(D.describe(long).reason) <= D.MAX_REASON
    assert D.canonical_class("sinks.rows.InvalidRecord") == "InvalidRecord"
    assert D.canonical_class("psycopg.errors.CheckViolation") == "CheckViolation"
    assert D.replay_headers([(D.ERROR_CLASS, b"X"), ("trace", b"t"), (D.ATTEMPTS, b"3")], "0:7") == [
        ("trace", b"t"),
        (D.REPLAY_OF, b"dlq:0:7"),
        (D.ATTEMPTS, b"0"),
    ]
