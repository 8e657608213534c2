"""The read API's ceiling: a bare aiohttp handler running the API's own latest-metrics query
through a psycopg pool (no key check, no ETag) and answering the rows as JSON.

Run as its own process (``python -m vitalstream.bench.api_ceiling PORT DSN``), like the API.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import orjson
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from vitalstream.api.queries import LATEST

POOL = web.AppKey("pool", AsyncConnectionPool)


async def metrics(request: web.Request) -> web.Response:
    async with request.app[POOL].connection() as conn:
        cur = await conn.execute(LATEST, (request.match_info["subject"],))
        rows = await cur.fetchall()
    return web.Response(body=orjson.dumps({"metrics": rows}, option=orjson.OPT_UTC_Z), content_type="application/json")


def app(dsn: str) -> web.Application:
    application = web.Application()

    async def pool(app_: web.Application) -> AsyncIterator[None]:
        app_[POOL] = AsyncConnectionPool(
            dsn, min_size=2, max_size=8, kwargs={"row_factory": dict_row, "autocommit": True}
        )
        await app_[POOL].open()
        yield
        await app_[POOL].close()

    application.cleanup_ctx.append(pool)
    application.router.add_get("/v1/subjects/{subject}/metrics", metrics)
    return application


def main() -> None:
    web.run_app(app(sys.argv[2]), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
