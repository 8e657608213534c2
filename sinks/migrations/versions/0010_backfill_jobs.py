"""Terra large requests: ``backfill_jobs`` (design §13, issue 12).

One row per ``terra-reference``, copied by the sink from the compacted ``backfill.jobs`` topic
(the worker computes the state): expected payloads, the chunk numbers received (and their count),
status, the requested range when an event named it, and when the request was first and last seen.
No personal data beyond the provider user id, so analysts may read it like
``analyst_connections``; the sink gets its DML as in 0009. ``vitalstream backfill ls`` and
the console's ``/backfill`` read it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

TABLE = """
CREATE TABLE backfill_jobs (
    reference          text PRIMARY KEY,
    source             text NOT NULL DEFAULT 'terra',
    status             text NOT NULL CHECK (status IN ('processing', 'sending', 'complete', 'incomplete')),
    user_id            text,
    expected_payloads  bigint CHECK (expected_payloads >= 0),
    received_chunks    integer NOT NULL DEFAULT 0,
    chunks             bigint[] NOT NULL DEFAULT '{}',
    requested_start    text,
    requested_end      text,
    first_seen_at      timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX backfill_jobs_status_idx ON backfill_jobs (status, last_seen_at);
COMMENT ON TABLE backfill_jobs IS
    'Terra large requests by terra-reference (from the backfill.jobs topic): expected and received chunks, status.';
"""


def upgrade() -> None:
    op.execute(TABLE)
    op.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON backfill_jobs TO vitalstream_sink")
    op.execute("GRANT SELECT ON backfill_jobs TO vitalstream_analyst")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS backfill_jobs")
