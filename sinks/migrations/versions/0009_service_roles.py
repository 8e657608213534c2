"""Service roles: each process gets only what it needs (design §8, issue 14).

- ``vitalstream_sink``: the sink's DML on its tables (SELECT for the conditional upserts,
  INSERT, UPDATE, DELETE for purges) and EXECUTE on the partition function, which becomes
  SECURITY DEFINER so creating a month's partition needs no CREATE on the schema. No
  TRUNCATE, no DROP (only an owner can drop), and on ``provider_connections`` column grants:
  it writes ``sex`` and ``birth_year`` but never reads them back.
- ``vitalstream_analyst``: no longer every table (0001 granted that, default privileges
  included, so each new table leaked to analysts): the people views and the metric tables,
  plus ``analyst_connections``, the connections without ``reference_id``, ``sex`` or
  ``birth_year``.

Roles are cluster-wide and NOLOGIN: a deployment gives each service a LOGIN role that is a
member (README "Least privilege"). Grants are per schema. ``vitalstream_reader`` (the read API)
is 0007's. The analyst loses 0001's blanket grant, which had reached ``api_keys`` (0007) and the
console's accounts (0006) through the default privileges.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

ROLES = ("vitalstream_sink", "vitalstream_analyst")
SINK_TABLES = ("observations", "latest_metrics", "ingested_events", "data_quality_daily")
ANALYST_TABLES = ("latest_metrics", "observations", "data_quality_daily", "ingested_events", "scoring_settings")
PEOPLE_VIEWS = ("webhook_processing_stats", "data_quality_trends", "pipeline_stats")
CONNECTION_READ = (
    "user_id, provider, reference_id, status, scopes, connected_at, updated_at, last_event_id, last_event_ts, "
    "replaced_by"
)
"""What the sink reads of a connection (lifecycle bookkeeping and the purge predicate): not sex, birth year."""
ANALYST_CONNECTIONS = """
CREATE VIEW analyst_connections AS
SELECT user_id, provider, status, scopes, connected_at, updated_at, replaced_by
FROM provider_connections;
COMMENT ON VIEW analyst_connections IS
    'Connections for analysts: no reference_id (the developer''s own user id), sex or birth year.';
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


def _in_schema(*statements: str) -> str:
    """Run statements with ``%I`` standing for the current schema (migrations may target any schema)."""
    body = "\n".join(f"    EXECUTE format('{s}', current_schema());" for s in statements)
    return f"DO $$\nBEGIN\n{body}\nEND\n$$;"


def upgrade() -> None:
    for role in ROLES:
        op.execute(_create_role(role))
    op.execute(
        _in_schema(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM vitalstream_analyst",
            "REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM vitalstream_analyst",
            *(f"GRANT USAGE ON SCHEMA %I TO {role}" for role in ROLES),
        )
    )
    op.execute(ANALYST_CONNECTIONS)
    for table in SINK_TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO vitalstream_sink")
    op.execute(f"GRANT SELECT ({CONNECTION_READ}) ON provider_connections TO vitalstream_sink")
    op.execute("GRANT INSERT, UPDATE, DELETE ON provider_connections TO vitalstream_sink")
    op.execute("GRANT SELECT, UPDATE ON scoring_settings TO vitalstream_sink")  # its one row, at start (0008)
    op.execute("ALTER FUNCTION ensure_observation_partitions(timestamptz, integer) SECURITY DEFINER")
    op.execute("REVOKE EXECUTE ON FUNCTION ensure_observation_partitions(timestamptz, integer) FROM PUBLIC")
    op.execute("GRANT EXECUTE ON FUNCTION ensure_observation_partitions(timestamptz, integer) TO vitalstream_sink")
    for relation in (*ANALYST_TABLES, *PEOPLE_VIEWS, "analyst_connections"):
        op.execute(f"GRANT SELECT ON {relation} TO vitalstream_analyst")


def downgrade() -> None:
    """Back to 0008's grants: the analyst reads every table again; the service roles stay (cluster-wide)."""
    op.execute("DROP VIEW IF EXISTS analyst_connections")
    op.execute("ALTER FUNCTION ensure_observation_partitions(timestamptz, integer) SECURITY INVOKER")
    op.execute("GRANT EXECUTE ON FUNCTION ensure_observation_partitions(timestamptz, integer) TO PUBLIC")
    op.execute(
        _in_schema(
            "REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM vitalstream_sink",
            "REVOKE ALL ON FUNCTION ensure_observation_partitions(timestamptz, integer) FROM vitalstream_sink",
            "REVOKE USAGE ON SCHEMA %I FROM vitalstream_sink",
            "GRANT SELECT ON ALL TABLES IN SCHEMA %I TO vitalstream_analyst",
            "ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO vitalstream_analyst",
        )
    )
