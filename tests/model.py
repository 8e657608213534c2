"""An independent model of what the pipeline must compute, written from design §6 and §10.

Deliberately shares no code with the services: if the sink's SQL or the worker's rule
drifts from the design, the comparison in the invariant suite shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Candidate:
    subject: str
    metric: str
    value: float
    provider: str
    measured_at: datetime
    confidence: float
    reliability: float
    ordering_ts: datetime
    event_id: str
    generation: int = 0


def candidate_of(scored: Any) -> Candidate:
    """A ``ScoredObservation`` (as decoded from ``metrics.scored``) as a model candidate."""
    o = scored.observation
    return Candidate(
        o.subject,
        o.metric,
        o.value,
        o.provider,
        o.measured_at,
        scored.confidence,
        scored.reliability,
        o.ordering_ts,
        o.event_id,
        scored.generation,
    )


def design_rank(c: Candidate) -> tuple[Any, ...]:
    """design §6: newer measured_at; same slot → newer scoring generation (a recompute's re-score),
    higher confidence, more reliable source, later ordering ts (event id: a deterministic last
    resort so arrival order never matters)."""
    return (c.measured_at, c.generation, c.confidence, c.reliability, c.ordering_ts, c.event_id)


def expected_latest(candidates: Iterable[Candidate]) -> dict[tuple[str, str], Candidate]:
    best: dict[tuple[str, str], Candidate] = {}
    for c in candidates:
        key = (c.subject, c.metric)
        if key not in best or design_rank(c) > design_rank(best[key]):
            best[key] = c
    return best
