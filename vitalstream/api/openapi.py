"""``GET /openapi.json`` of the read API (OpenAPI 3.1), written once at start-up."""

from __future__ import annotations

from typing import Any

import orjson

from vitalstream.platform import __version__

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_TIME = {"type": "string", "format": "date-time"}
_SUBJECT = {"name": "subject", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
_METRIC = {
    "type": "object",
    "required": ["metric", "value", "unit", "measured_at", "provider", "confidence", "level", "updated_at"],
    "properties": {
        "metric": {"type": "string"},
        "value": {"type": "number"},
        "unit": {"type": "string"},
        "measured_at": _TIME,
        "measured_until": {"type": ["string", "null"], "format": "date-time"},
        "provider": {"type": "string"},
        "confidence": {"type": "number", "minimum": 0, "maximum": 100},
        "level": {"type": "string", "enum": ["excellent", "good", "fair", "poor"]},
        "generation": {"type": "integer"},
        "updated_at": _TIME,
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): _PROBLEM for c in codes}


def _get(summary: str, params: list[dict[str, Any]], ok: dict[str, Any], *codes: int) -> dict[str, Any]:
    return {
        "get": {"summary": summary, "parameters": params, "responses": {**ok, **_errors(401, 403, 429, 503, *codes)}}
    }


def _json(schema: dict[str, Any], media: str = "application/json") -> dict[str, Any]:
    return {"200": {"description": "OK", "content": {media: {"schema": schema}}}}


def _query(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema}


def document() -> dict[str, Any]:
    listed = {"subject": {"type": "string"}, "metrics": {"type": "array", "items": _METRIC}}
    metrics = {"type": "object", "properties": listed}
    page = {
        "type": "object",
        "properties": {"observations": {"type": "array"}, "next_cursor": {"type": ["string", "null"]}},
    }
    paths: dict[str, Any] = {
        "/v1/subjects/{subject}/metrics": _get(
            "Latest value of every metric of a subject, with confidence and level (ETag, If-None-Match → 304)",
            [_SUBJECT],
            {**_json(metrics), "304": {"description": "Not modified"}},
            404,
        ),
        "/v1/subjects/{subject}/metrics/{metric}": _get(
            "Latest value of one metric",
            [_SUBJECT, {"name": "metric", "in": "path", "required": True, "schema": {"type": "string"}}],
            {**_json(_METRIC), "304": {"description": "Not modified"}},
            404,
        ),
        "/v1/subjects/{subject}/observations": _get(
            "History: every scored value, keyset-paged on (metric, provider, measured_at)",
            [
                _SUBJECT,
                _query("metric", {"type": "string"}),
                _query("since", _TIME),
                _query("until", _TIME),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                _query("cursor", {"type": "string"}),
            ],
            _json(page),
            400,
            404,
        ),
        "/v1/subjects/{subject}/quality": _get(
            "Daily confidence summary per metric and provider (UTC days)",
            [_SUBJECT, _query("since", _TIME)],
            _json({"type": "object"}),
            400,
            404,
        ),
        "/v1/stream": _get(
            "Server-Sent Events: current values (event: metric), a ready event, then every change "
            "(event: metric or removed); a client too far behind gets event: dropped with the reason and is "
            "disconnected; Last-Event-ID resumes",
            [
                _query("subject", {"type": "array", "items": {"type": "string"}}, required=True),
                {"name": "Last-Event-ID", "in": "header", "required": False, "schema": {"type": "string"}},
            ],
            {"200": {"description": "event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
            400,
            404,
            503,
        ),
        "/fhir/Observation": _get(
            "FHIR R4 searchset Bundle of the subject's latest Observations (LOINC codes, UCUM units)",
            [_query("subject", {"type": "string", "minLength": 1}, required=True), _query("code", {"type": "string"})],
            _json({"type": "object"}, "application/fhir+json"),
            400,
            404,
        ),
        "/healthz": {"get": {"summary": "Alive", "security": [], "responses": _json({"type": "object"})}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "vitalstream read API", "version": __version__},
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "an API key (vsk_…)"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem",
                    "content": {"application/problem+json": {"schema": {"type": "object"}}},
                }
            },
        },
    }


def render() -> bytes:
    return orjson.dumps(document())
