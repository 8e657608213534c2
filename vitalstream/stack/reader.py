"""The local stack's login for ``vitalstream_reader`` (migration 0004 creates the role NOLOGIN).

The read API connects as this role, which may only SELECT the tables it serves; the stack
turns it into a login with a password derived from the stack's own database secret.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from psycopg import sql

ROLE = "vitalstream_reader"


def reader_password(stack_secret: str) -> str:
    return hmac.new(stack_secret.encode(), ROLE.encode(), hashlib.sha256).hexdigest()


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user)}:{quote(password)}@{host}"))


def reader_url(owner_url: str, stack_secret: str) -> str | None:
    """The reader's URL once it can log in; None when this database does not let us set it up."""
    password = reader_password(stack_secret)
    try:
        with psycopg.connect(owner_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(ROLE), sql.Literal(password)))
    except psycopg.Error:
        return None
    return with_login(owner_url, ROLE, password)
