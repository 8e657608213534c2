"""Connection lifecycle (``users`` topic) applied to ``provider_connections`` and the user's data.

Each event is applied inside the batch transaction, in offset order, and only when it is
newer (ordering_ts, event_id) than the last event applied to that connection, so a
redelivery or a replay of the topic changes nothing. Returned keys are the
``(subject, metric)`` pairs that vanished from ``latest_metrics``: the caller publishes a
tombstone for each to ``metrics.latest``.

User ids arrive in their source's namespace (:mod:`schemas.identity`): an event of source
``acme`` names ``acme:…`` users only (:func:`sinks.rows.validate_user_event` refuses any
other), so its purge and re-key reach only that source's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from schemas.deadletter import VettedError
from schemas.identity import Namespace, namespace
from schemas.records import UserEvent
from sinks import sql

Key = tuple[str, str]
CONNECTED = "connected"
STATUS_OF_KIND = {
    "deauth": "deauthorized",
    "revoked": "revoked",
    "auth_cancelled": "auth_cancelled",
    "auth_error": "auth_error",
}
KINDS = frozenset(
    {"auth", "auth_cancelled", "auth_error", "deauth", "reauth", "revoked", "permission_change", "profile"}
)


class UnknownKind(VettedError, ValueError):
    """A ``users`` record of a kind this sink does not know: ledgered as ignored."""


@dataclass(frozen=True, slots=True)
class Connection:
    user_id: str
    provider: str | None
    reference_id: str | None
    status: str
    scopes: str | None
    last_event_id: str | None
    last_event_ts: datetime | None
    replaced_by: str | None


def _load(conn: psycopg.Connection[Any], user_id: str) -> Connection | None:
    row = conn.execute(
        "SELECT user_id, provider, reference_id, status, scopes, last_event_id, last_event_ts, replaced_by "
        "FROM provider_connections WHERE user_id = %s FOR UPDATE",
        (user_id,),
    ).fetchone()
    return None if row is None else Connection(*row)


def _get(cur: Connection | None, name: str) -> str | None:
    value = getattr(cur, name) if cur is not None else None
    return value if isinstance(value, str) else None


def is_newer(ev: UserEvent, cur: Connection | None) -> bool:
    if cur is None or cur.last_event_ts is None:
        return True
    return (ev.ordering_ts, ev.event_id) > (cur.last_event_ts, cur.last_event_id or "")


def _upsert(conn: psycopg.Connection[Any], ev: UserEvent, user_id: str, **values: Any) -> None:
    """Insert or update one connection row with ``values`` plus the event bookkeeping."""
    values = {**values, "last_event_id": ev.event_id, "last_event_ts": ev.ordering_ts}
    names = ["user_id", *values]
    placeholders = ", ".join(f"%({n})s" for n in names)
    sets = ", ".join(f"{n} = %({n})s" for n in values)  # not EXCLUDED: that needs SELECT on sex, birth year
    conn.execute(
        f"INSERT INTO provider_connections ({', '.join(names)}) VALUES ({placeholders}) "
        f"ON CONFLICT (user_id) DO UPDATE SET {sets}, updated_at = now()",
        {"user_id": user_id, **values},
    )


def purge(
    conn: psycopg.Connection[Any], ns: Namespace, user_id: str, reference_id: str | None, provider: str | None
) -> list[Key]:
    """Delete the user's observations and latest rows; refill keys other users still have data for."""
    params = {
        "user_id": user_id,
        "user_subject": ns.user_subject(user_id),
        "reference_id": reference_id,
        "provider": provider,
    }
    gone: list[Key] = [(r[0], r[1]) for r in conn.execute(sql.PURGE_LATEST, params).fetchall()]
    conn.execute(sql.PURGE_OBSERVATIONS, params)
    if not gone:
        return []
    refilled = {
        (r[0], r[1]) for r in conn.execute(sql.REFILL_LATEST, ([k[0] for k in gone], [k[1] for k in gone])).fetchall()
    }
    return [k for k in gone if k not in refilled]


