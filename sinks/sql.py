"""SQL text of the sink (pure strings, built once from the column lists of :mod:`sinks.rows`)."""

from __future__ import annotations

from sinks.outcomes import OUTCOME_COLUMNS
from sinks.rows import LATEST_COLUMNS, LEDGER_COLUMNS, OBSERVATION_COLUMNS, QUALITY_COLUMNS
from sinks.rule import OBSERVATION_VERSION_COLUMNS, sql_order_by, sql_wins

OBS_KEY = ("subject", "metric", "provider", "measured_at")
LATEST_KEY = ("subject", "metric")
QUALITY_KEY = ("day", "metric", "provider")


def cols(names: tuple[str, ...], alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + n for n in names)


def _sets(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n} = EXCLUDED.{n}" for n in names)


OBS_VALUE_COLUMNS = tuple(c for c in OBSERVATION_COLUMNS if c not in OBS_KEY)
LATEST_VALUE_COLUMNS = tuple(c for c in LATEST_COLUMNS if c not in LATEST_KEY)
QUALITY_VALUE_COLUMNS = tuple(c for c in QUALITY_COLUMNS if c not in QUALITY_KEY)

# Staging tables live per connection and empty themselves at every commit. They are filled
# by binary COPY (``STAGE_TYPES`` names each column's type for psycopg), so every column's
# type must match the Python value exactly; ``components`` is staged as text and cast.
# One staging table carries observations and latest candidates (flags say which upsert takes a row).
STAGING_DDL = """
CREATE TEMP TABLE IF NOT EXISTS vs_stage_rows (
    subject text, metric text, provider text COLLATE "C", measured_at timestamptz, measured_until timestamptz,
    value double precision, unit text, confidence double precision, level text, reliability double precision,
    event_id text COLLATE "C", ordering_ts timestamptz, user_id text, components text, device text,
    upload_type text, provenance text, source text, completeness double precision, scored_at timestamptz,
    generation bigint, value_operator text, reference_low double precision, reference_high double precision,
    interpretation text, code text, is_observation boolean, is_latest boolean
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS vs_stage_ledger (
    event_id text, outcome text, stage text, reason text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS vs_stage_outcomes (
    event_id text, outcome text, stage text, reason text, outcome_at timestamptz, ledger_offset bigint,
    source text, event_type text, observations integer, rejected integer
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS vs_stage_quality (
    day date, metric text, provider text, count bigint, avg_confidence double precision,
    excellent bigint, good bigint, fair bigint, poor bigint, generation bigint
) ON COMMIT DELETE ROWS;
"""

_F8, _TS = "float8", "timestamptz"
ROW_TYPES: tuple[str, ...] = (
    "text",
    "text",
    "text",
    _TS,
    _TS,
    _F8,
    "text",
    _F8,
    "text",
    _F8,
    "text",
    _TS,
    "text",
    "text",
    "text",
    "text",
    "text",
    "text",
    _F8,
    _TS,
    "int8",
    "text",
    _F8,
    _F8,
    "text",
    "text",
    "bool",
    "bool",
)
LEDGER_TYPES: tuple[str, ...] = ("text", "text", "text", "text")
OUTCOME_TYPES: tuple[str, ...] = ("text", "text", "text", "text", _TS, "int8", "text", "text", "int4", "int4")
QUALITY_TYPES: tuple[str, ...] = ("date", "text", "text", "int8", _F8, "int8", "int8", "int8", "int8", "int8")
ROW_FLAGS: tuple[str, ...] = ("is_observation", "is_latest")
assert len(ROW_TYPES) == len(OBSERVATION_COLUMNS) + len(ROW_FLAGS)
assert len(OUTCOME_TYPES) == len(OUTCOME_COLUMNS) and len(QUALITY_TYPES) == len(QUALITY_COLUMNS)

_BINARY = "FROM STDIN (FORMAT BINARY)"
COPY_ROWS = f"COPY vs_stage_rows ({cols(OBSERVATION_COLUMNS + ROW_FLAGS)}) {_BINARY}"
COPY_LEDGER = f"COPY vs_stage_ledger ({cols(LEDGER_COLUMNS)}) {_BINARY}"
COPY_OUTCOMES = f"COPY vs_stage_outcomes ({cols(OUTCOME_COLUMNS)}) {_BINARY}"
COPY_QUALITY = f"COPY vs_stage_quality ({cols(QUALITY_COLUMNS)}) {_BINARY}"

