"""Batch planning (pure): which rows one batch writes, deduplicated so that an
``INSERT … ON CONFLICT`` never meets the same key twice.

- ``observations``: one row per (subject, metric, provider, measured_at); among versions
  the later (ordering_ts, event_id, scored_at) wins, the same answer the SQL gives;
- ``latest_metrics``: per (subject, metric) the winner of the §6 rule (:mod:`sinks.rule`);
- ``ingested_events``: one ledger row per event id (processed beats ignored).

``data_quality_daily`` follows ``observations`` inside PostgreSQL (triggers: the quality_from_observations
migration).

Observations of users whose connection was purged (deauthorized/revoked under the purge
policy) are dropped and ledgered ``ignored``; those of a user replaced by a reauth are
re-keyed to the new user, so replaying a topic never resurrects purged or re-keyed rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from schemas.identity import namespace
from sinks.rows import (
    OUTCOME_RANK,
    LedgerRow,
    ObservationRow,
)
from sinks.rule import version, wins

PURGED_STATUSES = frozenset({"deauthorized", "revoked"})
STAGE = "sink"


@dataclass(frozen=True, slots=True)
class ConnectionState:
    status: str
    replaced_by: str | None = None


@dataclass(slots=True)
class ObservationPlan:
    observations: list[ObservationRow] = field(default_factory=list)
    latest: list[ObservationRow] = field(default_factory=list)
    ledger: list[LedgerRow] = field(default_factory=list)
    ignored: int = 0


def rekey(row: ObservationRow, new_user_id: str) -> ObservationRow:
    """The row as it belongs to ``new_user_id`` (a ``terra:<old>`` subject becomes ``terra:<new>``)."""
    subject = row.subject
    ns = namespace(row.source)
    if row.user_id is not None and subject == ns.user_subject(row.user_id):
        subject = ns.user_subject(new_user_id)
    return row._replace(subject=subject, user_id=new_user_id)


def route(row: ObservationRow, states: Mapping[str, ConnectionState], purge_on_deauth: bool) -> ObservationRow | None:
    """Apply the user's connection state: None when the row must not be stored."""
    if row.user_id is None:
        return row
    state = states.get(row.user_id)
    if state is None:
        return row
    if state.replaced_by:
        return rekey(row, state.replaced_by)
    if purge_on_deauth and state.status in PURGED_STATUSES:
        return None
    return row


def merge_ledger(rows: Iterable[LedgerRow]) -> list[LedgerRow]:
    """One row per event id, the strongest outcome (dead_lettered > processed > ignored) kept."""
    best: dict[str, LedgerRow] = {}
    for row in rows:
        cur = best.get(row.event_id)
        if cur is None or OUTCOME_RANK[row.outcome] > OUTCOME_RANK[cur.outcome]:
            best[row.event_id] = row
    return list(best.values())


def plan_observations(
    rows: Iterable[ObservationRow],
    states: Mapping[str, ConnectionState],
    purge_on_deauth: bool,
) -> ObservationPlan:
    plan = ObservationPlan()
    newest: dict[tuple[object, ...], ObservationRow] = {}
    latest: dict[tuple[str, str], ObservationRow] = {}
    ledger: list[LedgerRow] = []
    for raw in rows:
        row = route(raw, states, purge_on_deauth)
        if row is None:
            plan.ignored += 1
            ledger.append(LedgerRow(raw.event_id, "ignored", STAGE, "user connection purged"))
            continue
        ledger.append(LedgerRow(row.event_id, "processed", STAGE, None))
        key = row.key
        cur = newest.get(key)
        if cur is None or version(row) >= version(cur):
            newest[key] = row
        lkey = row.latest_key
        inc = latest.get(lkey)
        if inc is None or wins(row, inc):
            latest[lkey] = row
    plan.observations = list(newest.values())
    plan.latest = list(latest.values())
    plan.ledger = merge_ledger(ledger)
    return plan
