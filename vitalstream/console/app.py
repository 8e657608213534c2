"""aiohttp wiring of the console: routes, security headers and errors, live feeds, lifecycle."""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from vitalstream.console import actions, auth, charts, pages, sources
from vitalstream.console.jobs import Jobs
from vitalstream.console.live import Feed, sse_frame
from vitalstream.console.state import SESSION_KEY, STATE_KEY, ConsoleState
from vitalstream.platform.observability import get_logger
from vitalstream.platform.settings import Settings

log = get_logger("console")
HERE = Path(__file__).parent
KEEPALIVE_S = 15.0
FRAGMENTS = {"overview": "_overview.html", "dlq": "_dlq.html", "recompute": "_recompute.html"}
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers on every answer; errors as a short page, never a traceback; one log line each."""
    start = time.perf_counter()
    try:
        response = await handler(request)
    except web.HTTPRedirection:
        raise
    except web.HTTPException as exc:
        response = _error_page(request, exc.status, exc.text or exc.reason)
    except Exception:
        log.exception("request_failed", method=request.method, path=request.path)
        response = _error_page(request, 500, "The console failed to handle the request; see its log.")
    if not request.path.startswith("/static/"):
        response.headers.update(SECURITY_HEADERS)
    session = request.get(SESSION_KEY)
    log.info(
        "request",
        method=request.method,
        route=request.match_info.route.resource.canonical if request.match_info.route.resource else "unmatched",
        status=response.status,
        duration_ms=round((time.perf_counter() - start) * 1000, 1),
        account=session.account if session else None,
    )
    return response


def _error_page(request: web.Request, status: int, message: str) -> web.Response:
    session = request.get(SESSION_KEY)
    if request.headers.get("Accept", "").startswith("application/json") or session is None:
        return web.Response(status=status, text=message)
    return pages.render(request, "error.html", status=status, status_code=status, message=message)


async def events(request: web.Request) -> web.StreamResponse:
    """``GET /events/{feed}``: the feed's fragments, rendered for this reader's role, as SSE."""
    name = request.match_info["feed"]
    feed = request.app[STATE_KEY].feeds.get(name)
    if feed is None:
        raise web.HTTPNotFound(text=f"no live feed {name}")
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"})
    response.headers.update(SECURITY_HEADERS)
    template = request.app[aiohttp_jinja2.APP_KEY].get_template(FRAGMENTS[name])
    try:
        await response.prepare(request)  # a page left at once can be gone before its headers are sent
        async with feed.subscribe() as queue:
            while True:
                try:
                    value = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    await response.write(b": keepalive\n\n")  # also how a gone browser is noticed
                    continue
                html = template.render(pages.context(request, live=value))
                await response.write(sse_frame("update", {"target": f"live-{name}", "html": html}))
    except ConnectionResetError:  # the page was closed or navigated away: the stream simply ends
        return response


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE_KEY]
    await state.pool.open(wait=True, timeout=30)
    log.info("console_started", host=state.settings.console_host, port=state.settings.console_port)
    yield
    await state.jobs.close()
    for feed in state.feeds.values():
        await feed.close()
    await state.pool.close()


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[guard, auth.sessions], client_max_size=1024 * 1024)
    feeds: dict[str, Feed] = {}

    def refresh_feeds() -> None:  # a job moved on: show it now, not at the next interval
        for feed in feeds.values():
            feed.poke()

    pool = AsyncConnectionPool(settings.database_dsn(), min_size=1, max_size=4, open=False, kwargs={"autocommit": True})
    state = ConsoleState(settings, pool, Jobs(refresh_feeds), feeds)
    for name, compute in sources.FEEDS.items():
        feeds[name] = Feed(name, functools.partial(compute, state), settings.console_live_interval_s)
    app[STATE_KEY] = state
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
    )
    env.globals["level_chart"] = charts.level_chart
    r = app.router
    r.add_static("/static", HERE / "static", name="static")
    r.add_get("/healthz", healthz)
    r.add_get("/login", auth.login_page)
    r.add_post("/login", auth.login)
    r.add_post("/logout", auth.logout)
    r.add_get("/", pages.overview, name="overview")
    r.add_get("/dlq", pages.dead_letters)
    r.add_get("/dlq/records/{ref}", pages.dead_letter)
    r.add_post("/dlq/preview", actions.replay_preview)
    r.add_post("/dlq/replay", actions.replay)
    r.add_get("/recompute", pages.recompute)
    r.add_post("/recompute", actions.start_recompute)
    r.add_get("/quality", pages.quality)
    r.add_get("/subjects", pages.subject_search)
    r.add_get("/subjects/{subject}", pages.subject, name="subject")
    r.add_get("/backfill", pages.backfill)
    r.add_get("/accounts", pages.accounts_page)
    r.add_post("/accounts", actions.add_account)
    r.add_post("/accounts/{name}/remove", actions.remove_account)
    r.add_get("/audit", pages.audit_page)
    r.add_get("/events/{feed}", events)
    app.cleanup_ctx.append(_lifecycle)
    return app


def run(settings: Settings) -> None:
    from vitalstream.platform.observability import configure_logging
    from vitalstream.platform.settings import secret_values

    configure_logging(settings.log_level, service="console", secrets=secret_values(settings))
    tls = None
    if settings.console_tls_cert_file:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(settings.console_tls_cert_file, settings.console_tls_key_file)
    web.run_app(
        create_app(settings),
        host=settings.console_host,
        port=settings.console_port,
        ssl_context=tls,
        access_log=None,
        print=None,
    )
