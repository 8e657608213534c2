"""``vitalstream tail``: decoded records of any catalogue topic as JSON lines, personal fields masked."""

from __future__ import annotations

import base64
import sys
import time
from datetime import date, datetime
from typing import Any

import orjson
from confluent_kafka import KafkaException

from schemas.codec import Codec, DecodeError
from schemas.topics import spec
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.record_view import record_view


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError


def record_json(
    codec: Codec, value: bytes | None, key: bytes | None, headers: Any, *, unmasked: bool = False
) -> dict[str, Any]:
    """One record as a JSON-able dict: key, decoded value (None for a tombstone; masked), vs.* headers."""
    out: dict[str, Any] = {"key": key.decode("utf-8", "replace") if key else None}
    if value is None:
        out["value"] = None
    else:
        try:
            record = codec.decode(value)
            out["schema"] = record.SCHEMA
            out["value"] = _plain(record_view(record, unmasked=unmasked))
        except DecodeError as exc:
            out["value"] = None
            out["decode_error"] = str(exc)
    if headers:
        out["headers"] = {k: v.decode("utf-8", "replace") if v else None for k, v in headers}
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def tail_topic(
    settings: Settings,
    topic: str,
    from_beginning: bool,
    max_records: int | None,
    filters: dict[str, str],
    idle_timeout_s: float | None,
    *,
    unmasked: bool = False,
) -> None:
    short = spec(topic).name
    consumer = kafka.consumer(settings, "tail", **{"auto.offset.reset": "earliest" if from_beginning else "latest"})
    codec = codec_for(settings)
    consumer.subscribe([settings.topic(short)])
    shown = 0
    last = time.monotonic()
    try:
        while max_records is None or shown < max_records:
            msg = consumer.poll(0.5)
            if msg is None:
                if idle_timeout_s is not None and time.monotonic() - last > idle_timeout_s:
                    break
                continue
            err = msg.error()
            if err is not None:
                if err.code() in kafka.REFUSALS:
                    who = settings.kafka_username or "this client"
                    raise SystemExit(f"error: Kafka refused {who} reading {short}: {err.str()}")
                continue
            last = time.monotonic()
            row = record_json(codec, msg.value(), msg.key(), msg.headers(), unmasked=unmasked)
            row.update(topic=msg.topic(), partition=msg.partition(), offset=msg.offset())
            if filters and not _matches(row, filters):
                continue
            sys.stdout.buffer.write(orjson.dumps(row, default=_default) + b"\n")
            sys.stdout.flush()
            shown += 1
    except KeyboardInterrupt:
        pass
    except KafkaException as exc:
        raise SystemExit(f"error: Kafka: {exc}") from None
    finally:
        consumer.close()


def _matches(row: dict[str, Any], filters: dict[str, str]) -> bool:
    value = row.get("value") or {}
    flat = {**value, **(value.get("observation") or {})} if isinstance(value, dict) else {}
    return all(str(flat.get(k)) == v or (k == "key" and row.get("key") == v) for k, v in filters.items())
