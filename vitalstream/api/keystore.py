"""``vitalstream api-keys create | ls | revoke``: the keys table, written with the owner's login.

The API itself only reads ``api_keys`` (as ``vitalstream_reader``); these commands are the
one place keys are made or revoked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

from vitalstream.api.keys import InvalidKeySpec, NewKey, check_globs, check_name, new_key


@dataclass(frozen=True, slots=True)
class KeyRow:
    name: str
    prefix: str
    subjects: tuple[str, ...]
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def create(dsn: str, name: str, subjects: tuple[str, ...], scopes: tuple[str, ...]) -> NewKey:
    """Store a new key; the token in the result is the only copy there will ever be."""
    check_name(name)
    globs = check_globs(subjects)
    key = new_key()
    with psycopg.connect(dsn, autocommit=True) as conn:
        try:
            conn.execute(
                "INSERT INTO api_keys (name, prefix, key_hash, subjects, scopes) VALUES (%s, %s, %s, %s, %s)",
                (name, key.prefix, key.digest, list(globs), list(scopes)),
            )
        except psycopg.errors.UniqueViolation:
            raise InvalidKeySpec(f"a key named {name!r} exists already (names are never reused)") from None
    return key


def list_keys(dsn: str) -> list[KeyRow]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT name, prefix, subjects, scopes, created_at, revoked_at FROM api_keys ORDER BY created_at, name"
        ).fetchall()
    return [KeyRow(r[0], r[1], tuple(r[2]), tuple(r[3]), r[4], r[5]) for r in rows]


def revoke(dsn: str, name: str) -> bool:
    """True when the key was active and is now revoked; False when there is no such active key."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        cur = conn.execute("UPDATE api_keys SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL", (name,))
        return cur.rowcount == 1
