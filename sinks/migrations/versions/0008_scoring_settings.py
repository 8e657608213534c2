"""One high-confidence threshold: ``pipeline_stats`` reads the configured model's, not a literal 80.

``scoring_settings`` is a one-row table the sink writes at start from its confidence model
(``VITALSTREAM_CONFIDENCE_MODEL``), so the view, the health document and the exporter agree with
the workers' scoring whatever the model says.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

VIEW = """
CREATE OR REPLACE VIEW pipeline_stats AS
SELECT now() AS as_of,
       (SELECT count(*) FROM latest_metrics) AS latest_metrics,
       (SELECT count(DISTINCT subject) FROM latest_metrics) AS subjects,
       (SELECT round(100.0 * avg((confidence >= t.high_confidence_threshold)::int), 2)
          FROM latest_metrics, scoring_settings t) AS high_confidence_rate,
       (SELECT round(avg(confidence)::numeric, 2) FROM latest_metrics) AS avg_confidence,
       (SELECT coalesce(sum(GREATEST(c.reltuples, 0)), 0)::bigint
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'observations'::regclass) AS observations_estimate,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'processed') AS events_processed,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'dead_lettered') AS events_dead_lettered,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'ignored') AS events_ignored,
       (SELECT count(*) FROM ingested_events WHERE first_seen_at > now() - interval '1 hour') AS events_last_hour,
       (SELECT max(updated_at) FROM ingested_events) AS last_event_at,
       (SELECT count(*) FROM provider_connections WHERE status = 'connected') AS active_connections;
"""

OLD_VIEW = """
CREATE OR REPLACE VIEW pipeline_stats AS
SELECT now() AS as_of,
       (SELECT count(*) FROM latest_metrics) AS latest_metrics,
       (SELECT count(DISTINCT subject) FROM latest_metrics) AS subjects,
       (SELECT round(100.0 * avg((confidence >= 80)::int), 2) FROM latest_metrics) AS high_confidence_rate,
       (SELECT round(avg(confidence)::numeric, 2) FROM latest_metrics) AS avg_confidence,
       (SELECT coalesce(sum(GREATEST(c.reltuples, 0)), 0)::bigint
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'observations'::regclass) AS observations_estimate,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'processed') AS events_processed,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'dead_lettered') AS events_dead_lettered,
       (SELECT count(*) FROM ingested_events WHERE outcome = 'ignored') AS events_ignored,
       (SELECT count(*) FROM ingested_events WHERE first_seen_at > now() - interval '1 hour') AS events_last_hour,
       (SELECT max(updated_at) FROM ingested_events) AS last_event_at,
       (SELECT count(*) FROM provider_connections WHERE status = 'connected') AS active_connections;
"""

COMMENT = (
    "COMMENT ON VIEW pipeline_stats IS 'One row: latest-metrics totals, high-confidence rate (share at or above "
    "scoring_settings.high_confidence_threshold, percent), ledger outcome counts, active connections.'"
)


def upgrade() -> None:
    op.execute(
        "CREATE TABLE scoring_settings ("
        " id boolean PRIMARY KEY DEFAULT true CHECK (id),"
        " high_confidence_threshold numeric NOT NULL DEFAULT 80"
        " CHECK (high_confidence_threshold BETWEEN 0 AND 100),"
        " updated_at timestamptz NOT NULL DEFAULT now())"
    )
    op.execute(
        "COMMENT ON TABLE scoring_settings IS 'The one row of scoring settings views need; written by the sink at "
        "start from its confidence model.'"
    )
    op.execute("INSERT INTO scoring_settings DEFAULT VALUES")
    op.execute(VIEW)
    op.execute(COMMENT)


def downgrade() -> None:
    op.execute(OLD_VIEW)
    op.execute("DROP TABLE scoring_settings")
