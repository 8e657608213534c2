"""Which topic an accepted delivery goes to: the live lane or the backfill lane (design §13).

Pure: the intake asks ``lane_for`` once per delivery, after the signature check. Historical
traffic — a Terra large request's chunks (trace id ``<id>:chunk:<n>``) and every delivery of
a large request (a ``terra-reference`` header), the deliveries of a source configured as a
backfill source, and verified deliveries past a per-source or per-user limit (load is shed
to the backfill lane, never answered 429) — goes to ``webhooks.backfill``; the worker reads
it at lower priority, so it never queues in front of live events.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass

LIVE = "webhooks.raw"
BACKFILL = "webhooks.backfill"
_CHUNK = re.compile(r":chunk:\d+$")


@dataclass(frozen=True, slots=True)
class Lane:
    topic: str
    """Short catalogue name: ``webhooks.raw`` or ``webhooks.backfill``."""
    reason: str
    """Why: ``live``, ``chunk``, ``large_request``, ``source`` or ``shed`` (a bounded metric label)."""


def is_chunk(trace_id: str | None) -> bool:
    """A chunk of a Terra large request: ``X-Terra-Trace-Id`` of the form ``<id>:chunk:<n>``."""
    return trace_id is not None and _CHUNK.search(trace_id) is not None


def lane_for(
    source: str,
    trace_id: str | None,
    headers: Mapping[str, str],
    backfill_sources: Collection[str],
    *,
    over_limit: bool,
) -> Lane:
    """The lane of one verified delivery; ``over_limit``: it passed a per-source or per-user limit."""
    if is_chunk(trace_id):
        return Lane(BACKFILL, "chunk")
    if source == "terra" and headers.get("terra-reference"):
        return Lane(BACKFILL, "large_request")
    if source in backfill_sources:
        return Lane(BACKFILL, "source")
    if over_limit:
        return Lane(BACKFILL, "shed")
    return Lane(LIVE, "live")