def rekey(conn: psycopg.Connection[Any], ns: Namespace, old_user_id: str, new_user_id: str) -> list[Key]:
    """Move the old user's rows to the new user; on a key clash the rule (or the newer version) wins."""
    params = {
        "old_user_id": old_user_id,
        "new_user_id": new_user_id,
        "old_subject": ns.user_subject(old_user_id),
        "new_subject": ns.user_subject(new_user_id),
    }
    conn.execute(sql.REKEY_OBSERVATIONS_USER, params)
    conn.execute(sql.REKEY_OBSERVATIONS_MOVE, params)
    conn.execute(sql.REKEY_OBSERVATIONS_DELETE, params)
    conn.execute(sql.REKEY_LATEST_USER, params)
    conn.execute(sql.REKEY_LATEST_MOVE, params)
    return [(r[0], r[1]) for r in conn.execute(sql.REKEY_LATEST_DELETE, params).fetchall()]


def apply_user_event(conn: psycopg.Connection[Any], ev: UserEvent, purge_on_deauth: bool) -> list[Key]:
    """Apply one lifecycle event; return the latest-metrics keys to tombstone."""
    if ev.kind not in KINDS:
        raise UnknownKind("unknown users event kind")
    cur = _load(conn, ev.user_id)
    if not is_newer(ev, cur):
        return []
    if ev.kind == "auth":
        _upsert(
            conn,
            ev,
            ev.user_id,
            provider=ev.provider or _get(cur, "provider"),
            reference_id=ev.reference_id or _get(cur, "reference_id"),
            status=CONNECTED,
            scopes=ev.scopes or _get(cur, "scopes"),
            connected_at=ev.occurred_at,
            replaced_by=None,
        )
        return []
    if ev.kind in ("auth_cancelled", "auth_error"):
        status = cur.status if cur is not None and cur.status == CONNECTED else STATUS_OF_KIND[ev.kind]
        _upsert(conn, ev, ev.user_id, provider=ev.provider or _get(cur, "provider"), status=status)
        return []
    if ev.kind in ("deauth", "revoked"):
        provider = ev.provider or _get(cur, "provider")
        reference_id = ev.reference_id or _get(cur, "reference_id")
        _upsert(conn, ev, ev.user_id, provider=provider, reference_id=reference_id, status=STATUS_OF_KIND[ev.kind])
        return purge(conn, namespace(ev.source), ev.user_id, reference_id, provider) if purge_on_deauth else []
    if ev.kind == "permission_change":
        _upsert(conn, ev, ev.user_id, status=cur.status if cur else CONNECTED, scopes=ev.scopes)
        return []
    if ev.kind == "profile":
        _upsert(conn, ev, ev.user_id, status=cur.status if cur else CONNECTED, sex=ev.sex, birth_year=ev.birth_year)
        return []
    return _reauth(conn, ev, cur)


def _reauth(conn: psycopg.Connection[Any], ev: UserEvent, cur: Connection | None) -> list[Key]:
    old_id = ev.old_user_id
    assert old_id, "validated by sinks.rows.validate_user_event"
    if old_id == ev.user_id:
        _upsert(conn, ev, ev.user_id, status=CONNECTED, connected_at=ev.occurred_at)
        return []
    old = _load(conn, old_id)
    _upsert(
        conn,
        ev,
        ev.user_id,
        provider=ev.provider or _get(cur, "provider") or _get(old, "provider"),
        reference_id=ev.reference_id or _get(cur, "reference_id") or _get(old, "reference_id"),
        scopes=ev.scopes or _get(cur, "scopes") or _get(old, "scopes"),
        status=CONNECTED,
        connected_at=ev.occurred_at,
        replaced_by=None,
    )
    _upsert(
        conn,
        ev,
        old_id,
        provider=old.provider if old else ev.provider,
        reference_id=old.reference_id if old else ev.reference_id,
        status="replaced",
        replaced_by=ev.user_id,
    )
    conn.execute(
        "UPDATE provider_connections SET replaced_by = %s, updated_at = now() WHERE replaced_by = %s",
        (ev.user_id, old_id),
    )
    return rekey(conn, namespace(ev.source), old_id, ev.user_id)
