"""The read API's ceiling: a bare aiohttp handler running one latest-metrics query per request
through a psycopg pool (no key check, no ETag, no coalescing) and answering the rows as JSON.

Run as its own process(es) (``python -m vitalstream.bench.api_ceiling PORT DSN [PROCESSES]``), like the API.
"""

from __future__ import annotations

import multiprocessing as mp
import sys
from collections.abc import AsyncIterator

import orjson
from aiohttp import web
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from vitalstream.api.queries import LATEST
from vitalstream.platform.runtime import freeze_startup_heap

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


def serve(port: int, dsn: str, reuse_port: bool) -> None:
    application = app(dsn)
    freeze_startup_heap()  # the same runtime treatment as the API's processes
    web.run_app(application, host="127.0.0.1", port=port, reuse_port=reuse_port or None, access_log=None, print=None)


def main() -> None:
    """``PORT DSN [PROCESSES]``: as many processes as the API runs, on one port (SO_REUSEPORT)."""
    port, dsn = int(sys.argv[1]), sys.argv[2]
    processes = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    ctx = mp.get_context("spawn")
    others = [ctx.Process(target=serve, args=(port, dsn, True), daemon=True) for _ in range(processes - 1)]
    for process in others:
        process.start()
    try:
        serve(port, dsn, bool(others))
    finally:
        for process in others:
            process.terminate()


if __name__ == "__main__":
    main()
