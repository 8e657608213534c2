"""Decoded records as people see them (``vitalstream tail``, ``vitalstream dlq show``): masked by default.

A raw webhook's body is parsed and every personal field of the contract
(:mod:`schemas.personal`) is masked, as in every other record; ``unmasked`` (``tail
--unmasked``, for admins) shows the body as received.
"""

from __future__ import annotations

from typing import Any

import orjson

from schemas.personal import is_personal, mask
from schemas.records import RawWebhook, _Record


def record_view(record: _Record, *, unmasked: bool = False) -> dict[str, Any]:
    """The record's fields as a JSON-able dict; personal fields masked unless ``unmasked``."""
    data = record.to_avro()
    if isinstance(record, RawWebhook):
        try:
            data["body"] = orjson.loads(record.body)
        except orjson.JSONDecodeError:
            text = record.body.decode("utf-8", "replace")
            data["body"] = text if unmasked else {"unparseable_json": len(record.body)}
        data["headers"] = {k: v for k, v in record.headers.items() if unmasked or not is_personal(k)}
    return data if unmasked else dict(mask(data))
