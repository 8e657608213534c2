"""The conflict rule of design §6 for ``latest_metrics``, in SQL, from :mod:`schemas.resolution`.

``schemas.resolution`` defines the order in Python (later ``measured_at``, newer generation, then higher
confidence, reliability, later ordering timestamp, then the greater ``event_id``; equal on
all: the incumbent stays). The sink uses that function for in-batch resolution and the
same terms, as a row-value comparison, in its conditional upserts. ``event_id`` is a
"C"-collated column, so PostgreSQL orders it exactly as Python compares strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from schemas.resolution import rank_key, resolve, wins

__all__ = [
    "OBSERVATION_VERSION_COLUMNS",
    "RANK_COLUMNS",
    "rank",
    "resolve",
    "sql_order_by",
    "sql_wins",
    "version",
    "wins",
]

RANK_COLUMNS: tuple[str, ...] = ("measured_at", "generation", "confidence", "reliability", "ordering_ts", "event_id")


def rank(value: Any) -> tuple[Any, int, float, float, Any, str]:
    return rank_key(value)


def sql_wins(candidate: str, incumbent: str) -> str:
    """SQL boolean: the row aliased ``candidate`` beats the row aliased ``incumbent``."""
    cand = ", ".join(f"{candidate}.{c}" for c in RANK_COLUMNS)
    inc = ", ".join(f"{incumbent}.{c}" for c in RANK_COLUMNS)
    return f"({cand}) > ({inc})"


def sql_order_by(alias: str = "") -> str:
    """SQL ORDER BY terms that put the rule's winner first."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{c} DESC" for c in RANK_COLUMNS)


# Versions of one observation (same subject, metric, provider, measured_at): the newer scoring
# generation, then the later ordering timestamp, then the greater event id, then the later
# scoring (a re-score) wins.
OBSERVATION_VERSION_COLUMNS: tuple[str, ...] = ("generation", "ordering_ts", "event_id", "scored_at")


class Versioned(Protocol):
    @property
    def ordering_ts(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...
    @property
    def scored_at(self) -> datetime: ...
    @property
    def generation(self) -> int: ...


def version(value: Versioned) -> tuple[int, datetime, str, datetime]:
    return (value.generation, value.ordering_ts, value.event_id, value.scored_at)
