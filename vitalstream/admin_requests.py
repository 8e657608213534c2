"""Admin API input, checked before anything runs (pure): a bad request is a 400 naming the field."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from vitalstream.dlq import Filters

MAX_TEXT = 200
MAX_REFS = 10_000
_REF = re.compile(r"^\d{1,6}:\d{1,19}$")
_TEXT_FIELDS = ("stage", "error_class", "provider", "event_id")
_FIELDS = frozenset({*_TEXT_FIELDS, "since", "until", "refs", "limit", "dry_run", "force"})


class BadRequest(ValueError):
    """The reason a request was refused, safe to show to the caller (it echoes no values)."""


@dataclass(frozen=True)
class ReplayRequest:
    filters: Filters
    limit: int | None
    dry_run: bool
    force: bool


def _text(doc: dict[str, Any], name: str) -> str | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
        raise BadRequest(f"{name} must be a non-empty string of at most {MAX_TEXT} characters")
    return value


def _time(doc: dict[str, Any], name: str) -> datetime | None:
    value = doc.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _flag(doc: dict[str, Any], name: str) -> bool:
    value = doc.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"{name} must be true or false")
    return value


def _limit(doc: dict[str, Any]) -> int | None:
    value = doc.get("limit")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest("limit must be a positive integer")
    return value


def _refs(doc: dict[str, Any]) -> frozenset[str]:
    value = doc.get("refs")
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > MAX_REFS:
        raise BadRequest(f"refs must be a list of at most {MAX_REFS} 'partition:offset' strings")
    if not all(isinstance(ref, str) and _REF.match(ref) for ref in value):
        raise BadRequest("every ref must be 'partition:offset', e.g. '0:42'")
    return frozenset(value)


def parse_replay(doc: object) -> ReplayRequest:
    """The body of ``POST /admin/dlq/replay``: the filters of ``vitalstream dlq replay``."""
    if not isinstance(doc, dict):
        raise BadRequest("the body must be a JSON object of replay filters")
    unknown = sorted(str(k) for k in doc if k not in _FIELDS)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)[:MAX_TEXT]}; known: {', '.join(sorted(_FIELDS))}")
    since, until = _time(doc, "since"), _time(doc, "until")
    if since and until and since > until:
        raise BadRequest("since must not be later than until")
    stage, error_class, provider, event_id = (_text(doc, name) for name in _TEXT_FIELDS)
    filters = Filters(stage, error_class, provider, since, until, event_id, _refs(doc))
    return ReplayRequest(filters, _limit(doc), _flag(doc, "dry_run"), _flag(doc, "force"))
