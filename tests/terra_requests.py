"""Signed Terra large requests for integration tests: announcements, then numbered chunks."""

from __future__ import annotations

import time
import urllib.request
import uuid
from typing import Any

import orjson

from gateway.signatures import terra_header


def post(gateway_url: str, secret: str, doc: dict[str, Any], reference: str, trace: str) -> None:
    """One signed delivery with the ``terra-reference`` header; accepted (202) or a known duplicate (200)."""
    body = orjson.dumps(doc)
    headers = {
        "Content-Type": "application/json",
        "terra-signature": terra_header(secret, int(time.time()), body),
        "X-Terra-Trace-Id": trace,
        "terra-reference": reference,
    }
    request = urllib.request.Request(f"{gateway_url}/webhooks/terra", data=body, headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=30) as resp:
        assert resp.status in (200, 202)


def large_request(gateway_url: str, secret: str, reference: str, user: str, chunks: list[int], expected: int) -> None:
    """``large_request_processing``, ``large_request_sending`` (``expected``), then ``chunks`` in order.

    A chunk number given twice is sent again as a new delivery (a new trace id), as a resend is.
    """
    who = {"user_id": user, "provider": "GARMIN", "reference_id": f"dev-{user}"}
    trace = uuid.uuid4().hex
    processing = {"type": "large_request_processing", "status": "processing", "message": "m", "user": who}
    post(gateway_url, secret, {**processing, "reference": reference}, reference, f"{trace}-p")
    sending = {"type": "large_request_sending", "message": "m", "user": who, "expected_payloads": expected}
    post(gateway_url, secret, {**sending, "reference": reference}, reference, f"{trace}-s")
    for i, n in enumerate(chunks):
        day = f"2026-{n:02d}-01T00:00:00+00:00"
        item = {"metadata": {"start_time": day, "end_time": day}, "measurements_data": {"measurements": []}}
        again = "-again" if n in chunks[:i] else ""
        post(gateway_url, secret, {"type": "body", "user": who, "data": [item]}, reference, f"{trace}{again}:chunk:{n}")