_OBS_NEWER = (
    f"({cols(OBSERVATION_VERSION_COLUMNS, 'EXCLUDED')}) >= ({cols(OBSERVATION_VERSION_COLUMNS, 't')})"
    f" AND ({cols(OBS_VALUE_COLUMNS, 't')}) IS DISTINCT FROM ({cols(OBS_VALUE_COLUMNS, 'EXCLUDED')})"
)
OBS_CONFLICT = f"""ON CONFLICT ({cols(OBS_KEY)}) DO UPDATE SET {_sets(OBS_VALUE_COLUMNS)}
WHERE {_OBS_NEWER}"""

_STAGED_OBSERVATION = cols(OBSERVATION_COLUMNS).replace("components", "components::jsonb")
UPSERT_OBSERVATIONS = f"""
INSERT INTO observations AS t ({cols(OBSERVATION_COLUMNS)})
SELECT {_STAGED_OBSERVATION} FROM vs_stage_rows WHERE is_observation
{OBS_CONFLICT}
"""

LATEST_CONFLICT = f"""ON CONFLICT ({cols(LATEST_KEY)}) DO UPDATE SET {_sets(LATEST_VALUE_COLUMNS)}, updated_at = now()
WHERE {sql_wins("EXCLUDED", "t")}"""

UPSERT_LATEST = f"""
INSERT INTO latest_metrics AS t ({cols(LATEST_COLUMNS)}, updated_at)
SELECT {cols(LATEST_COLUMNS)}, now() FROM vs_stage_rows WHERE is_latest
{LATEST_CONFLICT}
"""

# --- ingested_events (the rules are in sinks.outcomes) ---------------------------------------
_OUTCOME_RANK = "CASE {0} WHEN 'ignored' THEN 0 WHEN 'processed' THEN 1 ELSE 2 END"
_SINK_DEAD = "(t.outcome = 'dead_lettered' AND t.stage = 'sink')"

# The sink's provisional processed/ignored: only where no ledger record was applied yet.
LEDGER_CONFLICT = f"""ON CONFLICT (event_id) DO UPDATE SET
    outcome = EXCLUDED.outcome, stage = EXCLUDED.stage, reason = EXCLUDED.reason, updated_at = now()
WHERE t.outcome_at IS NULL
  AND (t.outcome, t.stage, t.reason) IS DISTINCT FROM (EXCLUDED.outcome, EXCLUDED.stage, EXCLUDED.reason)
  AND {_OUTCOME_RANK.format("EXCLUDED.outcome")} >= {_OUTCOME_RANK.format("t.outcome")}"""

UPSERT_LEDGER = f"""
INSERT INTO ingested_events AS t ({cols(LEDGER_COLUMNS)})
SELECT {cols(LEDGER_COLUMNS)} FROM vs_stage_ledger
{LEDGER_CONFLICT}
"""

# The sink's own dead letters: always recorded (whatever the ledger said before or says later).
INSERT_DEAD_LETTER = f"""
INSERT INTO ingested_events AS t ({cols(LEDGER_COLUMNS)}) VALUES (%s, %s, %s, %s)
ON CONFLICT (event_id) DO UPDATE SET
    outcome = EXCLUDED.outcome, stage = EXCLUDED.stage, reason = EXCLUDED.reason, updated_at = now()
WHERE (t.outcome, t.stage, t.reason) IS DISTINCT FROM (EXCLUDED.outcome, EXCLUDED.stage, EXCLUDED.reason)
"""

# The worker's ledger: the strictly later record (at, then offset) wins, except over a sink
# dead letter; a record saying what the row says already (a re-sent duplicate) changes nothing.
_OUTCOME_VALUES = tuple(c for c in OUTCOME_COLUMNS if c != "event_id")
# What an outcome says. A redelivered event that ends the same way again (e.g. a poison record
# dead-lettered a second time, with a new timestamp) says nothing new: the row stays as it was.
_OUTCOME_CONTENT = tuple(c for c in _OUTCOME_VALUES if c not in ("ledger_offset", "outcome_at"))
UPSERT_OUTCOMES = f"""
INSERT INTO ingested_events AS t ({cols(OUTCOME_COLUMNS)})
SELECT {cols(OUTCOME_COLUMNS)} FROM vs_stage_outcomes
ON CONFLICT (event_id) DO UPDATE SET {_sets(_OUTCOME_VALUES)}, updated_at = now()
WHERE (EXCLUDED.outcome_at, EXCLUDED.ledger_offset)
      > (coalesce(t.outcome_at, '-infinity'::timestamptz), coalesce(t.ledger_offset, -1))
  AND ({cols(_OUTCOME_CONTENT, "t")}) IS DISTINCT FROM ({cols(_OUTCOME_CONTENT, "EXCLUDED")})
  AND NOT {_SINK_DEAD}
"""

