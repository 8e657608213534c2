"""The gateway's ceiling: a bare aiohttp handler that reads the body, parses the JSON and answers.

Run as its own process (``python -m vitalstream.bench.ceiling PORT``), like the gateway, so
the load generator measures both the same way.
"""

from __future__ import annotations

import sys

import orjson
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    doc = orjson.loads(await request.read())
    return web.Response(status=202, body=orjson.dumps({"event_id": str(len(doc))}), content_type="application/json")


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(body=b'{"status":"ok"}', content_type="application/json")


def app() -> web.Application:
    application = web.Application()
    application.router.add_post("/webhooks/{source}", accept)
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", healthz)
    return application


def main() -> None:
    web.run_app(app(), host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
