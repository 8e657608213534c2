"""The console's actions (POST): replay dead letters, recompute, manage accounts. Each is audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from schemas.codec import Codec
from vitalstream import dlq
from vitalstream.console import accounts
from vitalstream.console.auth import record_action, require
from vitalstream.console.pages import render
from vitalstream.console.sources import letter_row
from vitalstream.console.state import STATE_KEY

MAX_REFS = 500


def filters_from(form: MultiDictProxy[Any]) -> tuple[dlq.Filters, str]:
    """Which dead letters a form names (a selection of refs, or a whole stage/class group) and how to say it."""
    refs = frozenset(str(r) for r in form.getall("ref", []))
    if len(refs) > MAX_REFS:
        raise web.HTTPBadRequest(text=f"select at most {MAX_REFS} records, or replay their group")
    if refs:
        return dlq.Filters(refs=refs), f"{len(refs)} selected record(s)"
    stage, error_class = str(form.get("stage", "")), str(form.get("error_class", ""))
    if stage and error_class:
        return dlq.Filters(stage=stage, error_class=error_class), f"group {stage} / {error_class}"
    raise web.HTTPBadRequest(text="choose records (ref) or a group (stage and error_class) to replay")


async def replay_preview(request: web.Request) -> web.Response:
    require(request, "replay")
    state = request.app[STATE_KEY]
    form = await request.post()
    filters, summary = filters_from(form)
    report = await asyncio.to_thread(dlq.replay, state.settings, filters, dry_run=True)
    letters = {lt.ref: lt for lt in await asyncio.to_thread(dlq.read_dead_letters, state.settings)}
    codec = Codec()
    todo = [letter_row(letters[r], set(), codec) for r in report.replayed if r in letters]
    already = [letter_row(letters[r], {r}, codec) for r in report.skipped_already if r in letters]
    await record_action(request, "dlq.replay.preview", "ok", target=summary, detail={"would_replay": len(todo)})
    return render(request, "dlq_preview.html", todo=todo, already=already, summary=summary, form=form)


async def replay(request: web.Request) -> web.StreamResponse:
    session = require(request, "replay")
    state = request.app[STATE_KEY]
    form = await request.post()
    if form.get("confirm") != "yes":
        raise web.HTTPBadRequest(text="a replay needs its confirmation (preview it first)")
    filters, summary = filters_from(form)
    job = state.jobs.start_replay(state.settings, filters, session.account, summary)
    await record_action(request, "dlq.replay", "started", target=summary, detail={"job": job.id})
    raise web.HTTPSeeOther("/dlq#jobs")


def parse_since(text: str) -> datetime | None:
    """The recompute form's optional start (a local date-time field, taken as UTC)."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise web.HTTPBadRequest(text=f"{text!r} is not a date and time (YYYY-MM-DDTHH:MM)") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def start_recompute(request: web.Request) -> web.StreamResponse:
    session = require(request, "recompute")
    state = request.app[STATE_KEY]
    form = await request.post()
    if form.get("confirm") != "yes":
        raise web.HTTPBadRequest(text="tick the confirmation to start a recompute")
    if state.jobs.running("recompute"):
        await record_action(request, "recompute", "refused", detail={"why": "one is running"})
        raise web.HTTPConflict(text="a recompute is already running: wait for it to finish")
    since = parse_since(str(form.get("since", "")))
    job = state.jobs.start_recompute(since, session.account)
    await record_action(request, "recompute", "started", target=job.summary, detail={"job": job.id})
    raise web.HTTPSeeOther("/recompute")


async def add_account(request: web.Request) -> web.StreamResponse:
    require(request, "accounts")
    state = request.app[STATE_KEY]
    form = await request.post()
    name, role, password = (str(form.get(k, "")) for k in ("username", "role", "password"))
    problem = accounts.check_new_account(name, role, password)
    async with state.pool.connection() as conn:
        if problem is None:
            created = await accounts.add_account(conn, name, role, password)
        listed = await accounts.list_accounts(conn)
    if problem is not None:
        await record_action(request, "account.add", "refused", target=name[:64], detail={"why": problem})
        return render(request, "accounts.html", 400, accounts=listed, roles=accounts.ROLES, error=problem)
    await record_action(request, "account.add", "created" if created else "updated", target=name, detail={"role": role})
    raise web.HTTPSeeOther("/accounts")


async def remove_account(request: web.Request) -> web.StreamResponse:
    session = require(request, "accounts")
    name = request.match_info["name"]
    if name == session.account:
        raise web.HTTPBadRequest(text="you cannot remove your own account")
    async with request.app[STATE_KEY].pool.connection() as conn:
        removed = await accounts.remove_account(conn, name)
    await record_action(request, "account.remove", "removed" if removed else "not_found", target=name)
    raise web.HTTPSeeOther("/accounts")
