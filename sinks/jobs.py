"""``backfill.jobs`` → ``backfill_jobs``: Terra large requests as the worker tracks them (design §13).

The worker computes each job's state (:mod:`streams.tracking`); the sink copies the latest
record per reference. The upsert takes a record only when it is not older than the row
(``updated_at``) and says something new, so redelivering or replaying the compacted topic from
its earliest offset changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import psycopg

from schemas.records import BackfillJob
from sinks.rows import InvalidRecord, _aware, _text, no_nul

STATUSES = frozenset({"processing", "sending", "complete", "incomplete"})


class JobRow(NamedTuple):
    reference: str
    source: str
    status: str
    user_id: str | None
    expected_payloads: int | None
    received_chunks: int
    chunks: list[int]
    requested_start: str | None
    requested_end: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    updated_at: datetime


JOB_COLUMNS: tuple[str, ...] = JobRow._fields
_VALUES = tuple(c for c in JOB_COLUMNS if c != "reference")
_CHANGED = tuple(c for c in _VALUES if c != "updated_at")
UPSERT_JOBS = f"""
INSERT INTO backfill_jobs AS t ({", ".join(JOB_COLUMNS)}) VALUES ({", ".join(["%s"] * len(JOB_COLUMNS))})
ON CONFLICT (reference) DO UPDATE SET {", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUES)}
WHERE t.updated_at <= EXCLUDED.updated_at
  AND ({", ".join(f"t.{c}" for c in _CHANGED)}) IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _CHANGED)})
"""


def job_row(job: BackfillJob) -> JobRow:
    reference = _text("reference", job.reference)
    if job.status not in STATUSES:
        raise InvalidRecord("unknown backfill job status")
    no_nul(reference, job.source, job.user_id, job.requested_start, job.requested_end)
    chunks = sorted(set(job.chunks))
    return JobRow(
        reference,
        job.source,
        job.status,
        job.user_id,
        job.expected_payloads,
        len(chunks),
        chunks,
        job.requested_start,
        job.requested_end,
        _aware("first_seen_at", job.first_seen_at),
        _aware("last_seen_at", job.last_seen_at),
        _aware("updated_at", job.updated_at),
    )


def latest_jobs(rows: Iterable[JobRow]) -> list[JobRow]:
    """One row per reference (the last of the batch: one reference's records are in order)."""
    return list({row.reference: row for row in rows}.values())


def write_jobs(cur: psycopg.Cursor[Any], rows: Sequence[JobRow]) -> int:
    """Upsert inside the batch's transaction; returns the rows changed."""
    jobs = latest_jobs(rows)
    if not jobs:
        return 0
    cur.executemany(UPSERT_JOBS, jobs)
    return max(cur.rowcount, 0)
