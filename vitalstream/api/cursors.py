"""Opaque position tokens: the observations page cursor and the stream's ``Last-Event-ID``.

Observations are paged by keyset on the primary key (``metric``, ``provider``,
``measured_at`` within one subject): the cursor is the last row's key, so a page never
skips or repeats a row whatever is inserted meanwhile.

A stream position is, for every partition of ``metrics.latest``, the offset of the last
record the stream has taken into account (``-1``: none yet), written ``p:o,p:o,…`` in
partition order. Every partition is listed, so a resume is without loss or repeat across
all of them: the stream resumes each partition just after its offset.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime

import orjson


class BadCursor(ValueError):
    """A cursor or event id this API did not write; the message says what was expected."""


def encode_page_cursor(metric: str, provider: str, measured_at: datetime) -> str:
    micros = round(measured_at.timestamp() * 1_000_000)
    return base64.urlsafe_b64encode(orjson.dumps([metric, provider, micros])).decode().rstrip("=")


def decode_page_cursor(text: str) -> tuple[str, str, datetime]:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        metric, provider, micros = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise BadCursor("cursor: pass back the next_cursor of the previous page unchanged") from None
    if not (isinstance(metric, str) and isinstance(provider, str) and isinstance(micros, int)):
        raise BadCursor("cursor: pass back the next_cursor of the previous page unchanged")
    try:
        at = datetime.fromtimestamp(micros / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        raise BadCursor("cursor: pass back the next_cursor of the previous page unchanged") from None
    return metric, provider, at


def encode_positions(positions: Mapping[int, int]) -> str:
    return ",".join(f"{p}:{o}" for p, o in sorted(positions.items()))


def decode_positions(text: str, max_partitions: int = 10_000) -> dict[int, int]:
    """``"0:41,1:-1,2:7"`` → ``{0: 41, 1: -1, 2: 7}``; anything else raises :class:`BadCursor`."""
    out: dict[int, int] = {}
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or len(parts) > max_partitions:
        raise BadCursor("Last-Event-ID: expected the id of an event of this stream (partition:offset,…)")
    for part in parts:
        p, sep, o = part.partition(":")
        try:
            partition, offset = int(p), int(o)
        except ValueError:
            partition, offset = -1, -2
        if not sep or partition < 0 or offset < -1 or partition in out:
            raise BadCursor("Last-Event-ID: expected the id of an event of this stream (partition:offset,…)")
        out[partition] = offset
    return out
