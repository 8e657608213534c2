"""The conflict rule of DESIGN §6 for ``latest_metrics``, as a pure function and as SQL.

A newer ``measured_at`` wins; for the same slot the higher confidence, then the more
reliable source, then the later ordering timestamp; the final tie is broken by
``event_id`` and then ``provider`` (greater wins), so the result never depends on the
order in which values arrive. Equal on every term: the incumbent stays (a redelivery
changes nothing). The SQL compares the same terms as a row value; ``event_id`` and
``provider`` are "C"-collated columns, so PostgreSQL orders them as Python does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

RANK_COLUMNS: tuple[str, ...] = ("measured_at", "confidence", "reliability", "ordering_ts", "event_id", "provider")


class Rankable(Protocol):
    @property
    def measured_at(self) -> datetime: ...
    @property
    def confidence(self) -> float: ...
    @property
    def reliability(self) -> float: ...
    @property
    def ordering_ts(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...
    @property
    def provider(self) -> str: ...


def rank(value: Rankable) -> tuple[datetime, float, float, datetime, str, str]:
    return (value.measured_at, value.confidence, value.reliability, value.ordering_ts, value.event_id, value.provider)


def wins(candidate: Rankable, incumbent: Rankable | None) -> bool:
    """True when ``candidate`` must replace ``incumbent`` in ``latest_metrics``."""
    return incumbent is None or rank(candidate) > rank(incumbent)


def winner(values: list[Rankable]) -> Rankable:
    """The value the rule keeps among ``values`` (any order gives the same answer)."""
    return max(values, key=rank)


def sql_wins(candidate: str, incumbent: str) -> str:
    """SQL boolean: the row aliased ``candidate`` beats the row aliased ``incumbent``."""
    cand = ", ".join(f"{candidate}.{c}" for c in RANK_COLUMNS)
    inc = ", ".join(f"{incumbent}.{c}" for c in RANK_COLUMNS)
    return f"({cand}) > ({inc})"


def sql_order_by(alias: str = "") -> str:
    """SQL ORDER BY terms putting the rule's winner first."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(f"{prefix}{c} DESC" for c in RANK_COLUMNS)


# Versions of the same observation (same subject, metric, provider, measured_at): the later
# ordering timestamp, then event id, then the later scoring (a re-score) wins.
OBSERVATION_VERSION_COLUMNS: tuple[str, ...] = ("ordering_ts", "event_id", "scored_at")


class Versioned(Protocol):
    @property
    def ordering_ts(self) -> datetime: ...
    @property
    def event_id(self) -> str: ...
    @property
    def scored_at(self) -> datetime: ...


def version(value: Versioned) -> tuple[datetime, str, datetime]:
    return (value.ordering_ts, value.event_id, value.scored_at)
