"""Console accounts and roles: argon2id password hashes, server-side sessions in PostgreSQL."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from psycopg import AsyncConnection

ROLES = ("viewer", "operator", "admin")
CAPABILITIES: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "operator": frozenset({"read", "replay", "recompute"}),
    "admin": frozenset({"read", "replay", "recompute", "accounts", "unmasked"}),
}
NAME_OK = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
MIN_PASSWORD = 12

_HASHER = PasswordHasher()
# Compared against when the account does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash(secrets.token_urlsafe(16))


def can(role: str, capability: str) -> bool:
    return capability in CAPABILITIES.get(role, frozenset())


def check_new_account(name: str, role: str, password: str) -> str | None:
    """Why this account cannot be created, or None."""
    if not NAME_OK.match(name):
        return "account names are 1-64 characters: lower-case letters, digits, '.', '_', '-'"
    if role not in ROLES:
        return f"role must be one of {', '.join(ROLES)}"
    if len(password) < MIN_PASSWORD:
        return f"passwords have at least {MIN_PASSWORD} characters"
    return None


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    created_at: datetime | None = None


async def add_account(conn: AsyncConnection[Any], name: str, role: str, password: str) -> bool:
    """Create the account, or set its role and password; True when it was created."""
    cur = await conn.execute(
        "INSERT INTO console_accounts (name, role, password_hash) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET role = EXCLUDED.role, password_hash = EXCLUDED.password_hash,"
        " updated_at = now() RETURNING (xmax = 0)",
        (name, role, hash_password(password)),
    )
    row = await cur.fetchone()
    await conn.execute("DELETE FROM console_sessions WHERE account = %s", (name,))  # a new password ends sessions
    return bool(row and row[0])


async def remove_account(conn: AsyncConnection[Any], name: str) -> bool:
    cur = await conn.execute("DELETE FROM console_accounts WHERE name = %s", (name,))
    return cur.rowcount > 0


async def list_accounts(conn: AsyncConnection[Any]) -> list[Account]:
    cur = await conn.execute("SELECT name, role, created_at FROM console_accounts ORDER BY name")
    return [Account(*row) for row in await cur.fetchall()]


async def authenticate(conn: AsyncConnection[Any], name: str, password: str) -> Account | None:
    cur = await conn.execute("SELECT name, role, password_hash FROM console_accounts WHERE name = %s", (name,))
    row = await cur.fetchone()
    if row is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not verify_password(row[2], password):
        return None
    if _HASHER.check_needs_rehash(row[2]):
        await conn.execute(
            "UPDATE console_accounts SET password_hash = %s WHERE name = %s", (hash_password(password), name)
        )
    return Account(row[0], row[1])


# --- sessions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    account: str
    role: str
    csrf_token: str


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


async def start_session(conn: AsyncConnection[Any], account: str, ttl_s: int) -> tuple[str, str]:
    """A new session: (session id for the cookie, CSRF token for the forms)."""
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    await conn.execute("DELETE FROM console_sessions WHERE expires_at < now()")
    await conn.execute(
        "INSERT INTO console_sessions (id_sha256, account, csrf_token, expires_at)"
        " VALUES (%s, %s, %s, now() + make_interval(secs => %s))",
        (_digest(session_id), account, csrf, ttl_s),
    )
    return session_id, csrf


async def find_session(conn: AsyncConnection[Any], session_id: str) -> Session | None:
    cur = await conn.execute(
        "SELECT s.account, a.role, s.csrf_token FROM console_sessions s"
        " JOIN console_accounts a ON a.name = s.account WHERE s.id_sha256 = %s AND s.expires_at > now()",
        (_digest(session_id),),
    )
    row = await cur.fetchone()
    return Session(*row) if row else None


async def end_session(conn: AsyncConnection[Any], session_id: str) -> None:
    await conn.execute("DELETE FROM console_sessions WHERE id_sha256 = %s", (_digest(session_id),))
