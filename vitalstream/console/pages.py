"""The console's pages (GET): each renders its template with what the reader's role may see."""

from __future__ import annotations

import asyncio
import functools
import re
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import orjson
from aiohttp import web

from schemas.codec import Codec, DecodeError
from schemas.personal import MASK
from schemas.records import RawWebhook
from vitalstream import dlq
from vitalstream.console import accounts, audit, charts, data, sources
from vitalstream.console.auth import require
from vitalstream.console.live import guarded
from vitalstream.console.state import SESSION_KEY, STATE_KEY, ConsoleState

SUBJECT_PERSONAL = ("user_id",)
# Even an admin's unmasked view hides credentials a payload may carry (a presigned download URL, tokens).
CREDENTIAL_KEYS = re.compile(r"(^|_)(url|token|secret|password|signature|authorization)$", re.I)


def context(request: web.Request, **values: Any) -> dict[str, Any]:
    session = request[SESSION_KEY]
    return {
        "session": session,
        "csrf": session.csrf_token,
        "can": lambda capability: accounts.can(session.role, capability),
        "path": request.path,
        "now": datetime.now(UTC),
        **values,
    }


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, context(request, **values), status=status)


async def _feed_value(state: ConsoleState, name: str) -> Any:
    """The feed's current value for the first render (live updates follow over SSE)."""
    return await guarded(name, functools.partial(sources.FEEDS[name], state))


async def overview(request: web.Request) -> web.Response:
    value = await _feed_value(request.app[STATE_KEY], "overview")
    return render(request, "overview.html", live=value)


async def dead_letters(request: web.Request) -> web.Response:
    value = await _feed_value(request.app[STATE_KEY], "dlq")
    return render(request, "dlq.html", live=value)


async def dead_letter(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    ref = request.match_info["ref"]
    letters = [lt for lt in await _letters(state) if lt.ref == ref]
    if not letters:
        raise web.HTTPNotFound(text=f"no dead letter {ref}")
    codec = Codec()
    described = dlq.describe(letters[0], codec)
    if accounts.can(request[SESSION_KEY].role, "unmasked"):
        body = _unmasked_body(letters[0], codec)
        if body is not None and isinstance(described.get("value"), dict):
            described["value"]["body"] = body
            described["unmasked"] = True
    replayed = ref in await _replayed(state)
    row = sources.letter_row(letters[0], {ref} if replayed else set(), codec)
    pretty = orjson.dumps(described.get("value"), option=orjson.OPT_INDENT_2, default=str).decode()
    return render(request, "dlq_record.html", letter=row, described=described, pretty=pretty)


def _unmasked_body(letter: dlq.DeadLetter, codec: Codec) -> Any:
    """A raw webhook's body with personal fields shown (admins only), credentials still masked."""
    try:
        record = codec.decode(letter.value) if letter.value else None
        body = orjson.loads(record.body) if isinstance(record, RawWebhook) else None
    except (DecodeError, orjson.JSONDecodeError):
        return None
    return _mask_credentials(body)


def _mask_credentials(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if CREDENTIAL_KEYS.search(str(k)) else _mask_credentials(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_credentials(v) for v in value]
    return value


async def _letters(state: ConsoleState) -> list[dlq.DeadLetter]:
    return await asyncio.to_thread(dlq.read_dead_letters, state.settings)


async def _replayed(state: ConsoleState) -> set[str]:
    return await asyncio.to_thread(dlq.read_replayed, state.settings)


async def recompute(request: web.Request) -> web.Response:
    value = await _feed_value(request.app[STATE_KEY], "recompute")
    return render(request, "recompute.html", live=value)


async def quality(request: web.Request) -> web.Response:
    try:
        days = min(max(int(request.query.get("days", "14")), 1), 90)
    except ValueError:
        raise web.HTTPBadRequest(text="days must be a whole number between 1 and 90") from None
    async with request.app[STATE_KEY].pool.connection() as conn:
        rows = await data.quality(conn, days)
    metrics = sorted({r["metric"] for r in rows})
    metric = request.query.get("metric") or (metrics[0] if metrics else None)
    series = [
        {
            **s,
            "line": charts.line_chart([(day, avg) for day, avg, _n in s["days"]]),
            "bars": charts.level_chart(s["levels"], width=320, height=120),
        }
        for s in data.quality_series([r for r in rows if r["metric"] == metric])
    ]
    return render(request, "quality.html", series=series, days=days, metrics=metrics, metric=metric)


async def subject_search(request: web.Request) -> web.Response:
    subject = request.query.get("subject", "").strip()
    if subject:
        raise web.HTTPSeeOther(request.app.router["subject"].url_for(subject=subject))
    return render(request, "subject.html", subject=None, metrics=[], history=None, metric=None, history_chart=None)


async def subject(request: web.Request) -> web.Response:
    name = request.match_info["subject"]
    metric = request.query.get("metric") or None
    unmasked = accounts.can(request[SESSION_KEY].role, "unmasked")
    async with request.app[STATE_KEY].pool.connection() as conn:
        metrics = data.mask_rows(await data.subject_metrics(conn, name), SUBJECT_PERSONAL, unmasked)
        history = await data.metric_history(conn, name, metric) if metric else None
    history_chart = (
        charts.line_chart([(str(h["measured_at"]), float(h["confidence"])) for h in history]) if history else None
    )
    return render(
        request,
        "subject.html",
        subject=name,
        metrics=metrics,
        history=history,
        metric=metric,
        history_chart=history_chart,
    )


async def backfill(request: web.Request) -> web.Response:
    async with request.app[STATE_KEY].pool.connection() as conn:
        jobs = await data.backfill_jobs(conn)
    return render(request, "backfill.html", jobs=jobs)


async def accounts_page(request: web.Request) -> web.Response:
    require(request, "accounts")
    async with request.app[STATE_KEY].pool.connection() as conn:
        listed = await accounts.list_accounts(conn)
    return render(request, "accounts.html", accounts=listed, roles=accounts.ROLES, error=None)


async def audit_page(request: web.Request) -> web.Response:
    async with request.app[STATE_KEY].pool.connection() as conn:
        entries = await audit.recent(conn)
    return render(request, "audit.html", entries=entries)
