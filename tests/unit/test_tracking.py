"""Large-request tracking: facts from raw records, the merge, the sweep (streams.tracking)."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from schemas.records import RawWebhook
from streams import tracking
from streams.tracking_stage import status_counts, tick_outs

RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
USER = {"user_id": "u-1", "provider": "GARMIN", "reference_id": "dev-ref"}
T0 = 1_000_000


def raw(body: dict[str, Any], trace: str | None = None, reference: str | None = "req-1") -> RawWebhook:
    headers = {} if reference is None else {"terra-reference": reference}
    return RawWebhook(
        event_id=trace or "evt",
        source="terra",
        received_at=RECEIVED,
        idempotency_key=trace or "evt",
        body=orjson.dumps(body),
        trace_id=trace,
        headers=headers,
    )


PROCESSING = {"type": "large_request_processing", "status": "processing", "message": "m", "user": USER}
SENDING = {"type": "large_request_sending", "message": "m", "user": USER, "expected_payloads": 3}
CHUNK = {"type": "body", "user": USER, "data": []}


def facts_of_request(expected: int = 3, chunks: tuple[int, ...] = (1, 2, 3)) -> list[tracking.Fact]:
    out = [
        tracking.fact_of(
            raw({**PROCESSING, "reference": "req-1"}, reference=None), {**PROCESSING, "reference": "req-1"}, T0
        ),
        tracking.fact_of(raw(SENDING), {**SENDING, "reference": "req-1", "expected_payloads": expected}, T0 + 1),
    ]
    out += [tracking.fact_of(raw(CHUNK, f"tr:chunk:{n}"), CHUNK, T0 + 10 + n) for n in chunks]
    return [f for f in out if f is not None]


def fold(facts: list[tracking.Fact]) -> tracking.State:
    state: tracking.State | None = None
    for fact in facts:
        state = tracking.merge(state, fact)
    assert state is not None
    return state


def test_chunk_numbers_come_from_the_trace_id() -> None:
    assert tracking.chunk_number("abc:chunk:7") == 7
    assert tracking.chunk_number("abc") is None
    assert tracking.chunk_number(None) is None
    assert tracking.chunk_number("abc:chunk:x") is None


def test_records_without_a_reference_are_not_tracked() -> None:
    assert tracking.fact_of(raw(CHUNK, "t:chunk:1", reference=None), CHUNK, T0) is None


def test_announcements_carry_reference_expected_and_the_namespaced_user() -> None:
    body = {**SENDING, "reference": "req-9", "start_date": "2026-01-01", "end_date": "2026-03-31"}
    fact = tracking.fact_of(raw(body, reference=None), body, T0)
    assert fact == {
        "r": "req-9",
        "s": "terra",
        "t": T0,
        "u": "u-1",
        "k": "sending",
        "x": 3,
        "a": "2026-01-01",
        "b": "2026-03-31",
    }


@pytest.mark.parametrize("bad", [-1, "3", True, 10**9, None])
def test_implausible_expected_payloads_are_not_believed(bad: object) -> None:
    body = {**SENDING, "reference": "r", "expected_payloads": bad}
    fact = tracking.fact_of(raw(body), body, T0)
    assert fact is not None and "x" not in fact


def test_a_request_is_tracked_to_complete() -> None:
    state = fold(facts_of_request())
    assert state["st"] == tracking.COMPLETE
    assert state["c"] == [1, 2, 3] and state["x"] == 3 and state["u"] == "u-1"
    assert state["f"] == T0 and state["l"] == T0 + 13


def test_a_redelivered_chunk_counts_once() -> None:
    facts = facts_of_request(chunks=(1, 2))
    state = fold([*facts, facts[-1], facts[-1]])
    assert state["c"] == [1, 2] and state["st"] == tracking.SENDING
    assert tracking.missing_chunks(state["x"], state["c"]) == [3]


def test_the_order_of_facts_does_not_matter() -> None:
    facts = facts_of_request()
    results = {orjson.dumps(fold(list(p)), option=orjson.OPT_SORT_KEYS) for p in itertools.permutations(facts)}
    assert len(results) == 1


def test_status_before_sending_is_processing_and_chunks_make_it_sending() -> None:
    facts = facts_of_request()
    assert fold(facts[:1])["st"] == tracking.PROCESSING
    assert fold([facts[0], facts[2]])["st"] == tracking.SENDING


def test_merge_does_not_change_its_arguments() -> None:
    facts = facts_of_request()
    state = fold(facts[:2])
    copy = orjson.dumps(state)
    tracking.merge(state, facts[2])
    assert orjson.dumps(state) == copy


def test_sweep_marks_a_silent_open_request_incomplete_and_a_late_chunk_completes_it() -> None:
    facts = facts_of_request(chunks=(1, 3))
    state = fold(facts)
    assert tracking.sweep(state, state["l"] + 999, 1000) is None
    swept = tracking.sweep(state, state["l"] + 1000, 1000)
    assert swept is not None and swept["st"] == tracking.INCOMPLETE
    assert tracking.sweep(swept, swept["l"] + 5000, 1000) is None  # idempotent: already marked
    late = tracking.fact_of(raw(CHUNK, "tr:chunk:2"), CHUNK, T0 + 99)
    assert late is not None
    assert tracking.merge(swept, late)["st"] == tracking.COMPLETE


def test_a_redelivery_does_not_reopen_an_incomplete_request_but_news_does() -> None:
    facts = facts_of_request(chunks=(1, 3))
    swept = tracking.sweep(fold(facts), 10**12, 1000)
    assert swept is not None
    assert tracking.merge(swept, facts[-1])["st"] == tracking.INCOMPLETE
    assert tracking.merge(swept, facts[1])["st"] == tracking.INCOMPLETE
    later = {**facts[-1], "t": swept["l"] + 1}  # the same chunk delivered again, later: Terra is still sending
    assert tracking.merge(swept, later)["st"] == tracking.SENDING


def test_sweep_leaves_complete_requests_alone() -> None:
    state = fold(facts_of_request())
    assert tracking.sweep(state, state["l"] + 10**9, 1000) is None


def test_missing_chunks_numbered_from_zero_or_one() -> None:
    assert tracking.missing_chunks(3, [0, 2]) == [1]
    assert tracking.missing_chunks(3, [1, 3]) == [2]
    assert tracking.missing_chunks(None, [1]) == []


def test_an_ordinary_delivery_with_a_reference_but_no_chunk_number_is_not_tracked() -> None:
    assert tracking.fact_of(raw(CHUNK, "plain-trace"), CHUNK, T0) is None


def test_facts_round_trip_and_garbage_is_refused() -> None:
    fact = facts_of_request()[0]
    assert tracking.decode_fact(tracking.encode_fact(fact)) == fact
    with pytest.raises(ValueError):
        tracking.decode_fact(b'{"tick":1}')


def test_the_record_of_a_state() -> None:
    record = tracking.to_record(fold(facts_of_request(chunks=(2, 1))), T0 + 100)
    assert record.reference == "req-1" and record.status == "sending" and record.chunks == [1, 2]
    assert record.expected_payloads == 3 and record.user_id == "u-1"
    assert record.updated_at == datetime.fromtimestamp((T0 + 100) / 1000, UTC)


def test_ticks_go_to_every_partition_without_a_key() -> None:
    outs = tick_outs("facts", 3)
    assert [(o.key, o.partition) for o in outs] == [(None, 0), (None, 1), (None, 2)]


def test_status_counts_name_every_status() -> None:
    counts = status_counts([orjson.dumps(fold(facts_of_request()))])
    assert counts == {"processing": 0, "sending": 0, "complete": 1, "incomplete": 0}


def test_the_sink_row_of_a_job_counts_each_chunk_once_and_refuses_nonsense() -> None:
    from sinks.jobs import job_row, latest_jobs
    from sinks.rows import InvalidRecord

    record = tracking.to_record(fold(facts_of_request()), T0 + 100)
    row = job_row(record)
    assert row.received_chunks == 3 and row.chunks == [1, 2, 3] and row.status == "complete"
    newer = row._replace(status="incomplete")
    assert latest_jobs([row, newer]) == [newer]
    with pytest.raises(InvalidRecord):
        job_row(dataclasses.replace(record, status="done"))
    with pytest.raises(InvalidRecord):
        job_row(dataclasses.replace(record, reference=" "))
