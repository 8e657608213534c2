"""The read API's SQL, through one psycopg ``AsyncConnectionPool`` (autocommit, read-only).

Every connection gets a statement timeout and UTC as its time zone, so an overloaded
database answers "timeout" instead of holding a request forever, and every time comes
back as UTC. Queries are simple enough for psycopg to prepare them after a few uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from vitalstream.api.keys import ApiKey
from vitalstream.platform.settings import Settings

METRIC_COLUMNS = (
    "metric",
    "value",
    "unit",
    "measured_at",
    "measured_until",
    "provider",
    "confidence",
    "level",
    "generation",
    "updated_at",
)
OBSERVATION_COLUMNS = (
    "metric",
    "provider",
    "measured_at",
    "measured_until",
    "value",
    "unit",
    "confidence",
    "level",
    "device",
    "generation",
)

LATEST = f"SELECT {', '.join(METRIC_COLUMNS)} FROM latest_metrics WHERE subject = %s ORDER BY metric"
LATEST_MANY = (
    f"SELECT subject, {', '.join(METRIC_COLUMNS)} FROM latest_metrics "
    "WHERE subject = ANY(%s::text[]) ORDER BY subject, metric"
)
LATEST_ONE = f"SELECT {', '.join(METRIC_COLUMNS)} FROM latest_metrics WHERE subject = %s AND metric = %s"
SUBJECT_KNOWN = "SELECT EXISTS (SELECT 1 FROM latest_metrics WHERE subject = %s)"
KEY_BY_HASH = "SELECT name, subjects, scopes, revoked_at FROM api_keys WHERE key_hash = %s"
QUALITY = """
SELECT (measured_at AT TIME ZONE 'UTC')::date AS day, metric, provider, count(*) AS count,
       round(avg(confidence)::numeric, 2)::float8 AS avg_confidence,
       count(*) FILTER (WHERE level = 'excellent') AS excellent,
       count(*) FILTER (WHERE level = 'good') AS good,
       count(*) FILTER (WHERE level = 'fair') AS fair,
       count(*) FILTER (WHERE level = 'poor') AS poor
FROM observations
WHERE subject = %s AND measured_at >= %s
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3
"""


async def _configure(conn: AsyncConnection[Any], statement_timeout_ms: int) -> None:
    await conn.set_autocommit(True)
    await conn.execute(
        "SELECT set_config('statement_timeout', %s, false), set_config('TimeZone', 'UTC', false), "
        "set_config('default_transaction_read_only', 'on', false)",
        (f"{statement_timeout_ms}ms",),
    )


def make_pool(settings: Settings) -> AsyncConnectionPool[AsyncConnection[dict[str, Any]]]:
    """Not opened: the app opens it on start and closes it on stop."""
    timeout_ms = settings.api_statement_timeout_ms

    async def configure(conn: AsyncConnection[Any]) -> None:
        await _configure(conn, timeout_ms)

    return AsyncConnectionPool(
        settings.api_database_dsn(),
        min_size=settings.api_pool_min,
        max_size=max(settings.api_pool_min, settings.api_pool_max),
        timeout=settings.api_pool_timeout_s,
        kwargs={"connect_timeout": max(1, round(settings.api_connect_timeout_s)), "row_factory": dict_row},
        configure=configure,
        open=False,
        name="vitalstream-api",
    )


Pool = AsyncConnectionPool[AsyncConnection[dict[str, Any]]]


async def latest_many(pool: Pool, subjects: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Every latest value of these subjects, by subject (one query: see ``vitalstream.api.coalesce``).

    One subject, the common case below saturation, is asked with ``= %s``: an array parameter
    costs both sides more (measured: +35–100 µs in the API and +50–100 µs in PostgreSQL a query).
    """
    async with pool.connection() as conn:
        if len(subjects) == 1:
            cur = await conn.execute(LATEST, (subjects[0],))
            return {subjects[0]: rows} if (rows := await cur.fetchall()) else {}
        cur = await conn.execute(LATEST_MANY, (subjects,))
        rows = await cur.fetchall()
    found: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.pop("subject"), []).append(row)
    return found


async def latest_one(pool: Pool, subject: str, metric: str) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.execute(LATEST_ONE, (subject, metric))
        return await cur.fetchone()


async def subject_known(pool: Pool, subject: str) -> bool:
    async with pool.connection() as conn:
        cur = await conn.execute(SUBJECT_KNOWN, (subject,))
        row = await cur.fetchone()
        return bool(row and row["exists"])


@dataclass(frozen=True, slots=True)
class ObservationQuery:
    subject: str
    limit: int
    metric: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: tuple[str, str, datetime] | None = None
    """The key of the previous page's last row (the cursor)."""


def observations_sql(q: ObservationQuery) -> tuple[sql.Composed, dict[str, Any]]:
    """Only the filters given, so every combination plans as an index scan on the primary key."""
    where = [sql.SQL("subject = %(subject)s")]
    params: dict[str, Any] = {"subject": q.subject, "limit": q.limit + 1}
    if q.metric is not None:
        where.append(sql.SQL("metric = %(metric)s"))
        params["metric"] = q.metric
    if q.since is not None:
        where.append(sql.SQL("measured_at >= %(since)s"))
        params["since"] = q.since
    if q.until is not None:
        where.append(sql.SQL("measured_at < %(until)s"))
        params["until"] = q.until
    if q.after is not None:
        where.append(sql.SQL("(metric, provider, measured_at) > (%(a_metric)s, %(a_provider)s, %(a_at)s)"))
        params |= {"a_metric": q.after[0], "a_provider": q.after[1], "a_at": q.after[2]}
    query = sql.SQL(
        "SELECT {cols} FROM observations WHERE {where} ORDER BY metric, provider, measured_at LIMIT %(limit)s"
    )
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in OBSERVATION_COLUMNS)
    return query.format(cols=cols, where=sql.SQL(" AND ").join(where)), params


async def observations(pool: Pool, q: ObservationQuery) -> tuple[list[dict[str, Any]], bool]:
    """One page and whether there is another after it."""
    query, params = observations_sql(q)
    async with pool.connection() as conn:
        cur = await conn.execute(query, params)
        rows = await cur.fetchall()
    return rows[: q.limit], len(rows) > q.limit


async def quality(pool: Pool, subject: str, since: datetime) -> list[dict[str, Any]]:
    async with pool.connection() as conn:
        cur = await conn.execute(QUALITY, (subject, since))
        return await cur.fetchall()


async def key_by_hash(pool: Pool, key_hash: bytes) -> ApiKey | None:
    async with pool.connection() as conn:
        cur = await conn.execute(KEY_BY_HASH, (key_hash,))
        row = await cur.fetchone()
    if row is None:
        return None
    return ApiKey(row["name"], tuple(row["subjects"]), frozenset(row["scopes"]), row["revoked_at"])
