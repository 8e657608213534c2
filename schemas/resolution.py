"""Conflict resolution for ``latest_metrics`` (design §6) as a pure, total order.

For one (subject, metric), the current value is the greatest candidate under this order,
compared field by field, the first difference deciding:

1. ``measured_at``  — later wins (an older value never overwrites a newer one, whatever
   generation scored it);
2. ``generation``   — for the same slot, the newer scoring generation wins: 0 until the
   first ``vitalstream recompute``, which re-scores everything under a greater one, so its
   scores replace the old ones whatever they were (within one generation it is equal);
3. ``confidence``   — higher wins (same slot, e.g. two providers' steps for one day);
4. ``reliability``  — higher source reliability prior wins;
5. ``ordering_ts``  — later wins (the provider's newer version of the same value);
6. ``event_id``     — greater (plain string comparison) wins: a deterministic last resort,
   so the winner never depends on arrival or replay order.

Candidates equal in all six fields are the same event; the incumbent stays. Because the
order is total, folding any permutation of the same candidates with :func:`wins` gives the
same winner: replays and out-of-order deliveries are harmless.

The Postgres sink implements exactly this order in its conditional upsert, i.e.
``(measured_at, generation, confidence, reliability, ordering_ts, event_id)`` of the new row greater
than the stored row's, compared as a row value — and is tested against :func:`wins`.
Any comparable representation of the times works (``datetime`` or epoch milliseconds), as
long as both sides use the same one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

__all__ = ["Ranked", "generation_of", "rank_key", "resolve", "wins"]


class Ranked(Protocol):
    """Anything carrying the fields of the order (LatestMetric, a state's winner, …).

    ``generation`` is optional (read with a default of 0): a state's winner lives inside
    one generation and does not carry it."""

    @property
    def measured_at(self) -> Any: ...
    @property
    def confidence(self) -> float: ...
    @property
    def reliability(self) -> float: ...
    @property
    def ordering_ts(self) -> Any: ...
    @property
    def event_id(self) -> str: ...


T = TypeVar("T", bound=Ranked)


def generation_of(item: Ranked) -> int:
    return int(getattr(item, "generation", 0))


def rank_key(item: Ranked) -> tuple[Any, int, float, float, Any, str]:
    """The sort key of the order: a greater key wins."""
    return (item.measured_at, generation_of(item), item.confidence, item.reliability, item.ordering_ts, item.event_id)


def wins(candidate: Ranked, incumbent: Ranked) -> bool:
    """True when ``candidate`` should replace ``incumbent`` (strictly greater in the order)."""
    if candidate.measured_at != incumbent.measured_at:
        return bool(incumbent.measured_at < candidate.measured_at)
    cand_gen, inc_gen = generation_of(candidate), generation_of(incumbent)
    if cand_gen != inc_gen:
        return cand_gen > inc_gen
    if candidate.confidence != incumbent.confidence:
        return candidate.confidence > incumbent.confidence
    if candidate.reliability != incumbent.reliability:
        return candidate.reliability > incumbent.reliability
    if candidate.ordering_ts != incumbent.ordering_ts:
        return bool(incumbent.ordering_ts < candidate.ordering_ts)
    return candidate.event_id > incumbent.event_id


def resolve(items: Iterable[T]) -> T:
    """The winner among ``items`` (non-empty), whatever their order."""
    it = iter(items)
    try:
        best = next(it)
    except StopIteration:
        raise ValueError("resolve() needs at least one candidate") from None
    for item in it:
        if wins(item, best):
            best = item
    return best
