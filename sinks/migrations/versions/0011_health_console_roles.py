"""Health and console roles: no process of the local stack but migrations and retention runs as owner.

- ``vitalstream_health`` (the gateway's ``/health`` document and ``vitalstream health``): the two
  columns its summary counts, ``ingested_events.outcome`` and ``latest_metrics.confidence``
  (column grants: ``count(*)`` needs SELECT on one column). It reads nothing else and writes nothing.
- ``vitalstream_console`` (``vitalstream console``): its own tables of 0006 (accounts, sessions,
  audit: SELECT/INSERT/UPDATE/DELETE, and the audit id sequence) and SELECT on what its pages show —
  the ledger, the current values, observations, daily quality, ``backfill_jobs`` (0010). Never
  ``provider_connections`` (reference ids, sex, birth year) or ``api_keys``; no TRUNCATE, no DDL.

Roles are cluster-wide and NOLOGIN (as 0009's); grants are per schema.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None

ROLES = ("vitalstream_health", "vitalstream_console")
CONSOLE_OWN = ("console_accounts", "console_sessions", "console_audit")
CONSOLE_READS = ("ingested_events", "latest_metrics", "observations", "data_quality_daily")
BACKFILL_JOBS = """
DO $$
BEGIN
    IF to_regclass('backfill_jobs') IS NOT NULL THEN
        GRANT SELECT ON backfill_jobs TO vitalstream_console;
    END IF;
END
$$;
"""


def _create_role(name: str) -> str:
    return f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{name}') THEN
        CREATE ROLE {name} NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
"""


def _schema_usage(verb: str) -> str:
    roles = ", ".join(ROLES)
    preposition = "TO" if verb == "GRANT" else "FROM"
    statement = f"EXECUTE format('{verb} USAGE ON SCHEMA %I {preposition} {roles}', current_schema());"
    return f"DO $$\nBEGIN\n    {statement}\nEND\n$$;"


def upgrade() -> None:
    for role in ROLES:
        op.execute(_create_role(role))
    op.execute(_schema_usage("GRANT"))
    op.execute("GRANT SELECT (outcome) ON ingested_events TO vitalstream_health")
    op.execute("GRANT SELECT (confidence) ON latest_metrics TO vitalstream_health")
    for table in CONSOLE_OWN:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO vitalstream_console")
    op.execute("GRANT USAGE ON SEQUENCE console_audit_id_seq TO vitalstream_console")
    for table in CONSOLE_READS:
        op.execute(f"GRANT SELECT ON {table} TO vitalstream_console")
    op.execute(BACKFILL_JOBS)


def downgrade() -> None:
    """Back to 0009's grants (the roles stay: cluster-wide, other schemas may use them)."""
    op.execute("REVOKE SELECT (outcome) ON ingested_events FROM vitalstream_health")
    op.execute("REVOKE SELECT (confidence) ON latest_metrics FROM vitalstream_health")
    for table in (*CONSOLE_OWN, *CONSOLE_READS):
        op.execute(f"REVOKE ALL ON {table} FROM vitalstream_console")
    op.execute("REVOKE ALL ON SEQUENCE console_audit_id_seq FROM vitalstream_console")
    op.execute(BACKFILL_JOBS.replace("GRANT SELECT ON backfill_jobs TO", "REVOKE ALL ON backfill_jobs FROM"))
    op.execute(_schema_usage("REVOKE"))
