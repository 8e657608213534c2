"""The gateway's OpenAPI 3.1 document, written by hand as data (every route, every answer)."""

from __future__ import annotations

import copy
from typing import Any

import orjson

from vitalstream.platform import __version__

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, *codes: str, headers: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"allOf": [_ref("Error")]}
    if codes:
        schema = {"allOf": [_ref("Error"), {"properties": {"error": {"enum": list(codes)}}}]}
    answer: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        answer["headers"] = {h: {"$ref": f"#/components/headers/{h}"} for h in headers}
    return answer


_SIGNATURE = (
    "signature_missing",
    "signature_malformed",
    "signature_expired",
    "signature_invalid",
)
_RATE_HEADERS = ("Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def _webhook_answers(with_unknown_source: bool) -> dict[str, Any]:
    answers: dict[str, Any] = {
        "202": {
            "description": "Accepted: the event is durable in Kafka (`webhooks.raw`, acks=all).",
            "content": {JSON: {"schema": _ref("Accepted")}},
        },
        "200": {
            "description": (
                "A repeat of an already accepted delivery (same idempotency key and body); nothing produced."
            ),
            "content": {JSON: {"schema": _ref("Duplicate")}},
        },
        "400": _error("The body is not well-formed JSON (decided after the signature check).", "malformed_json"),
        "401": _error("Missing, malformed, expired or invalid signature.", *_SIGNATURE),
        "409": _error("The idempotency key was already used with a different body.", "idempotency_conflict"),
        "413": _error("The body is larger than the configured limit (decided before buffering).", "payload_too_large"),
        "415": _error("The content type is not JSON.", "unsupported_media_type"),
        "429": _error(
            "Rate limited (per client address, per source or per provider user).", "rate_limited", headers=_RATE_HEADERS
        ),
        "500": _error("Unexpected gateway failure; nothing was acknowledged.", "internal_error"),
        "503": _error(
            "Kafka did not acknowledge in time; nothing was acknowledged, retry later.",
            "kafka_unavailable",
            headers=("Retry-After",),
        ),
    }
    if with_unknown_source:
        answers["404"] = _error("No Standard Webhooks source of that name is configured.", "unknown_source")
    return answers


_REQUEST_ID_PARAM = {"$ref": "#/components/parameters/RequestId"}
_JSON_BODY = {
    "required": True,
    "description": "The provider's JSON payload; its exact bytes are signed and stored untouched.",
    "content": {JSON: {"schema": {}}},
}


def _header(name: str, description: str, required: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


HEALTH_PATH: dict[str, Any] = {
    "get": {
        "operationId": "health",
        "summary": "Health document (design §9), cached 2 s.",
        "responses": {
            "200": {"description": "healthy or degraded", "content": {JSON: {"schema": _ref("Health")}}},
            "503": {"description": "unhealthy", "content": {JSON: {"schema": _ref("Health")}}},
        },
    }
}


def document(extra_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/webhooks/terra": {
            "post": {
                "operationId": "terraWebhook",
                "summary": "Receive a Terra webhook.",
                "description": (
                    "Signature header `terra-signature` or `X-Terra-Signature`: `t=<unix s>,v1=<hex>[,v1=…]`, "
                    "lowercase hex HMAC-SHA256 of `<t>.<raw body>`; the timestamp must be within the tolerance "
                    "(300 s by default) either way. Idempotency key: `X-Terra-Trace-Id`, else SHA-256 of the body."
                ),
                "parameters": [
                    _header("terra-signature", "Terra signature (or X-Terra-Signature).", True),
                    _header("X-Terra-Trace-Id", "Unique per delivery, stable across retries: the idempotency key."),
                    _header("X-Terra-Ordering-Timestamp", "Unix milliseconds; travels with the record."),
                    _header("terra-reference", "Shared by all chunks of one request; kept with the record."),
                    _REQUEST_ID_PARAM,
                ],
                "requestBody": _JSON_BODY,
                "responses": _webhook_answers(False),
            }
        },
        "/webhooks/{source}": {
            "post": {
                "operationId": "standardWebhook",
                "summary": "Receive a Standard Webhooks delivery from a configured source.",
                "description": (
                    "Headers `webhook-id`, `webhook-timestamp`, `webhook-signature` (space-separated `v1,<base64>`), "
                    "HMAC-SHA256 of `id.timestamp.body` keyed with the source's `whsec_` secret. "
                    "Idempotency key: `webhook-id`."
                ),
                "parameters": [
                    {
                        "name": "source",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "Source name as configured in VITALSTREAM_WEBHOOK_SECRETS.",
                    },
                    _header("webhook-id", "Message id: the idempotency key.", True),
                    _header("webhook-timestamp", "Unix seconds.", True),
                    _header("webhook-signature", "Space-separated `v1,<base64>` signatures.", True),
                    _REQUEST_ID_PARAM,
                ],
                "requestBody": _JSON_BODY,
                "responses": _webhook_answers(True),
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness: the process answers.",
                "responses": {"200": {"description": "alive", "content": {JSON: {"schema": _ref("Status")}}}},
            }
        },
        "/readyz": {
            "get": {
                "operationId": "readyz",
                "summary": "Readiness: Kafka metadata for the raw topic is reachable (verdict cached ~1 s).",
                "responses": {
                    "200": {"description": "can produce now", "content": {JSON: {"schema": _ref("Status")}}},
                    "503": _error("The broker cannot be reached.", "not_ready", headers=("Retry-After",)),
                },
            }
        },
        "/metrics": {
            "get": {
                "operationId": "metrics",
                "summary": "Prometheus metrics (text exposition format).",
                "responses": {
                    "200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}
                },
            }
        },
        "/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {
                    "200": {"description": "OpenAPI 3.1 document", "content": {JSON: {"schema": {"type": "object"}}}}
                },
            }
        },
    }
    paths.update(copy.deepcopy(extra_paths or {}))
    not_found = _error("No such route.", "not_found")
    not_allowed = _error("Method not allowed on this route.", "method_not_allowed")
    for item in paths.values():
        for operation in item.values():
            operation["responses"].setdefault("404", not_found)
            operation["responses"].setdefault("405", not_allowed)
            operation["responses"].setdefault("500", _error("Unexpected gateway failure.", "internal_error"))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vitalstream gateway",
            "version": __version__,
            "description": "Durable, secure intake of wearable-health webhooks. 2xx only once Kafka has acknowledged.",
        },
        "paths": paths,
        "components": {
            "schemas": {
                "Accepted": {
                    "type": "object",
                    "required": ["event_id"],
                    "properties": {"event_id": {"type": "string", "format": "uuid"}},
                },
                "Duplicate": {
                    "type": "object",
                    "required": ["duplicate", "event_id"],
                    "properties": {"duplicate": {"const": True}, "event_id": {"type": "string", "format": "uuid"}},
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
                "Status": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
                "Health": {
                    "type": "object",
                    "required": ["status", "checks"],
                    "properties": {
                        "status": {"enum": ["healthy", "degraded", "unhealthy"]},
                        "timestamp": {"type": "string"},
                        "version": {"type": "string"},
                        "checks": {"type": "object"},
                    },
                },
            },
            "parameters": {
                "RequestId": {
                    "name": "X-Request-Id",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "Echoed back; generated when absent or not a plain token.",
                },
            },
            "headers": {
                "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}},
                "RateLimit-Limit": {"description": "Requests allowed per minute.", "schema": {"type": "integer"}},
                "RateLimit-Remaining": {"description": "Requests left in the window.", "schema": {"type": "integer"}},
                "RateLimit-Reset": {"description": "Seconds until the window resets.", "schema": {"type": "integer"}},
            },
        },
    }


def render(extra_paths: dict[str, Any] | None = None) -> bytes:
    return orjson.dumps(document(extra_paths))
