"""Who is asking: the session middleware, login and logout, CSRF checks and role guards.

The session cookie (``vs_session``) is ``HttpOnly``, ``SameSite=Strict`` and ``Secure``
when the console is served over TLS. Every POST carries the session's CSRF token (form
field ``csrf`` or header ``X-CSRF-Token``); the login form, which has no session yet, uses
a double-submit cookie (``vs_login_csrf``). Failed logins are throttled per account and
per address (:mod:`vitalstream.console.audit`).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from vitalstream.console import accounts, audit
from vitalstream.console.state import SESSION_KEY, STATE_KEY

SESSION_COOKIE = "vs_session"
LOGIN_CSRF_COOKIE = "vs_login_csrf"
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tokens_match(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))


def client(request: web.Request) -> str:
    return request.remote or "unknown"


def _cookie_options(request: web.Request, max_age: int | None) -> dict[str, Any]:
    return {"httponly": True, "samesite": "Strict", "secure": request.secure, "path": "/", "max_age": max_age}


async def posted_csrf(request: web.Request) -> str | None:
    header = request.headers.get("X-CSRF-Token")
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        value = (await request.post()).get("csrf")
        return value if isinstance(value, str) else None
    return None


@web.middleware
async def sessions(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Attach the session; send strangers to /login; refuse a POST without the right CSRF token."""
    if request.path.startswith("/static/") or request.path in PUBLIC_PATHS:
        return await handler(request)
    state = request.app[STATE_KEY]
    session_id = request.cookies.get(SESSION_COOKIE)
    session = None
    if session_id:
        async with state.pool.connection() as conn:
            session = await accounts.find_session(conn, session_id)
    if session is None:
        if request.method == "GET" and not request.path.startswith("/events/"):
            raise web.HTTPSeeOther("/login")
        raise web.HTTPUnauthorized(text="log in first")
    request[SESSION_KEY] = session
    if request.method == "POST" and not tokens_match(session.csrf_token, await posted_csrf(request)):
        await record_action(request, "csrf", "refused", target=request.path)
        raise web.HTTPForbidden(text="missing or wrong CSRF token: reload the page and try again")
    return await handler(request)


def require(request: web.Request, capability: str) -> accounts.Session:
    session = request[SESSION_KEY]
    if not accounts.can(session.role, capability):
        raise web.HTTPForbidden(text=f"the {session.role} role may not do this ({capability})")
    return session


async def record_action(request: web.Request, action: str, outcome: str, **fields: Any) -> None:
    session = request.get(SESSION_KEY)
    state = request.app[STATE_KEY]
    async with state.pool.connection() as conn:
        await audit.record(
            conn,
            actor=fields.pop("actor", session.account if session else "anonymous"),
            role=fields.pop("role", session.role if session else None),
            action=action,
            outcome=outcome,
            address=client(request),
            **fields,
        )


async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_form(request, None, 200)


def _login_form(request: web.Request, error: str | None, status: int) -> web.StreamResponse:
    token = secrets.token_urlsafe(24)
    response = aiohttp_jinja2.render_template(
        "login.html", request, {"csrf": token, "error": error, "session": None}, status=status
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, **_cookie_options(request, 3600))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    settings = state.settings
    form = await request.post()
    if not tokens_match(request.cookies.get(LOGIN_CSRF_COOKIE), str(form.get("csrf", ""))):
        return _login_form(request, "The form expired: please try again.", 403)
    name, password = str(form.get("username", ""))[:64].strip(), str(form.get("password", ""))
    address = client(request)
    async with state.pool.connection() as conn:
        by_account, by_address = await audit.failed_logins(conn, name, address, settings.console_login_window_s)
        if audit.throttled(
            by_account,
            by_address,
            settings.console_login_max_failures_per_account,
            settings.console_login_max_failures_per_address,
        ):
            await audit.record(conn, actor=name, role=None, action="login", outcome="throttled", address=address)
            minutes = max(1, settings.console_login_window_s // 60)
            return _login_form(request, f"Too many failed logins: try again in {minutes} minutes.", 429)
        account = await accounts.authenticate(conn, name, password) if name and password else None
        if account is None:
            await audit.record(conn, actor=name or "-", role=None, action="login", outcome="failed", address=address)
            return _login_form(request, "Wrong account name or password.", 401)
        session_id, _csrf = await accounts.start_session(conn, account.name, settings.console_session_ttl_s)
        await audit.record(conn, actor=account.name, role=account.role, action="login", outcome="ok", address=address)
    response = web.HTTPSeeOther("/")
    response.set_cookie(SESSION_COOKIE, session_id, **_cookie_options(request, settings.console_session_ttl_s))
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    raise response


async def logout(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    session_id = request.cookies.get(SESSION_COOKIE, "")
    async with state.pool.connection() as conn:
        await accounts.end_session(conn, session_id)
    await record_action(request, "logout", "ok")
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response
