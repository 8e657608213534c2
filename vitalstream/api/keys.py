"""API keys (pure): making a token, hashing it, matching subjects to a key's globs, rate limits.

A token is ``vsk_`` + 43 URL-safe characters (256 random bits). Only its SHA-256 digest is
stored and compared: the token is random, so a fast hash is as strong as a slow one (see
migration 0005) and costs nothing per request.
"""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from fnmatch import fnmatchcase

TOKEN_PREFIX = "vsk_"
SCOPES: tuple[str, ...] = ("read", "stream", "fhir")
PREFIX_CHARS = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^vsk_[A-Za-z0-9_-]{43}$")


class InvalidKeySpec(ValueError):
    """A key definition that cannot be stored (bad name, glob or scope); the message says why."""


@dataclass(frozen=True, slots=True)
class NewKey:
    token: str
    prefix: str
    digest: bytes


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key as the API sees it (never the token)."""

    name: str
    subjects: tuple[str, ...]
    scopes: frozenset[str]
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def may_see(self, subject: str) -> bool:
        return subject_allowed(self.subjects, subject)


def new_key() -> NewKey:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return NewKey(token, token[:PREFIX_CHARS], digest(token))


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def looks_like_token(text: str) -> bool:
    """Shape check before any lookup: a malformed credential is refused without a query."""
    return bool(_TOKEN.match(text))


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, None when absent or another scheme."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def subject_allowed(globs: Iterable[str], subject: str) -> bool:
    """Case-sensitive shell globs (``*``, ``?``, ``[…]``): ``clinic-a-*`` matches ``clinic-a-17``."""
    return any(fnmatchcase(subject, glob) for glob in globs)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InvalidKeySpec(
            f"key name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    return name


def parse_scopes(text: str) -> tuple[str, ...]:
    """``read,stream`` → ``("read", "stream")`` in catalogue order; an unknown scope is an error."""
    wanted = {part.strip() for part in text.split(",") if part.strip()}
    unknown = wanted - set(SCOPES)
    if unknown:
        raise InvalidKeySpec(f"unknown scope {', '.join(sorted(unknown))}: choose from {', '.join(SCOPES)}")
    if not wanted:
        raise InvalidKeySpec(f"give at least one scope of {', '.join(SCOPES)}")
    return tuple(s for s in SCOPES if s in wanted)


def check_globs(globs: Iterable[str]) -> tuple[str, ...]:
    out = tuple(g.strip() for g in globs if g.strip())
    if not out:
        raise InvalidKeySpec("give at least one --subjects glob ('*' for every subject)")
    for glob in out:
        if any(ch in glob for ch in "\r\n\0") or len(glob) > 256:
            raise InvalidKeySpec(f"subject glob {glob!r} is not a usable pattern")
    return out


@dataclass(slots=True)
class TokenBucket:
    """``rate`` requests per second sustained, ``burst`` at once; time is passed in (testable)."""

    rate: float
    burst: int
    tokens: float = field(default=-1.0)
    at: float = 0.0

    def take(self, now: float) -> float:
        """0 when the request may go, else the seconds until one more token is there."""
        if self.tokens < 0:
            self.tokens, self.at = float(self.burst), now
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


class RateLimiter:
    """One token bucket per key name (per API process: replicas each allow the full rate)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def retry_after(self, key: str, now: float) -> int:
        """0 to let the request through, else whole seconds to put in ``Retry-After`` (≥ 1)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()  # far more keys than any deployment has: start afresh, never grow
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst)
        wait = bucket.take(now)
        return 0 if wait == 0 else max(1, math.ceil(wait))
