"""Errors as RFC 9457 ``application/problem+json``: one exception, one renderer."""

from __future__ import annotations

from http import HTTPStatus

import orjson
from aiohttp import web

CONTENT_TYPE = "application/problem+json"


class Problem(Exception):
    """Raised by a handler; the middleware answers it as problem+json."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def render(status: int, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    return web.Response(body=orjson.dumps(body), status=status, headers=headers, content_type=CONTENT_TYPE)


NO_SUBJECT = "No such subject."


def not_found() -> Problem:
    """The one answer for an unknown subject and for a subject outside the key's globs."""
    return Problem(404, NO_SUBJECT)


def unauthorized(detail: str) -> Problem:
    return Problem(401, detail, {"WWW-Authenticate": 'Bearer realm="vitalstream"'})


def bad_request(detail: str) -> Problem:
    return Problem(400, detail)
