"""``data_quality_daily`` becomes a function of ``observations``, maintained by PostgreSQL.

Until now the sink replaced each day's row with the worker's running aggregate
(``metrics.quality_daily``), a second count of the same observations kept in a Faust table.
Under faults the two drifted apart (the chaos runs lost hundreds to thousands of
observations from the daily counts), and nothing tied the aggregate to what the sink
stored. Now statement-level triggers on ``observations`` fold every inserted, updated
and deleted row into its (UTC day, metric, provider) row, in the same transaction as the
change itself:

- a redelivered observation the upsert leaves alone changes no row, so it adds nothing;
- a crash rolls back the observation and its count together, so none is lost;
- a re-score (newer generation, same observation) moves its confidence and level, not the count;
- a purge or re-key through ``DELETE``/``INSERT`` subtracts/adds exactly what it removed/added
  (a group left without observations is deleted, as a recount would not show it).

Whatever writes ``observations`` (sink batches, lifecycle purges and re-keys, a manual fix)
keeps the invariant ``data_quality_daily = recount(observations)``; only dropping an old
monthly partition (retention) leaves those days' rows as history, as intended.
``generation`` is the newest scoring generation that touched the row.

The upgrade recounts every (day, metric, provider) that has observations, so an existing
deployment starts exact; rows for days whose observations are gone stay as they were.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

LEVELS = ("excellent", "good", "fair")  # anything else counts as poor, as the worker does

# One signed row per changed observation: +1 for a row now present, -1 for a row gone.
_CHANGES = {
    "INSERT": "SELECT 1 AS sign, * FROM vs_new_rows",
    "UPDATE": "SELECT 1 AS sign, * FROM vs_new_rows UNION ALL SELECT -1, * FROM vs_old_rows",
    "DELETE": "SELECT -1 AS sign, * FROM vs_old_rows",
}


def _level_sums(alias: str) -> str:
    terms = [f"sum({alias}.sign) FILTER (WHERE {alias}.level = '{lv}')" for lv in LEVELS]
    known = ", ".join(f"'{lv}'" for lv in LEVELS)
    terms.append(f"sum({alias}.sign) FILTER (WHERE {alias}.level IS NULL OR {alias}.level NOT IN ({known}))")
    return ", ".join(f"coalesce({t}, 0)" for t in terms)


def _apply(changes: str) -> str:
    """Fold the signed ``changes`` into ``data_quality_daily``.

    Groups that grow or stay (``n >= 0``) go through an upsert, keys in order so that two sinks
    never deadlock; groups that shrink (a purge) only update existing rows, because the
    ``count >= 0`` check applies to an upsert's proposed row before its conflict is resolved.
    """
    return f"""
WITH d (day, metric, provider, n, s, e, g, f, p, gen) AS MATERIALIZED (
    SELECT (c.measured_at AT TIME ZONE 'UTC')::date AS day, c.metric, c.provider,
           sum(c.sign) AS n, coalesce(sum(c.sign * c.confidence), 0) AS s, {_level_sums("c")},
           coalesce(max(c.generation) FILTER (WHERE c.sign > 0), 0) AS gen
    FROM ({changes}) c
    GROUP BY 1, 2, 3
),
grown AS (
    INSERT INTO data_quality_daily AS t
        (day, metric, provider, count, confidence_sum, avg_confidence, excellent, good, fair, poor, generation,
         updated_at)
    SELECT day, metric, provider, n, s, coalesce(s / NULLIF(n, 0), 0), e, g, f, p, gen, now()
    FROM d WHERE n >= 0
    ORDER BY day, metric, provider
    ON CONFLICT (day, metric, provider) DO UPDATE SET
        count = t.count + EXCLUDED.count,
        confidence_sum = t.confidence_sum + EXCLUDED.confidence_sum,
        avg_confidence = coalesce(
            (t.confidence_sum + EXCLUDED.confidence_sum) / NULLIF(t.count + EXCLUDED.count, 0), 0),
        excellent = t.excellent + EXCLUDED.excellent,
        good = t.good + EXCLUDED.good,
        fair = t.fair + EXCLUDED.fair,
        poor = t.poor + EXCLUDED.poor,
        generation = GREATEST(t.generation, EXCLUDED.generation),
        updated_at = now()
    WHERE (EXCLUDED.count, EXCLUDED.confidence_sum, EXCLUDED.excellent, EXCLUDED.good, EXCLUDED.fair,
           EXCLUDED.poor) <> (0, 0, 0, 0, 0, 0)
       OR EXCLUDED.generation > t.generation
)
UPDATE data_quality_daily AS t SET
    count = t.count + d.n,
    confidence_sum = t.confidence_sum + d.s,
    avg_confidence = coalesce((t.confidence_sum + d.s) / NULLIF(t.count + d.n, 0), 0),
    excellent = t.excellent + d.e,
    good = t.good + d.g,
    fair = t.fair + d.f,
    poor = t.poor + d.p,
    generation = GREATEST(t.generation, d.gen),
    updated_at = now()
