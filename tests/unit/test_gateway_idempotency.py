"""Bounded TTL idempotency cache and deterministic event ids."""

from __future__ import annotations

import uuid

import pytest

from gateway.idempotency import EVENT_NAMESPACE, IdempotencyCache, Seen, body_digest, event_id


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_event_id_is_deterministic_uuid5() -> None:
    eid = event_id("terra", "trace-1")
    assert eid == event_id("terra", "trace-1")
    assert eid == str(uuid.uuid5(EVENT_NAMESPACE, "terra:trace-1"))
    assert uuid.UUID(eid).version == 5
    assert eid != event_id("acme", "trace-1")
    assert eid != event_id("terra", "trace-2")


def test_new_duplicate_conflict() -> None:
    cache = IdempotencyCache(60, 10, clock=Clock())
    a, b = body_digest(b'{"a":1}'), body_digest(b'{"a":2}')
    assert cache.check("k", a) is Seen.NEW
    cache.put("k", a)
    assert cache.check("k", a) is Seen.DUPLICATE
    assert cache.check("k", b) is Seen.CONFLICT
    assert cache.check("other", a) is Seen.NEW


def test_entries_expire_after_ttl() -> None:
    clock = Clock()
    cache = IdempotencyCache(60, 10, clock=clock)
    cache.put("k", b"d")
    clock.t += 59.9
    assert cache.check("k", b"d") is Seen.DUPLICATE
    clock.t += 0.2
    assert cache.check("k", b"d") is Seen.NEW
    assert len(cache) == 0


def test_bounded_oldest_evicted_first() -> None:
    clock = Clock()
    cache = IdempotencyCache(600, 3, clock=clock)
    for i in range(5):
        clock.t += 1
        cache.put(f"k{i}", b"d")
    assert len(cache) == 3
    assert cache.check("k0", b"d") is Seen.NEW
    assert cache.check("k1", b"d") is Seen.NEW
    assert cache.check("k4", b"d") is Seen.DUPLICATE


def test_expired_entries_are_dropped_on_put() -> None:
    clock = Clock()
    cache = IdempotencyCache(10, 100, clock=clock)
    for i in range(50):
        cache.put(f"k{i}", b"d")
    clock.t += 11
    cache.put("new", b"d")
    assert len(cache) == 1


def test_refresh_moves_entry_to_the_end() -> None:
    clock = Clock()
    cache = IdempotencyCache(10, 100, clock=clock)
    cache.put("a", b"1")
    clock.t += 5
    cache.put("b", b"1")
    cache.put("a", b"1")  # re-stored: expires later than b now
    clock.t += 6
    cache.put("c", b"1")
    assert cache.check("a", b"1") is Seen.DUPLICATE
    assert cache.check("b", b"1") is Seen.DUPLICATE


def test_invalid_size() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        IdempotencyCache(10, 0)
