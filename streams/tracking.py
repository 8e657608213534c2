"""Terra large-request tracking (design §13): pure facts, merge, sweep.

A large request is announced by ``large_request_processing`` (carrying ``reference``), then
``large_request_sending`` (``expected_payloads``), then its chunks arrive, each with the
``terra-reference`` header and a trace id ``<id>:chunk:<n>``. The raw records are keyed by
user and may come on ``webhooks.raw`` or ``webhooks.backfill``, so normalize (which reads
both lanes) turns each into a small *fact* sent to an internal topic keyed by reference; the
tracking agent folds the facts of one reference into its table and publishes the job's state
to the compacted ``backfill.jobs``.

The state is a JSON object; :func:`merge` is idempotent and commutative over facts (the
chunks are a set, the announced values are kept once known, the times are min/max), so a
redelivered chunk counts once and facts arriving out of order give the same state.
:func:`sweep` marks a request ``incomplete`` once nothing arrived for the timeout while
chunks are missing; a later fact with news reopens it (and completes it if that was the last
chunk), a redelivery of what was known does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson

from schemas.identity import namespace
from schemas.records import BackfillJob, RawWebhook

PROCESSING, SENDING, COMPLETE, INCOMPLETE = "processing", "sending", "complete", "incomplete"
STATUSES = (PROCESSING, SENDING, COMPLETE, INCOMPLETE)
OPEN = frozenset({PROCESSING, SENDING})
REFERENCE_HEADER = "terra-reference"
TRACE_HEADER = "x-terra-trace-id"
MAX_REFERENCE = 256
MAX_CHUNK = 1_000_000
"""Chunk numbers above this are not believed (a request has at most a few thousand chunks)."""
_CHUNK = re.compile(r":chunk:(\d{1,7})$")
_ANNOUNCEMENTS = {"large_request_processing": PROCESSING, "large_request_sending": SENDING}

Fact = dict[str, Any]
State = dict[str, Any]


def chunk_number(trace_id: str | None) -> int | None:
    """``n`` of a trace id ``<id>:chunk:<n>``; None for any other trace id."""
    match = _CHUNK.search(trace_id or "")
    if match is None:
        return None
    n = int(match.group(1))
    return n if n <= MAX_CHUNK else None


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value.strip() else None


def _user_id(raw: RawWebhook, payload: Mapping[str, Any]) -> str | None:
    user = payload.get("user")
    uid = _text(user.get("user_id"), 256) if isinstance(user, dict) else None
    if uid is None:
        uid = raw.provider_user_id
    return namespace(raw.source).user_id(uid) if uid else None


def fact_of(raw: RawWebhook, payload: object, at_ms: int) -> Fact | None:
    """The tracking fact of one raw record, or None when it is not part of a large request.

    An announcement's reference is its body's ``reference`` (else the header); a chunk is a
    record with the ``terra-reference`` header whose trace id is ``<id>:chunk:<n>``. Terra (and
    ``vitalstream simulate``) send the header on ordinary deliveries too, so a record with a
    reference but no chunk number is not part of a tracked request.
    """
    body = payload if isinstance(payload, dict) else {}
    kind = _ANNOUNCEMENTS.get(str(body.get("type")))
    header_ref = _text(raw.headers.get(REFERENCE_HEADER), MAX_REFERENCE)
    reference = (_text(body.get("reference"), MAX_REFERENCE) if kind else None) or header_ref
    if reference is None:
        return None
    n = None if kind else chunk_number(raw.trace_id or raw.headers.get(TRACE_HEADER))
    if kind is None and n is None:
        return None
    fact: Fact = {"r": reference, "s": raw.source, "t": at_ms}
    uid = _user_id(raw, body)
    if uid is not None:
        fact["u"] = uid
    if kind is None:
        fact["c"] = n
        return fact
    fact["k"] = kind
    expected = body.get("expected_payloads")
    if kind == SENDING and isinstance(expected, int) and not isinstance(expected, bool) and 0 <= expected <= MAX_CHUNK:
        fact["x"] = expected
    for key, short in (("start_date", "a"), ("end_date", "b")):
        value = _text(body.get(key), 64)
        if value is not None:
            fact[short] = value
    return fact


def encode_fact(fact: Fact) -> bytes:
    return orjson.dumps(fact)


def decode_fact(data: bytes) -> Fact:
    fact = orjson.loads(data)
    if not isinstance(fact, dict) or not isinstance(fact.get("r"), str) or not isinstance(fact.get("t"), int):
        raise ValueError("not a tracking fact")
    return fact


def status_of(state: Mapping[str, Any]) -> str:
    """The status the announcements and chunks say (the sweep alone says ``incomplete``)."""
    expected = state.get("x")
    if expected is not None and len(state["c"]) >= expected:
        return COMPLETE
    if expected is not None or state["c"] or state.get("sending"):
        return SENDING
    return PROCESSING


def merge(state: Mapping[str, Any] | None, fact: Mapping[str, Any]) -> State:
    """``state`` with ``fact`` folded in (a new dict; neither argument is changed)."""
    t = int(fact["t"])
    base: State = dict(state) if state is not None else {"r": fact["r"], "s": fact.get("s", "terra"), "c": [], "f": t}
    base["f"] = min(int(base["f"]), t)
    base["l"] = max(int(base.get("l", t)), t)
    for key in ("u", "x", "a", "b"):
        if key in fact and base.get(key) is None:
            base[key] = fact[key]
    if "c" in fact and fact["c"] not in base["c"]:
        base["c"] = sorted([*base["c"], int(fact["c"])])
    if fact.get("k") == SENDING:
        base["sending"] = True
    base["st"] = status_of(base)
    if state is not None and state.get("st") == INCOMPLETE and base["st"] != COMPLETE and not _news(state, base):
        base["st"] = INCOMPLETE  # a redelivery of what was known already does not reopen the request
    return base


def _news(before: Mapping[str, Any], after: Mapping[str, Any]) -> bool:
    return any(before.get(k) != after.get(k) for k in {*before, *after} if k != "st")


def sweep(state: Mapping[str, Any], now_ms: int, incomplete_after_ms: int) -> State | None:
    """The state marked ``incomplete`` if it has been open and silent for the timeout, else None."""
    if state.get("st") not in OPEN or now_ms - int(state["l"]) < incomplete_after_ms:
        return None
    return {**state, "st": INCOMPLETE}


def missing_chunks(expected: int | None, chunks: list[int]) -> list[int]:
    """Chunk numbers not received of 1..expected (0..expected-1 when Terra numbered from 0)."""
    if expected is None:
        return []
    first = 0 if 0 in chunks else 1
    have = set(chunks)
    return [n for n in range(first, first + expected) if n not in have]


def _ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


def to_record(state: Mapping[str, Any], now_ms: int) -> BackfillJob:
    return BackfillJob(
        reference=state["r"],
        source=state.get("s", "terra"),
        status=state["st"],
        user_id=state.get("u"),
        expected_payloads=state.get("x"),
        chunks=list(state["c"]),
        requested_start=state.get("a"),
        requested_end=state.get("b"),
        first_seen_at=_ms(int(state["f"])),
        last_seen_at=_ms(int(state["l"])),
        updated_at=_ms(now_ms),
    )
