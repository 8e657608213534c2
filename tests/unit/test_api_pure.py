"""The read API's pure parts: keys, globs, rate limits, ETags, cursors, the stream hub."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest

from vitalstream.api import cursors, etags, keys
from vitalstream.api.hub import DROPPED_EVENT, METRIC_EVENT, READY_EVENT, REMOVED_EVENT, Change, Hub


def test_a_new_key_is_stored_only_as_its_sha256_and_has_a_recognisable_shape() -> None:
    key = keys.new_key()
    assert keys.looks_like_token(key.token) and key.token.startswith("vsk_")
    assert key.digest == keys.digest(key.token) and len(key.digest) == 32
    assert key.token not in key.digest.hex() and key.prefix == key.token[:12]
    assert keys.new_key().token != key.token
    assert not keys.looks_like_token(key.token + "x") and not keys.looks_like_token("Bearer")


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", None), ("Bearer", None), (None, None), ("", None)],
)
def test_bearer_token(header: str | None, token: str | None) -> None:
    assert keys.bearer_token(header) == token


def test_subject_globs_are_case_sensitive_shell_patterns() -> None:
    key = keys.ApiKey("a", ("clinic-a-*", "terra:42"), frozenset({"read"}))
    assert key.may_see("clinic-a-1") and key.may_see("terra:42")
    assert not key.may_see("clinic-b-1") and not key.may_see("CLINIC-A-1") and not key.may_see("terra:421")
    assert keys.subject_allowed(["*"], "anything")


def test_scopes_and_names_are_checked() -> None:
    assert keys.parse_scopes("stream, read") == ("read", "stream")
    with pytest.raises(keys.InvalidKeySpec, match="unknown scope write"):
        keys.parse_scopes("read,write")
    with pytest.raises(keys.InvalidKeySpec):
        keys.parse_scopes(" , ")
    with pytest.raises(keys.InvalidKeySpec):
        keys.check_name("no spaces")
    with pytest.raises(keys.InvalidKeySpec):
        keys.check_globs(["", " "])
    assert keys.check_name("clinic-a.app_1") == "clinic-a.app_1"


def test_rate_limit_allows_the_burst_then_says_when_to_retry() -> None:
    limiter = keys.RateLimiter(rate=2.0, burst=3)
    assert [limiter.retry_after("k", 100.0) for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("k", 100.0) == 1
    assert limiter.retry_after("other", 100.0) == 0  # per key
    assert limiter.retry_after("k", 100.5) == 0  # one token back after 1/rate s
    assert limiter.retry_after("k", 100.5) == 1


def test_etag_is_strong_and_if_none_match_uses_weak_comparison() -> None:
    tag = etags.etag_of(b'{"a":1}')
    assert tag.startswith('"') and tag != etags.etag_of(b'{"a":2}')
    assert etags.not_modified(tag, tag) and etags.not_modified(f'"x", W/{tag}', tag) and etags.not_modified("*", tag)
    assert not etags.not_modified(None, tag) and not etags.not_modified('"other"', tag)


def test_page_cursor_round_trips_and_refuses_forgeries() -> None:
    at = datetime(2026, 11, 30, 8, 0, 0, 123456, tzinfo=UTC)
    text = cursors.encode_page_cursor("heart_rate", "GARMIN", at)
    assert cursors.decode_page_cursor(text) == ("heart_rate", "GARMIN", at)
    for bad in ("", "!!!", "bm90IGpzb24", cursors.encode_page_cursor("m", "p", at)[:-3]):
        with pytest.raises(cursors.BadCursor):
            cursors.decode_page_cursor(bad)


def test_positions_encode_every_partition_and_refuse_anything_else() -> None:
    text = cursors.encode_positions({2: 7, 0: 41, 1: -1})
    assert text == "0:41,1:-1,2:7"
    assert cursors.decode_positions(text) == {0: 41, 1: -1, 2: 7}
    for bad in ("", "x", "0:", "0:1,0:2", "-1:3", "0:-2", "1:2:3"):
        with pytest.raises(cursors.BadCursor):
            cursors.decode_positions(bad)


def _change(partition: int, offset: int, subject: str, metric: str, value: float | None) -> Change:
    data = None if value is None else orjson.dumps({"subject": subject, "metric": metric, "value": value})
    return Change(partition, offset, subject, metric, data)


async def test_hub_snapshot_then_changes_for_the_subscribed_subjects_only() -> None:
    hub = Hub(max_queue=10)
    hub.start([0, 1])
    hub.apply([_change(0, 0, "s1", "hr", 60), _change(1, 0, "s2", "hr", 70), _change(1, 1, "s1", "w", 80)])
    sub, first = hub.subscribe(frozenset({"s1"}), None)
    assert [(e.kind, orjson.loads(e.data).get("value")) for e in first[:-1]] == [(METRIC_EVENT, 60), (METRIC_EVENT, 80)]
    assert first[-1].kind == READY_EVENT and first[-1].id == "0:0,1:1"
    assert all(e.id is None for e in first[:-1])  # only a complete snapshot moves the client's position
    hub.apply([_change(0, 1, "s2", "hr", 71), _change(0, 2, "s1", "hr", 61)])
    batch = await sub.next_batch(1.0)
    assert [(orjson.loads(e.data)["value"], e.id) for e in batch] == [(61, "0:2,1:1")]
    hub.unsubscribe(sub)
    hub.apply([_change(0, 3, "s1", "hr", 62)])
    assert await sub.next_batch(0.01) == []


async def test_hub_resume_sends_exactly_what_changed_after_the_position() -> None:
    hub = Hub(max_queue=10)
    hub.start([0, 1])
    hub.apply([_change(0, 0, "s1", "hr", 60), _change(1, 0, "s1", "w", 80)])
    _, first = hub.subscribe(frozenset({"s1"}), None)
    position = cursors.decode_positions(first[-1].id or "")
    # disconnected: hr changes twice, w is purged, another subject changes
    hub.apply([_change(0, 1, "s1", "hr", 61), _change(0, 2, "s1", "hr", 62), _change(1, 1, "s1", "w", None)])
    hub.apply([_change(0, 3, "s9", "hr", 99)])
    _, resumed = hub.subscribe(frozenset({"s1"}), position)
    kinds = [(e.kind, orjson.loads(e.data)) for e in resumed[:-1]]
    assert kinds == [
        (METRIC_EVENT, {"subject": "s1", "metric": "hr", "value": 62}),
        (REMOVED_EVENT, {"subject": "s1", "metric": "w"}),
    ]
    _, again = hub.subscribe(frozenset({"s1"}), cursors.decode_positions(resumed[-1].id or ""))
    assert [e.kind for e in again] == [READY_EVENT]  # nothing repeated


async def test_a_slow_subscriber_is_dropped_not_buffered_without_bound() -> None:
    hub = Hub(max_queue=3)
    hub.start([0])
    slow, _ = hub.subscribe(frozenset({"s"}), None)
    fast, _ = hub.subscribe(frozenset({"s"}), None)
    for i in range(3):
        hub.apply([_change(0, i, "s", "hr", i)])
    assert len(await fast.next_batch(1.0)) == 3
    hub.apply([_change(0, 3, "s", "hr", 3)])
    assert slow.dropped and not fast.dropped
    assert hub.streams == 1
    assert len(await fast.next_batch(1.0)) == 1
    hub.apply([_change(0, 4, "s", "hr", 4)])
    (last,) = await slow.next_batch(0)  # only the reason is left: the queue never grows past its bound
    assert last.kind == DROPPED_EVENT and last.id is None and "too slow" in orjson.loads(last.data)["reason"]


def test_ready_keeps_the_position_of_a_partition_this_process_has_not_found_yet() -> None:
    hub = Hub(max_queue=10)
    hub.start([0])
    hub.apply([_change(0, 3, "s", "hr", 1)])
    _, first = hub.subscribe(frozenset({"s"}), {0: 1, 1: 7})
    assert cursors.decode_positions(first[-1].id or "") == {0: 3, 1: 7}


def test_subscription_skips_what_the_client_saw_through_a_replica_further_along() -> None:
    hub = Hub(max_queue=10)
    hub.start([0])
    sub, first = hub.subscribe(frozenset({"s"}), {0: 5})
    assert first[-1].id == "0:5"
    hub.apply([_change(0, 5, "s", "hr", 1), _change(0, 6, "s", "hr", 2)])
    loop = asyncio.new_event_loop()
    try:
        batch = loop.run_until_complete(sub.next_batch(1.0))
    finally:
        loop.close()
    assert [orjson.loads(e.data)["value"] for e in batch] == [2]
