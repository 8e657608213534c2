"""Pure normalization of Terra webhooks into the metric vocabulary (design §4-§5).

``normalize(raw, payload)`` turns one parsed webhook body into observations (canonical
units, UTC), connection-lifecycle events, operational notices, hard-bound rejections,
an "ignored" reason, or the URL of a ping-mode payload. No I/O, no framework: the Faust
agent calls it and routes the result. Anything it cannot understand raises a
:class:`~streams.errors.PermanentError` subclass, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import orjson

from schemas.deadletter import describe
from schemas.identity import DEFAULT_FORMAT, namespace
from schemas.records import Observation, OpsEvent, RawWebhook, UserEvent
from streams.errors import NormalizeError, PermanentError, SchemaInvalidError, UndecodableError

from . import activity, body, daily, lab, menstruation, nutrition, sleep
from ._emit import Emitter, Rejection
from ._values import JsonObject, obj, text
from .lifecycle import LIFECYCLE_TYPES, OPS_TYPES, ops_event, profile_event, user_event, user_ids

__all__ = ["NORMALIZERS", "S3_TYPES", "NormalizeResult", "Rejection", "normalize", "normalizer_for", "parse_body"]

_DATA_HANDLERS: dict[str, Callable[[Emitter, JsonObject], None]] = {
    "body": body.normalize_item,
    "daily": daily.normalize_item,
    "sleep": sleep.normalize_item,
    "activity": activity.normalize_item,
    "nutrition": nutrition.normalize_item,
    "menstruation": menstruation.normalize_item,
}
_HEALTH_OBSERVATION = (
    "health_observation: coded symptoms and events (no vocabulary metric, free-text units) are not normalized"
)
S3_TYPES = frozenset({"s3_payload", "s3_upload"})
"""Ping mode: the body's ``type`` is ``s3_payload``; Terra's enum calls it ``s3_upload``."""


@dataclass(frozen=True, slots=True)
class NormalizeResult:
    observations: list[Observation] = field(default_factory=list)
    user_events: list[UserEvent] = field(default_factory=list)
    ops_events: list[OpsEvent] = field(default_factory=list)
    rejections: list[Rejection] = field(default_factory=list)
    ignored: str | None = None
    """Why a valid event carries nothing for us (``health_observation``, unknown types, ...)."""
    s3_url: str | None = None
    """Ping mode: download this URL and normalize what it returns."""


def parse_body(body: bytes | bytearray | memoryview) -> object:
    """The JSON value of a webhook body; :class:`UndecodableError` if not UTF-8 JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UndecodableError("body is not valid UTF-8 JSON") from None
    except TypeError:
        raise UndecodableError("body is not bytes") from None


def normalize(raw: RawWebhook, payload: object, *, now: datetime | None = None) -> NormalizeResult:
    """Normalize one parsed Terra payload; see the module docstring.

    ``now`` is when the payload was sent (default: ``raw.received_at``): intervals never end
    after it and a day in progress is complete only up to it.
    """
    try:
        return _normalize(raw, payload, now)
    except PermanentError:
        raise
    except Exception as exc:  # a bug must dead-letter the record, never kill the worker
        failure = describe(exc)  # the class, a fixed text and where: never the exception's own text
        raise NormalizeError(f"unexpected {failure.error_class} while normalizing: {failure.message}") from exc


Normalizer = Callable[..., "NormalizeResult"]
"""``(raw, payload, *, now=None) -> NormalizeResult``, as :func:`normalize`."""
NORMALIZERS: dict[str, Normalizer] = {"terra": normalize}
"""Payload format → normalizer (the formats of :data:`schemas.identity.FORMATS`)."""


def normalizer_for(source: str, formats: Mapping[str, str]) -> Normalizer:
    """The normalizer of the format ``source`` speaks (``VITALSTREAM_SOURCE_FORMATS``; Terra's by default)."""
    return NORMALIZERS[formats.get(source, DEFAULT_FORMAT)]


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _normalize(raw: RawWebhook, payload: object, now: datetime | None) -> NormalizeResult:
    if not isinstance(payload, dict):
        raise SchemaInvalidError(f"payload is a JSON {_json_kind(payload)}, not an object")
    if "type" not in payload:
        raise SchemaInvalidError("payload without type")
    type_ = payload["type"]
    if not isinstance(type_, str) or not type_.strip():
        raise SchemaInvalidError(f"payload type is a JSON {_json_kind(type_)}, not a non-empty string")
    handler = _DATA_HANDLERS.get(type_)
    if handler is not None:
        return _data_event(raw, payload, type_, handler, now)
    if type_ in LIFECYCLE_TYPES:
        return NormalizeResult(user_events=[user_event(raw, payload, type_)])
    if type_ in OPS_TYPES:
        return NormalizeResult(ops_events=[ops_event(raw, payload, type_)])
    if type_ == "athlete":
        athlete = obj(payload, "athlete")
        if athlete is None:
            user_ids(payload, type_, namespace(raw.source))  # still a schema error without a user
            return NormalizeResult(ignored="athlete event without an athlete object")
        return NormalizeResult(user_events=[profile_event(raw, payload, athlete)])
    if type_ in S3_TYPES:
        url = text(payload.get("url"), 8192)
        if url is None or not url.lower().startswith(("https://", "http://")):
            raise SchemaInvalidError(f"{type_} event without an http(s) url")
        return NormalizeResult(s3_url=url)
    if type_ == "lab_report.completed":
        observations, skipped, why = lab.completed(raw, payload)
        return NormalizeResult(observations=observations, rejections=skipped, ignored=why)
    if type_ == "lab_report.failed":
        return NormalizeResult(ops_events=[lab.failed(raw, payload)])
    if type_ == "health_observation":
        return NormalizeResult(ignored=_HEALTH_OBSERVATION)
    # the ledger's reason is read by analysts: it names no payload text, not even the unknown type
    return NormalizeResult(ignored="an event type that carries no metrics for vitalstream")


def _data_event(
    raw: RawWebhook,
    payload: JsonObject,
    type_: str,
    handler: Callable[[Emitter, JsonObject], None],
    now: datetime | None,
) -> NormalizeResult:
    ns = namespace(raw.source)
    user_id, provider, reference_id = user_ids(payload, type_, ns)
    if provider is None:
        raise SchemaInvalidError(f"{type_} event without user.provider")
    data = payload.get("data")
    if data is None:
        items: list[object] = []
    elif isinstance(data, list):
        items = data
    else:
        raise SchemaInvalidError(f"{type_} event data is a JSON {_json_kind(data)}, not an array")
    em = Emitter(raw, subject=ns.subject(user_id, reference_id), provider=provider, user_id=user_id, now=now)
    for item in items:
        if isinstance(item, dict):
            handler(em, item)
    return NormalizeResult(observations=em.observations(), rejections=em.rejections)
