"""Signed Terra bodies of about 1 KB for the load generator (pure: no I/O).

A ``body`` event with one weight/body-fat measurement (two observations once normalized)
and a device block that brings the body to ~1 KB, as design §11 asks. ``unique=True``
gives every request its own subject (``reference_id``), so its row in ``latest_metrics``
belongs to it alone and its freshness can be observed.
"""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, datetime, timedelta

import orjson

from gateway.signatures import terra_sign

TARGET_BYTES = 1024
SUBJECT_PREFIX = "bench"


def subject_of(run: str, index: int) -> str:
    return f"{SUBJECT_PREFIX}-{run}-{index:09d}"


def trace_id(run: str, index: int) -> str:
    return f"{run}-{index:09d}"


def body(run: str, index: int, unique: bool, users: int = 1000) -> bytes:
    """One ~1 KB Terra body event. ``unique``: a subject of its own; else one of ``users`` subjects."""
    who = index if unique else index % users
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1) + timedelta(milliseconds=index)
    doc = {
        "type": "body",
        "version": "2022-03-16",
        "user": {
            "user_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}/{who}")),
            "provider": "WITHINGS",
            "reference_id": subject_of(run, who),
            "scopes": "body",
            "active": True,
            "created_at": None,
            "last_webhook_update": None,
        },
        "data": [
            {
                "metadata": {
                    "start_time": at.isoformat(),
                    "end_time": (at + timedelta(minutes=1)).isoformat(),
                    "timestamp_localization": 0,
                },
                "device_data": {
                    "name": "Body+",
                    "manufacturer": "Withings",
                    "serial_number": f"SN-{who}",
                    "data_provided": [],
                    "other_devices": None,
                },
                "measurements_data": {
                    "measurements": [
                        {
                            "measurement_time": at.isoformat(),
                            "weight_kg": round(60 + (index % 400) / 10, 1),
                            "bodyfat_percentage": round(15 + (index % 150) / 10, 1),
                        }
                    ]
                },
            }
        ],
    }
    raw = orjson.dumps(doc)
    pad = TARGET_BYTES - len(raw) - len(',"notes":""')
    if pad > 0:
        doc["notes"] = "x" * pad
        raw = orjson.dumps(doc)
    return raw


class Signer:
    """``terra-signature`` header values, computed once per (body, second) rather than per request."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self._second = -1
        self._cache: dict[int, bytes] = {}

    def header(self, key: int, payload: bytes, now: float | None = None) -> bytes:
        second = int(now if now is not None else time.time())
        if second != self._second:
            self._second = second
            self._cache.clear()
        value = self._cache.get(key)
        if value is None:
            value = f"t={second},v1={terra_sign(self.secret, second, payload)}".encode()
            self._cache[key] = value
        return value


def heart_rate_chunk(user: str, target_bytes: int, seed: int, start_s: int = 0) -> tuple[bytes, int]:
    """A Terra ``body`` event of about ``target_bytes`` of random-valued heart-rate samples, and their count.

    The shape of a large request's chunk: one user's history, poorly compressible values, one
    sample a second from ``start_s`` seconds after 2026-11-01 (chunks of one request must not overlap).
    """
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=start_s)
    n = max(1, target_bytes // 62)
    samples = [
        {"timestamp": (start + timedelta(seconds=i)).isoformat(), "bpm": round(rng.uniform(40, 190), 6)}
        for i in range(n)
    ]
    doc = {
        "type": "body",
        "user": {"user_id": user, "provider": "GARMIN", "reference_id": user},
        "data": [
            {
                "metadata": {"start_time": start.isoformat(), "end_time": (start + timedelta(seconds=n)).isoformat()},
                "heart_data": {"heart_rate_data": {"detailed": {"hr_samples": samples}}},
            }
        ],
    }
    return orjson.dumps(doc), n
