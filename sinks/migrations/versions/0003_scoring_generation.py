"""Scoring generations: every scored value remembers which generation scored it.

``vitalstream recompute`` re-scores everything under a new generation while the live
pipeline runs; the sink's conditional upserts then let, for the same observation or slot,
the newer generation win (design §6 order: ``measured_at``, then ``generation``, …), and a
day's quality window be replaced only by the same or a newer generation. Existing rows are
generation 0, the value every record had before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TABLES = ("observations", "latest_metrics", "data_quality_daily")


def upgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} ADD COLUMN generation bigint NOT NULL DEFAULT 0")
        op.execute(
            f"COMMENT ON COLUMN {table}.generation IS "
            "'scoring generation that produced this row (0 until the first vitalstream recompute)'"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN generation")
