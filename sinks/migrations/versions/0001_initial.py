"""Initial schema: observations (monthly partitions), latest_metrics, provider_connections,
ingested_events, data_quality_daily, the views for people and the read-only analyst role.

Every object is created unqualified, so it lands in the first schema of the search path
(``sinks.migrate`` points it at the requested schema). Text columns that take part in the
§6 tie-break (``provider``, ``event_id``) use the "C" collation so PostgreSQL orders them
exactly as Python compares strings (code point order).

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

LEVELS = "('excellent', 'good', 'fair', 'poor')"

TABLES = f"""
CREATE TABLE observations (
    subject        text NOT NULL,
    metric         text NOT NULL,
    provider       text COLLATE "C" NOT NULL,
    measured_at    timestamptz NOT NULL,
    measured_until timestamptz,
    value          double precision NOT NULL,
    unit           text NOT NULL,
    confidence     double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    level          text NOT NULL CHECK (level IN {LEVELS}),
    components     jsonb NOT NULL DEFAULT '{{}}'::jsonb,
    reliability    double precision NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    ordering_ts    timestamptz NOT NULL,
    user_id        text,
    device         text,
    upload_type    text,
    provenance     text,
    source         text,
    completeness   double precision,
    scored_at      timestamptz NOT NULL,
    inserted_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (measured_until IS NULL OR measured_until >= measured_at),
    PRIMARY KEY (subject, metric, provider, measured_at)
) PARTITION BY RANGE (measured_at);

CREATE TABLE observations_default PARTITION OF observations DEFAULT;
CREATE INDEX observations_user_id_idx ON observations (user_id);

COMMENT ON TABLE observations IS
    'Every scored value (design §8). Monthly range partitions on measured_at plus a DEFAULT partition; '
    'old months are dropped whole by `vitalstream db retention`.';

CREATE TABLE latest_metrics (
    subject        text NOT NULL,
    metric         text NOT NULL,
    value          double precision NOT NULL,
    unit           text NOT NULL,
    measured_at    timestamptz NOT NULL,
    measured_until timestamptz,
    provider       text COLLATE "C" NOT NULL,
    confidence     double precision NOT NULL CHECK (confidence >= 0 AND confidence <= 100),
    level          text NOT NULL CHECK (level IN {LEVELS}),
    reliability    double precision NOT NULL,
    event_id       text COLLATE "C" NOT NULL,
    ordering_ts    timestamptz NOT NULL,
    user_id        text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (measured_until IS NULL OR measured_until >= measured_at),
    PRIMARY KEY (subject, metric)
);
CREATE INDEX latest_metrics_user_id_idx ON latest_metrics (user_id);

COMMENT ON TABLE latest_metrics IS
    'Current winner per (subject, metric) by the rule of design §6: newer measured_at, then higher '
    'confidence, reliability, ordering_ts, then event_id and provider (deterministic final tie).';

CREATE TABLE provider_connections (
    user_id       text PRIMARY KEY,
    provider      text,
    reference_id  text,
    status        text NOT NULL,
    scopes        text,
    sex           text,
    birth_year    integer,
    connected_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_event_id text COLLATE "C",
    last_event_ts timestamptz,
    replaced_by   text
);
CREATE INDEX provider_connections_reference_id_idx ON provider_connections (reference_id);
CREATE INDEX provider_connections_replaced_by_idx ON provider_connections (replaced_by);

