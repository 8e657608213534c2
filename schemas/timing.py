"""The latency budget's clock readings, carried with each event as Kafka headers.

Each stage stamps the moment it handed the event on, as epoch milliseconds in ASCII digits:

- ``vs.t.accepted`` — the gateway, on the ``webhooks.raw`` record, when it produced it;
- ``vs.t.normalized`` — normalize, on each ``metrics.normalized`` record (copied forward:
  ``vs.t.accepted``);
- ``vs.t.scored`` — score, on each ``metrics.scored`` record (copied forward: both above).

The backfill lane's normalize adds ``vs.t.lane`` = ``backfill`` (copied forward like a stamp),
so the sink counts a backfill's rows apart from live ones: a history import never reads as
live freshness, and live freshness beside a backfill stays measurable.

The sink reads them once its transaction has committed and observes, per hop,
``normalize`` = normalized − accepted (raw append, the raw topic's wait, normalize),
``score`` = scored − normalized, ``sink`` = committed − scored, and end to end
committed − accepted; the hops sum to the end-to-end time. A missing or malformed stamp
(a record from an older producer, a replayed DLQ record) skips the hops that need it.
Clocks are wall clocks: across hosts the hops are only as good as the hosts' NTP.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

ACCEPTED = "vs.t.accepted"
NORMALIZED = "vs.t.normalized"
SCORED = "vs.t.scored"
STAMPS = (ACCEPTED, NORMALIZED, SCORED)
"""In pipeline order: the hop after each stamp ends at the next one (the last at the commit)."""
_STAMP_SET = frozenset(STAMPS)
LANE = "vs.t.lane"
BACKFILL: Header = (LANE, b"backfill")
"""The mark of a record of the backfill lane (design §14)."""
LANES = ("live", "backfill")
"""The ``lane`` label of the sink's histograms, in index order (:func:`lane_index`)."""
HOPS = ("normalize", "score", "sink")
"""The hop ending at each of ``NORMALIZED``, ``SCORED`` and the commit."""

STAGE_METRIC = "vitalstream_stage_latency_seconds"
"""Histogram, label ``stage``: ``accept`` (gateway), ``normalize``, ``score``, ``sink`` (the sink,
which also labels ``lane``: ``LANES``)."""
END_TO_END_METRIC = "vitalstream_end_to_end_latency_seconds"
"""Histogram at the sink, label ``lane``: ``vs.t.accepted`` → committed in PostgreSQL."""
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25,
    0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
)  # fmt: skip
"""Seconds; fine from 5 ms to 10 s, the range the budget is argued in."""

Header = tuple[str, bytes]


def now_ms() -> int:
    return int(time.time() * 1000)


def stamp(name: str, at_ms: int | None = None) -> Header:
    """The header ``name`` = ``at_ms`` (now by default); build once per batch, share it per record."""
    return (name, str(now_ms() if at_ms is None else at_ms).encode())


def forward(headers: Iterable[tuple[str, bytes | str | None]] | None) -> list[Header]:
    """The timing headers among ``headers`` (to copy onto a derived record), others dropped."""
    out: list[Header] = []
    for key, value in headers or ():
        if value is not None and key.startswith("vs.t."):
            out.append((key, value.encode() if isinstance(value, str) else bytes(value)))
    return out


def readings(headers: Iterable[tuple[str, bytes | str | None]] | None) -> dict[str, int]:
    """Stamp name → epoch ms for every well-formed timing header (the last one of a name wins)."""
    found: dict[str, int] = {}
    for key, value in headers or ():
        if key in _STAMP_SET and value is not None:
            ms = _millis(value)
            if ms is not None:
                found[key] = ms
    return found


def stamps(headers: Iterable[tuple[str, bytes | str | None]] | None) -> tuple[int | None, int | None, int | None]:
    """(accepted, normalized, scored) epoch ms of a record, None where absent or malformed.

    The sink calls this for every row it writes: one pass over the headers, no intermediate dicts.
    """
    accepted = normalized = scored = None
    for key, value in headers or ():
        if value is None or not key.startswith("vs.t."):
            continue
        if key == ACCEPTED:
            accepted = _millis(value)
        elif key == NORMALIZED:
            normalized = _millis(value)
        elif key == SCORED:
            scored = _millis(value)
    return accepted, normalized, scored


def live_accepted(headers: Iterable[tuple[str, bytes | str | None]] | None) -> int | None:
    """``vs.t.accepted`` of a live record; None for a backfill record or one without the stamp."""
    accepted = None
    for key, value in headers or ():
        if value is None:
            continue
        if key == LANE:
            return None
        if key == ACCEPTED:
            accepted = _millis(value)
    return accepted


def lane_index(headers: Iterable[tuple[str, bytes | str | None]] | None) -> int:
    """The record's index in ``LANES``: 1 when it carries the backfill mark, else 0 (live)."""
    for key, value in headers or ():
        if key == LANE and value is not None:
            return 1 if (value.encode() if isinstance(value, str) else bytes(value)) == BACKFILL[1] else 0
    return 0


def hop_millis(
    accepted: int | None, normalized: int | None, scored: int | None, committed_ms: int
) -> tuple[int | None, int | None, int | None, int | None]:
    """Milliseconds of (normalize, score, sink, end to end); None where an end is unknown, skew clamped to 0."""
    return (
        None if accepted is None or normalized is None else max(normalized - accepted, 0),
        None if normalized is None or scored is None else max(scored - normalized, 0),
        None if scored is None else max(committed_ms - scored, 0),
        None if accepted is None else max(committed_ms - accepted, 0),
    )


def hops(headers: Iterable[tuple[str, bytes | str | None]] | None, committed_ms: int) -> dict[str, float]:
    """Seconds per hop (``HOPS``) and ``"end_to_end"`` for a record committed at ``committed_ms``."""
    names = (*HOPS, "end_to_end")
    millis = hop_millis(*stamps(headers), committed_ms)
    return {name: ms / 1000.0 for name, ms in zip(names, millis, strict=True) if ms is not None}


def _millis(value: bytes | str) -> int | None:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return int(raw) if 0 < len(raw) <= 15 and raw.isdigit() else None  # bytes.isdigit(): ASCII digits only
