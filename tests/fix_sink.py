"""Sink fixtures shared by the sink integration tests: in-process sinks on the test's schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sinks.service import Sink
from vitalstream.platform.settings import Settings

MakeSink = Callable[..., Sink]


@pytest.fixture
def make_sink(db_settings: Settings) -> Iterator[MakeSink]:
    """``make(settings=None, after_db_commit=None, **overrides)``: a new Sink; the previous one is closed
    first (one member per group at a time: no rebalance waits)."""
    made: list[Sink] = []

    def make(
        settings: Settings | None = None, after_db_commit: Callable[[], None] | None = None, **overrides: Any
    ) -> Sink:
        s = settings or db_settings
        if overrides:
            s = s.model_copy(update=overrides)
        for previous in made:
            previous.close()
        sink = Sink(s, after_db_commit=after_db_commit)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_dsn(), autocommit=True)


# ``data_quality_daily`` against a recount of ``observations``: every (day, metric, provider) on which
# the two disagree (count, level counts, confidence sum/average). Missing on one side counts as zero.
QUALITY_DRIFT = """
WITH recount AS (
    SELECT (measured_at AT TIME ZONE 'UTC')::date AS day, metric, provider, count(*) AS n,
           sum(confidence) AS s,
           count(*) FILTER (WHERE level = 'excellent') AS e, count(*) FILTER (WHERE level = 'good') AS g,
           count(*) FILTER (WHERE level = 'fair') AS f,
           count(*) FILTER (WHERE level IS NULL OR level NOT IN ('excellent', 'good', 'fair')) AS p
    FROM observations GROUP BY 1, 2, 3
)
SELECT coalesce(q.day, r.day), coalesce(q.metric, r.metric), coalesce(q.provider, r.provider),
       coalesce(q.count, 0) AS stored, coalesce(r.n, 0) AS recounted
FROM data_quality_daily q
FULL JOIN recount r ON (q.day, q.metric, q.provider) = (r.day, r.metric, r.provider)
WHERE (coalesce(q.count, 0), coalesce(q.excellent, 0), coalesce(q.good, 0), coalesce(q.fair, 0), coalesce(q.poor, 0))
      IS DISTINCT FROM (coalesce(r.n, 0), coalesce(r.e, 0), coalesce(r.g, 0), coalesce(r.f, 0), coalesce(r.p, 0))
   OR abs(coalesce(q.confidence_sum, 0) - coalesce(r.s, 0)) > 1e-6
   OR abs(coalesce(q.avg_confidence, 0) - coalesce(r.s / r.n, 0)) > 1e-6
ORDER BY 1, 2, 3
"""


def quality_drift(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """(day, metric, provider, stored count, recounted count) wherever the daily aggregate is wrong."""
    return list(conn.execute(QUALITY_DRIFT).fetchall())
