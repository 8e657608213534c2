"""The read API's latest-values statements on a real PostgreSQL: the one-subject form and the
batch form the coalescer sends under load answer the same rows."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from tests.fix_pg import with_search_path
from vitalstream.api import queries

ROWS = (("s-1", "heart_rate", 61.0), ("s-1", "body_weight", 70.5), ("s-2", "step_count", 8123.0))


def _seed(url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(url, autocommit=True) as conn:
        for n, (subject, metric, value) in enumerate(ROWS):
            conn.execute(
                "INSERT INTO latest_metrics (subject, metric, value, unit, measured_at, provider, confidence, "
                "level, reliability, event_id, ordering_ts) VALUES (%s, %s, %s, 'u', %s, 'GARMIN', 80, 'good', "
                "0.8, %s, %s)",
                (subject, metric, value, now, f"e{n}", now),
            )


async def _latest(url: str, *batches: list[str]) -> list[dict[str, list[dict[str, Any]]]]:
    pool: queries.Pool = AsyncConnectionPool(
        url, min_size=1, max_size=1, kwargs={"row_factory": dict_row, "autocommit": True}, open=False
    )
    async with pool:
        return [await queries.latest_many(pool, subjects) for subjects in batches]


def test_one_subject_and_a_batch_answer_the_same_rows_in_metric_order(database_url: str, db_schema: str) -> None:
    url = with_search_path(database_url, db_schema)
    _seed(url)
    alone_1, alone_2, nobody, batch = asyncio.run(_latest(url, ["s-1"], ["s-2"], ["nobody"], ["s-2", "nobody", "s-1"]))
    assert [r["metric"] for r in alone_1["s-1"]] == ["body_weight", "heart_rate"]
    assert [r["value"] for r in alone_2["s-2"]] == [8123.0]
    assert nobody == {}, "an unknown subject has no entry (the coalescer answers it 'missing')"
    assert batch == {"s-1": alone_1["s-1"], "s-2": alone_2["s-2"]}
    assert set(batch["s-1"][0]) == set(queries.METRIC_COLUMNS), "the batch's subject column is not in a row"
