"""Lab results: the censoring operator, reference range, flag and LOINC code of an observation.

A lab result (``lab.<biomarker>[<unit>]``) carries what a wearable value does not: ``<`` / ``>``
for a bounded result ("< 0.5"), the reference range its flag was judged against, the flag
(high / low / normal ...) and its LOINC code. They are null for every other observation and for
every row written before this revision, as in the Avro ``Observation`` (release v3).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

COLUMNS = (
    ("value_operator", "text", "censored value: < or > when the result is only bounded (lab: < 0.5); null if exact"),
    ("reference_low", "double precision", "lower bound of the reference range the flag was judged against"),
    ("reference_high", "double precision", "upper bound of the reference range the flag was judged against"),
    ("interpretation", "text", "abnormality flag as coded by the source (lab: high, low, normal, ...)"),
    ("code", "text", "LOINC code of a lab result when the source maps it"),
)


def upgrade() -> None:
    for name, type_, comment in COLUMNS:
        op.execute(f"ALTER TABLE observations ADD COLUMN {name} {type_}")
        op.execute(f"COMMENT ON COLUMN observations.{name} IS '{comment}'")


def downgrade() -> None:
    for name, _, _ in COLUMNS:
        op.execute(f"ALTER TABLE observations DROP COLUMN {name}")
