"""Strong ETags over the exact response body, and ``If-None-Match`` (RFC 9110 §13.1.2)."""

from __future__ import annotations

import hashlib

CACHE_CONTROL = "private, max-age=0, must-revalidate"


def etag_of(body: bytes) -> str:
    """A strong validator: two bodies share it only when they are byte for byte the same."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when the request's ``If-None-Match`` names ``etag`` (or ``*``).

    ``If-None-Match`` uses the weak comparison: ``W/"x"`` matches ``"x"``.
    """
    if not if_none_match:
        return False
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*":
            return True
        if tag.removeprefix("W/") == etag:
            return True
    return False
