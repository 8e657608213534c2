"""The audit log: every console action in ``console_audit`` and one log line (no passwords, no personal values).

Failed logins are audit rows too: the login throttle counts them, per account and per
address, so every console replica enforces the same limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from vitalstream.platform.observability import get_logger

log = get_logger("console.audit")


@dataclass(frozen=True)
class Entry:
    at: datetime
    actor: str
    role: str | None
    action: str
    target: str | None
    outcome: str
    detail: dict[str, Any]
    address: str | None


async def record(
    conn: AsyncConnection[Any],
    *,
    actor: str,
    role: str | None,
    action: str,
    outcome: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO console_audit (actor, role, action, target, outcome, detail, address)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (actor, role, action, target, outcome, Jsonb(detail or {}), address),
    )
    log.info("console_action", actor=actor, role=role, action=action, target=target, outcome=outcome, client=address)


async def recent(conn: AsyncConnection[Any], limit: int = 200) -> list[Entry]:
    cur = await conn.execute(
        "SELECT at, actor, role, action, target, outcome, detail, address FROM console_audit ORDER BY id DESC LIMIT %s",
        (limit,),
    )
    return [Entry(*row) for row in await cur.fetchall()]


async def failed_logins(conn: AsyncConnection[Any], account: str, address: str, window_s: int) -> tuple[int, int]:
    """Failed logins within the window: (for this account, from this address)."""
    cur = await conn.execute(
        "SELECT count(*) FILTER (WHERE actor = %s), count(*) FILTER (WHERE address = %s) FROM console_audit"
        " WHERE action = 'login' AND outcome = 'failed' AND at > now() - make_interval(secs => %s)",
        (account, address, window_s),
    )
    row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def throttled(by_account: int, by_address: int, max_per_account: int, max_per_address: int) -> bool:
    return by_account >= max_per_account or by_address >= max_per_address
