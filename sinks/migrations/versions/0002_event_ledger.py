"""ingested_events learns the worker's ledger (``events.ledger``): which record was applied
(``outcome_at`` = its ``at``, ``ledger_offset``) and what it said about the event.

A ledger record is applied only when strictly later by (``outcome_at``, ``ledger_offset``)
than the one applied before (see ``sinks.outcomes``); rows the sink writes itself leave
both NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.execute("""
ALTER TABLE ingested_events
    ADD COLUMN outcome_at    timestamptz,
    ADD COLUMN ledger_offset bigint,
    ADD COLUMN source        text,
    ADD COLUMN event_type    text,
    ADD COLUMN observations  integer,
    ADD COLUMN rejected      integer;
COMMENT ON COLUMN ingested_events.outcome_at IS
    'at of the events.ledger record applied (NULL: only the sink itself wrote this row so far)';
COMMENT ON COLUMN ingested_events.ledger_offset IS 'events.ledger offset of that record (tie-break on equal at)';
""")


def downgrade() -> None:
    op.execute("""
ALTER TABLE ingested_events
    DROP COLUMN outcome_at, DROP COLUMN ledger_offset, DROP COLUMN source, DROP COLUMN event_type,
    DROP COLUMN observations, DROP COLUMN rejected;
""")
