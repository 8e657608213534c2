"""The hot path of ``metrics.scored``: Avro body → :class:`~sinks.rows.ObservationRow`.

:meth:`schemas.codec.Codec.decode` reads with fastavro's logical types (four
``datetime`` conversions per record) and then builds two record dataclasses; the sink needs
neither. This reader takes single-object-encoded ``ScoredObservation`` bodies (the codec's
default wire format, recognised by the schema fingerprint), reads them with the same schema
minus the logical types (timestamps stay epoch milliseconds), converts the timestamps
through a small cache (one batch shares few distinct instants) and builds the row directly,
validated by the same function as the slow path (:func:`sinks.rows.make_observation_row`).
Anything else (Confluent framing, another schema) returns ``None``: the caller takes the
generic path.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import fastavro

from schemas.codec import SINGLE_OBJECT_HEADER, DecodeError, schema_text, single_object_header
from sinks.rows import ObservationRow, make_observation_row

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HEADER = SINGLE_OBJECT_HEADER
MAX_CACHED_INSTANTS = 65_536


def _plain(node: Any) -> Any:
    """The schema JSON without ``logicalType`` annotations (same wire format, raw values)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return node


@cache
def _scored_schema() -> Any:
    named: dict[str, Any] = {}
    fastavro.parse_schema(_plain(json.loads(schema_text("Observation"))), named_schemas=named)
    return fastavro.parse_schema(_plain(json.loads(schema_text("ScoredObservation"))), named_schemas=named)


@cache
def scored_header() -> bytes:
    return single_object_header("ScoredObservation")


class ScoredReader:
    """Reads ``ScoredObservation`` single-object records straight into rows (one per thread)."""

    def __init__(self) -> None:
        self._schema = _scored_schema()
        self._header = scored_header()
        self._instants: dict[int, datetime] = {}

    def _at(self, ms: int) -> datetime:
        instant = self._instants.get(ms)
        if instant is None:
            if len(self._instants) >= MAX_CACHED_INSTANTS:
                self._instants.clear()
            # exactly what fastavro's timestamp-millis reader returns
            instant = self._instants[ms] = EPOCH + timedelta(microseconds=ms * 1000)
        return instant

    def accepts(self, data: bytes) -> bool:
        return data[:HEADER] == self._header

    def read(self, data: bytes) -> ObservationRow:
        """The row of one record :meth:`accepts` took; raises like the slow path on bad content."""
        try:
            value = fastavro.schemaless_reader(io.BytesIO(data[HEADER:]), self._schema, None)
        except Exception as exc:  # fastavro raises assorted errors on corrupt bodies
            raise DecodeError(f"corrupt ScoredObservation body: {type(exc).__name__}") from None
        if not isinstance(value, dict):
            raise DecodeError("ScoredObservation body is not a record")
        obs = value["observation"]
        at = self._at
        until = obs["measured_until"]
        return make_observation_row(
            obs["subject"],
            obs["metric"],
            obs["provider"],
            at(obs["measured_at"]),
            None if until is None else at(until),
            obs["value"],
            obs["unit"],
            value["confidence"],
            value["level"],
            value["reliability"],
            obs["event_id"],
            at(obs["ordering_ts"]),
            obs["user_id"],
            value["components"],
            obs["device"],
            obs["upload_type"],
            obs["provenance"],
            obs["source"],
            obs["completeness"],
            at(value["scored_at"]),
            value["generation"],
            obs["value_operator"],
            obs["reference_low"],
            obs["reference_high"],
            obs["interpretation"],
            obs["code"],
        )
