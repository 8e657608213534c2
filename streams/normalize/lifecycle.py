"""Connection lifecycle (``users`` topic), athlete profiles and operational notices.

Nothing personal leaves this module: a profile keeps only sex (as male/female/other)
and birth year; ops details drop anything that looks like a name, address or e-mail.
Every user id and reference id is put in the namespace of the source that sent it
(:mod:`schemas.identity`), so an event can only ever name that source's own users.
"""

from __future__ import annotations

from datetime import UTC, datetime

from schemas.identity import Namespace, namespace
from schemas.records import OpsEvent, RawWebhook, UserEvent
from streams.errors import SchemaInvalidError

from ._values import JsonObject, birth_year, number, obj, text

LIFECYCLE_TYPES = frozenset({"auth", "auth_cancelled", "deauth", "user_reauth", "access_revoked", "permission_change"})
OPS_TYPES = frozenset(
    {
        "healthcheck",
        "processing",
        "large_request_processing",
        "large_request_sending",
        "rate_limit_hit",
        "connection_error",
        "google_no_datasource",
    }
)
_KINDS = {"deauth": "deauth", "access_revoked": "revoked", "permission_change": "permission_change"}
_OPS_SKIPPED_KEYS = frozenset({"type", "status", "message", "user", "old_user", "new_user"})
_PERSONAL_MARKERS = ("name", "mail", "birth", "phone", "address", "city", "state", "country", "bio", "reference_id")
_MAX_DETAILS = 20


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def user_ids(payload: JsonObject, type_: str, ns: Namespace, key: str = "user") -> tuple[str, str | None, str | None]:
    """(user_id, provider, reference_id) of ``payload[key]`` in ``ns``; a missing id is schema-invalid.

    ``type_`` is one of our own event type names (the caller matched it), never payload text.
    """
    user = obj(payload, key)
    if user is None:
        raise SchemaInvalidError(f"{type_} event without {key}")
    user_id = text(user.get("user_id"))
    if user_id is None:
        raise SchemaInvalidError(f"{type_} event without {key}.user_id")
    return ns.user_id(user_id), text(user.get("provider"), 64), ns.reference_id(text(user.get("reference_id"), 1000))


def _scopes(payload: JsonObject, key: str = "user") -> str | None:
    user = obj(payload, key)
    return None if user is None else text(user.get("scopes"), 2000)


def user_event(raw: RawWebhook, payload: JsonObject, type_: str) -> UserEvent:
    ns = namespace(raw.source)
    received = _aware(raw.received_at)
    ordering = received if raw.ordering_ts is None else _aware(raw.ordering_ts)
    status = text(payload.get("status"), 64)
    message = text(payload.get("message"), 500)
    old_user_id: str | None = None
    if type_ == "user_reauth":
        user_id, provider, reference_id = user_ids(payload, type_, ns, "new_user")
        kind, scopes = "reauth", _scopes(payload, "new_user")
        old_user = obj(payload, "old_user")
        old_raw = None if old_user is None else text(old_user.get("user_id"))
        old_user_id = None if old_raw is None else ns.user_id(old_raw)
    elif type_ == "auth_cancelled" or (type_ == "auth" and status == "error"):
        # A failed or cancelled flow may have no Terra user yet: keep the event (with an
        # empty user id) so the developer's reference id still learns of the failure.
        kind = "auth_cancelled" if type_ == "auth_cancelled" else "auth_error"
        user = obj(payload, "user")
        if user is not None and text(user.get("user_id")) is not None:
            user_id, provider, reference_id = user_ids(payload, type_, ns)
        else:
            user_id, provider, reference_id = "", None, ns.reference_id(text(payload.get("reference_id")))
        scopes = _scopes(payload)
        message = message or text(payload.get("reason"), 500)
    else:
        user_id, provider, reference_id = user_ids(payload, type_, ns)
        kind, scopes = _KINDS.get(type_, "auth"), _scopes(payload)
    return UserEvent(
        event_id=raw.event_id,
        source=ns.source,
        kind=kind,
        user_id=user_id,
        occurred_at=received,
        ordering_ts=ordering,
        provider=provider,
        reference_id=reference_id,
        old_user_id=old_user_id,
        status=status,
        message=message,
        scopes=scopes,
    )


_SEXES = {"male": "male", "m": "male", "man": "male", "female": "female", "f": "female", "woman": "female"}


def profile_event(raw: RawWebhook, payload: JsonObject, athlete: JsonObject) -> UserEvent:
    """``athlete``: sex and birth year only; every other athlete field is dropped here."""
    ns = namespace(raw.source)
    user_id, provider, reference_id = user_ids(payload, "athlete", ns)
    received = _aware(raw.received_at)
    sex_text = text(athlete.get("sex"), 32)
    sex = None if sex_text is None else _SEXES.get(sex_text.lower(), "other")
    return UserEvent(
        event_id=raw.event_id,
        source=ns.source,
        kind="profile",
        user_id=user_id,
        occurred_at=received,
        ordering_ts=received if raw.ordering_ts is None else _aware(raw.ordering_ts),
        provider=provider,
        reference_id=reference_id,
        sex=sex,
        birth_year=birth_year(athlete.get("date_of_birth")),
    )


def _number_text(value: object, as_number: float) -> str:
    if isinstance(value, int) and abs(value) < 10**15:
        return str(value)
    return repr(as_number)


def ops_event(raw: RawWebhook, payload: JsonObject, type_: str) -> OpsEvent:
    user = obj(payload, "user")
    user_id = None if user is None else text(user.get("user_id"))
    details: dict[str, str] = {}
    for key, value in payload.items():
        if len(details) >= _MAX_DETAILS:
            break
        lowered = key.lower()
        if key in _OPS_SKIPPED_KEYS or any(marker in lowered for marker in _PERSONAL_MARKERS):
            continue
        if isinstance(value, bool):
            details[key[:64]] = "true" if value else "false"
        elif isinstance(value, str):
            details[key[:64]] = value[:200]
        elif (as_number := number(value)) is not None:
            details[key[:64]] = _number_text(value, as_number)
    return OpsEvent(
        event_id=raw.event_id,
        source=raw.source,
        type=type_,
        occurred_at=_aware(raw.received_at),
        status=text(payload.get("status"), 64),
        message=text(payload.get("message"), 500),
        provider=None if user is None else text(user.get("provider"), 64),
        user_id=None if user_id is None else namespace(raw.source).user_id(user_id),
        details=details,
    )