CREATE TABLE ingested_events (
    event_id      text PRIMARY KEY,
    outcome       text NOT NULL CHECK (outcome IN ('processed', 'dead_lettered', 'ignored')),
    stage         text NOT NULL,
    reason        text,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ingested_events_first_seen_at_idx ON ingested_events (first_seen_at);

CREATE TABLE data_quality_daily (
    day            date NOT NULL,
    metric         text NOT NULL,
    provider       text NOT NULL,
    count          bigint NOT NULL CHECK (count >= 0),
    avg_confidence double precision NOT NULL,
    excellent      bigint NOT NULL DEFAULT 0,
    good           bigint NOT NULL DEFAULT 0,
    fair           bigint NOT NULL DEFAULT 0,
    poor           bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, metric, provider)
);
"""

# Creates the monthly partitions [month of p_from, + p_months). Rows that already sit in the
# DEFAULT partition for that month are moved into the new partition before it is attached,
# so creating a partition late never fails. Idempotent; serialised by an advisory lock.
PARTITION_FUNCTION = """
CREATE FUNCTION ensure_observation_partitions(p_from timestamptz, p_months integer DEFAULT 1)
RETURNS SETOF text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    base timestamp := date_trunc('month', p_from AT TIME ZONE 'UTC');
    lo   timestamptz;
    hi   timestamptz;
    part text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.observations.partitions'));
    FOR i IN 0 .. p_months - 1 LOOP
        lo := (base + make_interval(months => i)) AT TIME ZONE 'UTC';
        hi := (base + make_interval(months => i + 1)) AT TIME ZONE 'UTC';
        part := 'observations_p' || to_char(base + make_interval(months => i), 'YYYY_MM');
        IF to_regclass(quote_ident(part)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I (LIKE observations INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            EXECUTE format(
                'WITH moved AS (DELETE FROM observations_default WHERE measured_at >= $1 AND measured_at < $2 '
                'RETURNING *) INSERT INTO %I SELECT * FROM moved', part) USING lo, hi;
            EXECUTE format('ALTER TABLE observations ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
            RETURN NEXT part;
        END IF;
    END LOOP;
END
$fn$;
"""

VIEWS = """
CREATE VIEW webhook_processing_stats AS
SELECT date_trunc('hour', first_seen_at) AS hour,
       stage,
       count(*) AS total,
       count(*) FILTER (WHERE outcome = 'processed') AS processed,
       count(*) FILTER (WHERE outcome = 'dead_lettered') AS dead_lettered,
       count(*) FILTER (WHERE outcome = 'ignored') AS ignored,
       round(100.0 * count(*) FILTER (WHERE outcome <> 'dead_lettered') / count(*), 2) AS success_rate,
       max(updated_at) AS last_update
FROM ingested_events
GROUP BY 1, 2;

COMMENT ON VIEW webhook_processing_stats IS 'Events per hour and stage by outcome; success_rate in percent.';

CREATE VIEW data_quality_trends AS
SELECT day,
       metric,
       provider,
       count,
       avg_confidence,
       round(100.0 * excellent / NULLIF(count, 0), 2) AS excellent_pct,
       round(100.0 * good / NULLIF(count, 0), 2) AS good_pct,
       round(100.0 * fair / NULLIF(count, 0), 2) AS fair_pct,
       round(100.0 * poor / NULLIF(count, 0), 2) AS poor_pct,
       sum(avg_confidence * count) OVER w7 / NULLIF(sum(count) OVER w7, 0) AS avg_confidence_7d,
       avg_confidence - lag(avg_confidence) OVER (PARTITION BY metric, provider ORDER BY day) AS change_vs_previous_day
FROM data_quality_daily
WINDOW w7 AS (PARTITION BY metric, provider ORDER BY day RANGE BETWEEN '6 days'::interval PRECEDING AND CURRENT ROW);

COMMENT ON VIEW data_quality_trends IS
    'Daily quality per metric and provider with level shares (percent), a count-weighted 7-day average '
    'confidence and the change against the previous day.';

CREATE VIEW pipeline_stats AS
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

COMMENT ON VIEW pipeline_stats IS
    'One row: latest-metrics totals, high-confidence rate (share >= 80, percent), ledger outcome counts, '
    'active connections.';
"""

# Roles are cluster-wide: create it once, tolerate a concurrent creator; grants are per schema.
ANALYST_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vitalstream_analyst') THEN
        CREATE ROLE vitalstream_analyst NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO vitalstream_analyst', current_schema());
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO vitalstream_analyst', current_schema());
    EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO vitalstream_analyst',
                   current_schema());
END
$$;
"""

DROP_ALL = """
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'vitalstream_analyst') THEN
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE SELECT ON TABLES FROM vitalstream_analyst',
                       current_schema());
        EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM vitalstream_analyst', current_schema());
    END IF;
END
$$;
DROP VIEW IF EXISTS pipeline_stats;
DROP VIEW IF EXISTS data_quality_trends;
DROP VIEW IF EXISTS webhook_processing_stats;
DROP FUNCTION IF EXISTS ensure_observation_partitions(timestamptz, integer);
DROP TABLE IF EXISTS data_quality_daily;
DROP TABLE IF EXISTS ingested_events;
DROP TABLE IF EXISTS provider_connections;
DROP TABLE IF EXISTS latest_metrics;
DROP TABLE IF EXISTS observations;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(PARTITION_FUNCTION)
    # the previous month, this month and three ahead; the sink adds more as data needs them
    op.execute("SELECT ensure_observation_partitions(now() - interval '1 month', 5)")
    op.execute(VIEWS)
    op.execute(ANALYST_ROLE)


def downgrade() -> None:
    op.execute(DROP_ALL)
