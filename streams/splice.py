"""A cheaper encoding of :class:`~schemas.records.ScoredObservation` for the score agent.

A ScoredObservation's Avro body is its ``observation`` field's body (the Observation record,
byte for byte: Avro encodes a nested record as the concatenation of its fields) followed
by ``confidence``, ``level``, ``components``, ``reliability`` and ``scored_at``. The score
agent has just decoded that Observation from a single-object-encoded record, so it can
re-use those bytes and encode only the five trailing fields, instead of encoding all
twenty-odd fields again (fastavro's writer was the largest single cost of scoring).

Whatever cannot be spliced safely (a Confluent-framed or other-schema source, a naive
``scored_at``, a ScoredObservation whose observation is not the decoded one) is encoded by
:class:`~schemas.codec.Codec` as before; the unit tests check both paths give equal bytes.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from schemas.codec import MAGIC_SINGLE_OBJECT, Codec, schema_fingerprint
from schemas.records import Observation, ScoredObservation

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_pack_double = struct.Struct("<d").pack


def _long(n: int) -> bytes:
    """Avro ``long``: zig-zag, then base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    if z < 0x80:
        return bytes((z,))
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return _long(len(data)) + data


def _millis(ts: datetime) -> int:
    """fastavro's ``timestamp-millis`` of an aware datetime (integer arithmetic, no float rounding)."""
    delta = ts - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


class ScoredEncoder:
    """Encodes ScoredObservations, splicing in the source Observation's bytes where it can."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._source_header = MAGIC_SINGLE_OBJECT + schema_fingerprint("Observation")
        self._header = MAGIC_SINGLE_OBJECT + schema_fingerprint("ScoredObservation")
        # Splice only if this codec writes single-object records and a probe comes out byte-equal
        # (e.g. not with a schema registry, where records carry registry ids instead).
        self.spliceable = True
        probe = _probe()
        source = codec.encode(probe.observation)
        self.spliceable = source[:10] == self._source_header and (
            self.encode(probe, probe.observation, source) == codec.encode(probe))

    def encode(self, scored: ScoredObservation, observation: Observation, source: bytes | None) -> bytes:
        """``scored`` encoded; ``source`` is the record ``observation`` was decoded from."""
        ts = scored.scored_at
        if (not self.spliceable or source is None or scored.observation is not observation
                or ts.tzinfo is None or source[:10] != self._source_header):
            return self.codec.encode(scored)
        components = scored.components
        parts = [self._header, source[10:], _pack_double(scored.confidence), _string(scored.level)]
        if components:
            parts.append(_long(len(components)))
            for name, value in components.items():
                parts.append(_string(name))
                parts.append(_pack_double(value))
        parts.append(b"\x00")
        parts.append(_pack_double(scored.reliability))
        parts.append(_long(_millis(ts)))
        return b"".join(parts)


def _probe() -> ScoredObservation:
    at = datetime(2024, 3, 1, 12, 30, 45, 678901, tzinfo=UTC)
    obs = Observation(subject="probe", metric="steps", value=1234.0, unit="count", measured_at=at, provider="probe",
                      event_id="probe", ordering_ts=at, measured_until=at, device="d", completeness=0.5)
    return ScoredObservation(observation=obs, confidence=87.25, level="excellent", scored_at=at,
                             components={"P": 1.0, "R": 0.75, "ü": -0.5}, reliability=0.6)
