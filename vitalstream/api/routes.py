"""The read API's request handlers: check the key and the input, query, answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiohttp import web

from vitalstream.api import fhir, problems, queries
from vitalstream.api.app import STATE_KEY, authorize
from vitalstream.api.cursors import BadCursor, decode_page_cursor, encode_page_cursor
from vitalstream.api.etags import CACHE_CONTROL, etag_of, not_modified
from vitalstream.api.keys import ApiKey

JSON_OPTIONS = orjson.OPT_UTC_Z
DEFAULT_LIMIT = 100
DEFAULT_QUALITY_DAYS = 30
MAX_TEXT = 256


def usable_text(text: str) -> bool:
    """What PostgreSQL can compare: valid UTF-8 without NUL, of a sane length."""
    if not text or len(text) > MAX_TEXT or "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def visible_subject(key: ApiKey, subject: str) -> str:
    """The subject when the key may see it; otherwise the same 404 as for an unknown subject."""
    if not usable_text(subject) or not key.may_see(subject):
        raise problems.not_found()
    return subject


def parse_time(name: str, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise problems.bad_request(f"{name}: expected an ISO 8601 time such as 2026-11-30T08:00:00Z") from None


def parse_limit(text: str | None, maximum: int) -> int:
    if text is None:
        return min(DEFAULT_LIMIT, maximum)
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise problems.bad_request(f"limit: expected a whole number from 1 to {maximum}")
    return int(text)


def cached_json(request: web.Request, body: bytes) -> web.Response:
    """200 with a strong ETag, or 304 when the client already has this exact body."""
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if not_modified(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers=headers)
    return web.Response(body=body, headers=headers, content_type="application/json")


def _pool(request: web.Request) -> queries.Pool:
    return request.app[STATE_KEY].pool


async def subject_metrics(request: web.Request) -> web.Response:
    key = await authorize(request, "read")
    subject = visible_subject(key, request.match_info["subject"])
    rows = await request.app[STATE_KEY].latest.get(subject)
    if not rows:
        raise problems.not_found()
    return cached_json(request, orjson.dumps({"subject": subject, "metrics": rows}, option=JSON_OPTIONS))


async def subject_metric(request: web.Request) -> web.Response:
    key = await authorize(request, "read")
    subject = visible_subject(key, request.match_info["subject"])
    metric = request.match_info["metric"]
    row = await queries.latest_one(_pool(request), subject, metric) if usable_text(metric) else None
    if row is None:
        if await queries.subject_known(_pool(request), subject):
            raise problems.Problem(404, "This subject has no value for that metric.")
        raise problems.not_found()
    return cached_json(request, orjson.dumps({"subject": subject, **row}, option=JSON_OPTIONS))


async def _known_or_404(request: web.Request, subject: str, rows: list[dict[str, Any]]) -> None:
    if not rows and not await queries.subject_known(_pool(request), subject):
        raise problems.not_found()


async def subject_observations(request: web.Request) -> web.Response:
    key = await authorize(request, "read")
    subject = visible_subject(key, request.match_info["subject"])
    q = request.query
    metric = q.get("metric")
    if metric is not None and not usable_text(metric):
        raise problems.bad_request("metric: expected a metric name such as heart_rate")
    try:
        after = decode_page_cursor(q["cursor"]) if "cursor" in q else None
    except BadCursor as exc:
        raise problems.bad_request(str(exc)) from None
    if after is not None and not (usable_text(after[0]) and usable_text(after[1])):
        raise problems.bad_request("cursor: pass back the next_cursor of the previous page unchanged")
    query = queries.ObservationQuery(
        subject,
        parse_limit(q.get("limit"), request.app[STATE_KEY].settings.api_observations_max_limit),
        metric,
        parse_time("since", q.get("since")),
        parse_time("until", q.get("until")),
        after,
    )
    rows, more = await queries.observations(_pool(request), query)
    if after is None:
        await _known_or_404(request, subject, rows)
    last = rows[-1] if rows and more else None
    cursor = encode_page_cursor(last["metric"], last["provider"], last["measured_at"]) if last else None
    body = orjson.dumps({"subject": subject, "observations": rows, "next_cursor": cursor}, option=JSON_OPTIONS)
    return web.Response(body=body, content_type="application/json")


async def subject_quality(request: web.Request) -> web.Response:
    key = await authorize(request, "read")
    subject = visible_subject(key, request.match_info["subject"])
    since = parse_time("since", request.query.get("since")) or datetime.now(UTC) - timedelta(days=DEFAULT_QUALITY_DAYS)
    rows = await queries.quality(_pool(request), subject, since)
    await _known_or_404(request, subject, rows)
    body = orjson.dumps({"subject": subject, "since": since, "days": rows}, option=JSON_OPTIONS)
    return web.Response(body=body, content_type="application/json")


async def fhir_observations(request: web.Request) -> web.Response:
    key = await authorize(request, "fhir")
    subject = request.query.get("subject")
    if not subject:
        raise problems.bad_request("subject: give the subject whose Observations to search")
    visible_subject(key, subject)
    rows = await request.app[STATE_KEY].latest.get(subject)
    if not rows:
        raise problems.not_found()
    codes = request.query.get("code")
    if codes is not None:
        wanted = {m for code in codes.split(",") for m in fhir.metrics_for_code(code.strip())}
        rows = [r for r in rows if r["metric"] in wanted]
    bundle = fhir.searchset(subject, rows, str(request.url))
    return web.Response(body=orjson.dumps(bundle, option=JSON_OPTIONS), content_type=fhir.CONTENT_TYPE)