FROM d
WHERE d.n < 0 AND (t.day, t.metric, t.provider) = (d.day, d.metric, d.provider)"""


# A group whose last observation went (a purge) disappears, as it would from a recount.
_DROP_EMPTY = """
DELETE FROM data_quality_daily AS t
USING (SELECT DISTINCT (measured_at AT TIME ZONE 'UTC')::date AS day, metric, provider FROM vs_old_rows) AS k
WHERE (t.day, t.metric, t.provider) = (k.day, k.metric, k.provider) AND t.count = 0"""


def _function() -> str:
    bodies = {
        op_: _apply(changes) + ";" + (_DROP_EMPTY + ";" if "vs_old_rows" in changes else "")
        for op_, changes in _CHANGES.items()
    }
    branches = "\n    ELS".join(f"IF TG_OP = '{op_}' THEN{body}" for op_, body in bodies.items())
    return f"""
CREATE FUNCTION observations_to_quality_daily() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $fn$
BEGIN
    {branches}
    END IF;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION observations_to_quality_daily() IS
    'Keeps data_quality_daily equal to a recount of observations (statement-level, transition tables).';
"""


TRIGGERS = """
CREATE TRIGGER observations_quality_insert AFTER INSERT ON observations
    REFERENCING NEW TABLE AS vs_new_rows FOR EACH STATEMENT EXECUTE FUNCTION observations_to_quality_daily();
CREATE TRIGGER observations_quality_update AFTER UPDATE ON observations
    REFERENCING OLD TABLE AS vs_old_rows NEW TABLE AS vs_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION observations_to_quality_daily();
CREATE TRIGGER observations_quality_delete AFTER DELETE ON observations
    REFERENCING OLD TABLE AS vs_old_rows FOR EACH STATEMENT EXECUTE FUNCTION observations_to_quality_daily();
"""

# What the triggers maintain, computed from scratch.
_RECOUNT = f"""
SELECT (o.measured_at AT TIME ZONE 'UTC')::date AS day, o.metric, o.provider,
       count(*) AS n, sum(o.confidence) AS s, {_level_sums("o")}, max(o.generation) AS gen
FROM (SELECT 1 AS sign, * FROM observations) o
GROUP BY 1, 2, 3
"""

_REBUILD = f"""
INSERT INTO data_quality_daily AS t
    (day, metric, provider, count, confidence_sum, avg_confidence, excellent, good, fair, poor, generation, updated_at)
SELECT day, metric, provider, n, s, s / n, e, g, f, p, gen, now()
FROM ({_RECOUNT}) AS r (day, metric, provider, n, s, e, g, f, p, gen)
ORDER BY day, metric, provider
ON CONFLICT (day, metric, provider) DO UPDATE SET
    count = EXCLUDED.count, confidence_sum = EXCLUDED.confidence_sum, avg_confidence = EXCLUDED.avg_confidence,
    excellent = EXCLUDED.excellent, good = EXCLUDED.good, fair = EXCLUDED.fair, poor = EXCLUDED.poor,
    generation = GREATEST(t.generation, EXCLUDED.generation), updated_at = now()
"""


def upgrade() -> None:
    op.execute("ALTER TABLE data_quality_daily ADD COLUMN confidence_sum double precision NOT NULL DEFAULT 0")
    op.execute("UPDATE data_quality_daily SET confidence_sum = avg_confidence * count")
    op.execute(
        "COMMENT ON COLUMN data_quality_daily.confidence_sum IS "
        "'sum of the confidences counted (avg_confidence = confidence_sum / count)'"
    )
    op.execute(_function())
    op.execute(TRIGGERS)  # takes the lock that keeps writers out until the recount below commits
    op.execute(_REBUILD)


def downgrade() -> None:
    for name in ("insert", "update", "delete"):
        op.execute(f"DROP TRIGGER observations_quality_{name} ON observations")
    op.execute("DROP FUNCTION observations_to_quality_daily()")
    op.execute("ALTER TABLE data_quality_daily DROP COLUMN confidence_sum")