# A sink DLQ replay that now succeeds turns the sink's dead_lettered into processed.
LEDGER_REPLAYED = """
UPDATE ingested_events SET outcome = 'processed', stage = 'sink', reason = NULL, updated_at = now()
WHERE event_id = ANY(%s) AND outcome = 'dead_lettered' AND stage = 'sink'
"""

UPSERT_QUALITY = f"""
INSERT INTO data_quality_daily AS t ({cols(QUALITY_COLUMNS)}, updated_at)
SELECT {cols(QUALITY_COLUMNS)}, now() FROM vs_stage_quality
ON CONFLICT ({cols(QUALITY_KEY)}) DO UPDATE SET {_sets(QUALITY_VALUE_COLUMNS)}, updated_at = now()
WHERE EXCLUDED.generation >= t.generation
  AND ({cols(QUALITY_VALUE_COLUMNS, "t")}) IS DISTINCT FROM ({cols(QUALITY_VALUE_COLUMNS, "EXCLUDED")})
"""

CONNECTION_STATES = "SELECT user_id, status, replaced_by FROM provider_connections WHERE user_id = ANY(%s)"

# --- lifecycle: purge and re-key -------------------------------------------------------------
PURGE_PREDICATE = (
    "(user_id = %(user_id)s OR subject = %(terra_subject)s"
    " OR (user_id IS NULL AND subject = %(reference_id)s AND provider = %(provider)s))"
)
PURGE_LATEST = f"DELETE FROM latest_metrics WHERE {PURGE_PREDICATE} RETURNING subject, metric"
PURGE_OBSERVATIONS = f"DELETE FROM observations WHERE {PURGE_PREDICATE}"

# After a purge, the keys that lost their winner get the rule's answer over what remains.
REFILL_LATEST = f"""
INSERT INTO latest_metrics AS t ({cols(LATEST_COLUMNS)}, updated_at)
SELECT DISTINCT ON (o.subject, o.metric) {cols(LATEST_COLUMNS, "o")}, now()
FROM observations o
JOIN unnest(%s::text[], %s::text[]) AS k(subject, metric) ON o.subject = k.subject AND o.metric = k.metric
ORDER BY o.subject, o.metric, {sql_order_by("o")}
{LATEST_CONFLICT}
RETURNING t.subject, t.metric
"""


def _remapped(names: tuple[str, ...]) -> str:
    out = []
    for n in names:
        if n == "subject":
            out.append("%(new_subject)s")
        elif n == "user_id":
            out.append("%(new_user_id)s")
        else:
            out.append(n)
    return ", ".join(out)


REKEY_OBSERVATIONS_USER = (
    "UPDATE observations SET user_id = %(new_user_id)s WHERE user_id = %(old_user_id)s AND subject <> %(old_subject)s"
)
REKEY_OBSERVATIONS_MOVE = f"""
INSERT INTO observations AS t ({cols(OBSERVATION_COLUMNS)})
SELECT {_remapped(OBSERVATION_COLUMNS)} FROM observations WHERE subject = %(old_subject)s
{OBS_CONFLICT}
"""
REKEY_OBSERVATIONS_DELETE = "DELETE FROM observations WHERE subject = %(old_subject)s"

REKEY_LATEST_USER = (
    "UPDATE latest_metrics SET user_id = %(new_user_id)s WHERE user_id = %(old_user_id)s AND subject <> %(old_subject)s"
)
REKEY_LATEST_MOVE = f"""
INSERT INTO latest_metrics AS t ({cols(LATEST_COLUMNS)}, updated_at)
SELECT {_remapped(LATEST_COLUMNS)}, now() FROM latest_metrics WHERE subject = %(old_subject)s
{LATEST_CONFLICT}
"""
REKEY_LATEST_DELETE = "DELETE FROM latest_metrics WHERE subject = %(old_subject)s RETURNING subject, metric"

ENSURE_PARTITION = "SELECT ensure_observation_partitions(%s, 1)"
