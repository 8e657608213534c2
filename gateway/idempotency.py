"""Idempotency: deterministic event ids and a bounded TTL cache of accepted deliveries (pure).

The cache remembers, per ``source:key``, the SHA-256 of the body that was accepted, until
its TTL passes or the cache is full (oldest first). A second instance remembers which
idempotency key a signed delivery (signed timestamp + body digest) was first seen with, so
a captured delivery replayed under a new, unsigned trace id is still the same event.

The event id needs no storage: it is a UUIDv5 of ``source:key``, identical on every gateway
replica, so downstream stages can deduplicate what one replica's cache cannot see.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from enum import Enum

EVENT_NAMESPACE = uuid.UUID("5f0c2d3e-8b1a-5c47-9e36-7a2b4d9c1e58")
"""Fixed namespace of vitalstream event ids. Never change it: ids would stop matching."""


def event_id(source: str, idempotency_key: str) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{source}:{idempotency_key}"))


def body_digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def signed_identity(source: str, signed_ts: int, digest: bytes) -> str:
    """What a signature covers: the signed timestamp and the body (Terra signs ``<t>.<body>``)."""
    return f"{source}:{signed_ts}:{digest.hex()}"


class Seen(Enum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


class IdempotencyCache:
    """Bounded map ``key → body digest`` whose entries expire ``ttl_s`` after they were stored."""

    __slots__ = ("_clock", "_entries", "max_entries", "ttl_s")

    def __init__(self, ttl_s: float, max_entries: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._clock = clock
        # insertion order == expiry order (constant TTL, monotonic clock)
        self._entries: OrderedDict[str, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def check(self, key: str, digest: bytes) -> Seen:
        """Has ``key`` been accepted before, and with this very body?"""
        stored = self.get(key)
        if stored is None:
            return Seen.NEW
        return Seen.DUPLICATE if stored == digest else Seen.CONFLICT

    def get(self, key: str) -> bytes | None:
        """The value stored for ``key``, unless it has expired."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored, expires = entry
        if expires <= self._clock():
            del self._entries[key]
            return None
        return stored

    def put(self, key: str, digest: bytes) -> None:
        """Remember ``key`` (for deliveries: call only once it is durable)."""
        now = self._clock()
        entries = self._entries
        if key in entries:
            entries.move_to_end(key)
        entries[key] = (digest, now + self.ttl_s)
        self._evict(now)

    def _evict(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (_, expires) = next(iter(entries.items()))
            if expires > now and len(entries) <= self.max_entries:
                break
            del entries[key]
