"""Ping mode, pure (design §5.1): which raw records are pings, when their URL expires, what the
fetched record looks like.

A ping is a raw record whose body is an ``s3_payload`` event (Terra's type; its enum says
``s3_upload``) with a URL. The fetch stage downloads it and publishes the payload as a raw
record of its own: the same :class:`~schemas.records.RawWebhook` with the original event id
and the downloaded body, headers as the ping had them (the earlier failure headers dropped:
the fetched record starts afresh) plus ``vs.fetched.from`` — the URL without its pre-signed
query. Normalize skips pings without remembering their event id: the fetched record carries
the same one. Both stages decide "is it a ping" with :func:`looks_like_ping` first, so a body
one calls a ping the other never treats as data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from schemas import deadletter as D
from schemas.records import RawWebhook
from streams.errors import PermanentError
from streams.normalize import S3_TYPES, normalizer_for, parse_body
from streams.ssrf import without_query

FETCHED_FROM = "vs.fetched.from"
"""Header of a fetched record: where its body was downloaded from (no query string, no signature)."""
_MARKER = b"s3_"
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Ping:
    url: str
    expires_at: float | None
    """Epoch seconds after which the URL no longer answers (None: unknown)."""


def looks_like_ping(body: bytes | bytearray | memoryview) -> bool:
    """Cheap test on the raw bytes (every record passes it): False means "certainly not a ping"."""
    return _MARKER in body


def is_fetched(headers: Iterable[tuple[str, bytes | str | None]] | None) -> bool:
    return D.header_value(headers, FETCHED_FROM) is not None


def ping_of(raw: RawWebhook, formats: Mapping[str, str]) -> Ping | None:
    """The ping ``raw`` is, or None (not a ping, or one normalize will dead-letter as malformed)."""
    if not looks_like_ping(raw.body):
        return None
    try:
        payload = parse_body(raw.body)
        if not isinstance(payload, dict) or payload.get("type") not in S3_TYPES:
            return None
        url = normalizer_for(raw.source, formats)(raw, payload).s3_url
    except PermanentError:
        return None
    if url is None:
        return None
    return Ping(url, expires_at(url, raw.received_at, payload.get("expires_in")))


def expires_at(url: str, received_at: datetime, expires_in: object) -> float | None:
    """The earliest of ``received_at + expires_in`` and the URL's own ``X-Amz-Date + X-Amz-Expires``."""
    candidates: list[float] = []
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        candidates.append(received_at.timestamp() + float(expires_in))
    query = {k.lower(): v[0] for k, v in parse_qs(urlsplit(url).query).items() if v}
    signed, lifetime = query.get("x-amz-date"), query.get("x-amz-expires")
    if signed and lifetime and lifetime.isdigit():
        try:
            signed_at = datetime.strptime(signed, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            signed_at = None
        if signed_at is not None:
            candidates.append(signed_at.timestamp() + int(lifetime))
    return min(candidates) if candidates else None


def fetched_record(raw: RawWebhook, body: bytes) -> RawWebhook:
    """The raw record of a downloaded payload: the ping's record with the payload as its body."""
    return dataclasses.replace(raw, body=body, content_type="application/json")


def fetched_headers(headers: Iterable[tuple[str, bytes | None]] | None, url: str) -> Headers:
    """The ping's headers without failure headers, plus ``vs.fetched.from``."""
    dropped = {*D.FAILURE_HEADERS, FETCHED_FROM}
    kept = [(k, bytes(v)) for k, v in headers or () if v is not None and k not in dropped]
    return [*kept, (FETCHED_FROM, without_query(url).encode())]
