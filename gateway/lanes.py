"""Which topic an accepted delivery goes to: the live lane or the backfill lane (design §14).

Pure: the intake asks ``lane_for`` once per delivery, after the signature check. Historical
traffic — a Terra large request's chunks (trace id ``<id>:chunk:<n>``) and every delivery
whose ``terra-reference`` names a large request this gateway saw announced
(``large_request_processing`` / ``large_request_sending``, see :func:`announced_reference`),
the deliveries of a source configured as a backfill source, and verified deliveries past a
per-source or per-user limit (load is shed to the backfill lane, never answered 429) — goes
to ``webhooks.backfill``; the worker reads it at lower priority, so it never queues in front
of live events. The announcements themselves stay live (small, and wanted at once).

A ``terra-reference`` header alone does not make a delivery historical: Terra may set it on
ordinary deliveries too, and routing those to the slow lane would delay live data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

LIVE = "webhooks.raw"
BACKFILL = "webhooks.backfill"
_CHUNK = re.compile(r":chunk:\d+$")
ANNOUNCEMENTS = frozenset({"large_request_processing", "large_request_sending"})
MAX_REFERENCE = 256


@dataclass(frozen=True, slots=True)
class Lane:
    topic: str
    """Short catalogue name: ``webhooks.raw`` or ``webhooks.backfill``."""
    reason: str
    """Why: ``live``, ``chunk``, ``large_request``, ``source`` or ``shed`` (a bounded metric label)."""


def is_chunk(trace_id: str | None) -> bool:
    """A chunk of a Terra large request: ``X-Terra-Trace-Id`` of the form ``<id>:chunk:<n>``."""
    return trace_id is not None and _CHUNK.search(trace_id) is not None


def announced_reference(doc: Any, headers: Mapping[str, str]) -> str | None:
    """The reference a large-request announcement introduces (its body's, else its header's)."""
    if not isinstance(doc, dict) or doc.get("type") not in ANNOUNCEMENTS:
        return None
    reference = doc.get("reference") or headers.get("terra-reference")
    return reference[:MAX_REFERENCE] if isinstance(reference, str) and reference else None


def lane_for(
    source: str,
    trace_id: str | None,
    headers: Mapping[str, str],
    backfill_sources: Collection[str],
    *,
    over_limit: bool,
    large_request: Callable[[str], bool] = lambda _reference: False,
) -> Lane:
    """The lane of one verified delivery; ``over_limit``: it passed a per-source or per-user limit;
    ``large_request(reference)``: the reference was announced as a large request."""
    if is_chunk(trace_id):
        return Lane(BACKFILL, "chunk")
    reference = headers.get("terra-reference")
    if source == "terra" and reference and large_request(reference[:MAX_REFERENCE]):
        return Lane(BACKFILL, "large_request")
    if source in backfill_sources:
        return Lane(BACKFILL, "source")
    if over_limit:
        return Lane(BACKFILL, "shed")
    return Lane(LIVE, "live")
