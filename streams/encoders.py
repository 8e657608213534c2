"""Cheaper Avro writers for the three records the worker writes per observation.

fastavro's generic writer (record → dict → schema walk) was the worker's largest single
cost: every observation is encoded as an Observation (normalize), a ScoredObservation
and usually a LatestMetric (score). These writers produce the same bytes with less work:

- **Observation** and **LatestMetric**: written field by field in schema order (strings,
  doubles, ``timestamp-millis`` longs, ``["null", X]`` unions) by code specific to them;
- **ScoredObservation**: its Avro body is its ``observation`` field's body (Avro encodes a
  nested record as the concatenation of its fields) followed by ``confidence``, ``level``,
  ``components``, ``reliability``, ``scored_at`` and ``generation``. The score agent has just decoded that
  Observation from a single-object-encoded record, so the bytes are re-used and only the
  six trailing fields are written.

Whatever these writers do not cover (a naive datetime, a Confluent-framed source, a codec
with a schema registry, a ScoredObservation whose observation is not the decoded one) goes
to :class:`~schemas.codec.Codec` as before. :class:`RecordEncoder` checks itself against the
codec on probe records when it is created and falls back entirely on any difference; the
unit tests compare both on thousands of random records.
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime

from schemas.codec import SINGLE_OBJECT_HEADER, Codec, single_object_header
from schemas.records import LatestMetric, Observation, ScoredObservation

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_pack_double = struct.Struct("<d").pack
_NULL = b"\x00"
_PRESENT = b"\x02"  # union branch 1, zig-zag encoded


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


_WORDS: dict[str, bytes] = {}


def _word(text: str) -> bytes:
    """``_string`` for the few distinct values of a field (metric, unit, provider, level, ...), cached."""
    data = _WORDS.get(text)
    if data is None:
        data = _string(text)
        if len(_WORDS) < 4096:
            _WORDS[text] = data
    return data


def _opt_string(text: str | None) -> bytes:
    return _NULL if text is None else _PRESENT + _string(text)


def _opt_word(text: str | None) -> bytes:
    return _NULL if text is None else _PRESENT + _word(text)


def _millis(ts: datetime) -> int:
    """fastavro's ``timestamp-millis`` of an aware datetime (integer arithmetic, no float rounding)."""
    delta = ts - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000


class _Naive(Exception):  # an internal signal, never escapes
    """A naive datetime: fastavro interprets it in local time, so the codec writes it."""


def _ts(ts: datetime) -> bytes:
    if ts.tzinfo is None:
        raise _Naive
    return _long(_millis(ts))


def _opt_ts(ts: datetime | None) -> bytes:
    return _NULL if ts is None else _PRESENT + _ts(ts)


def _opt_double(value: float | None) -> bytes:
    return _NULL if value is None else _PRESENT + _pack_double(value)


def observation_body(o: Observation) -> bytes:
    return b"".join(
        (
            _string(o.subject),
            _word(o.metric),
            _pack_double(o.value),
            _word(o.unit),
            _ts(o.measured_at),
            _opt_ts(o.measured_until),
            _word(o.provider),
            _opt_word(o.device),
            _opt_word(o.upload_type),
            _word(o.provenance),
            _pack_double(o.completeness),
            _opt_string(o.user_id),
            _string(o.event_id),
            _ts(o.ordering_ts),
            _word(o.source),
            _opt_word(o.value_operator),
            _opt_double(o.reference_low),
            _opt_double(o.reference_high),
            _opt_word(o.interpretation),
            _opt_word(o.code),
        )
    )


def latest_body(m: LatestMetric) -> bytes:
    return b"".join(
        (
            _string(m.subject),
            _word(m.metric),
            _pack_double(m.value),
            _word(m.unit),
            _ts(m.measured_at),
            _opt_ts(m.measured_until),
            _word(m.provider),
            _pack_double(m.confidence),
            _word(m.level),
            _pack_double(m.reliability),
            _string(m.event_id),
            _ts(m.ordering_ts),
            _ts(m.updated_at),
            _long(m.generation),
        )
    )


def scored_tail(s: ScoredObservation) -> bytes:
    """Everything of a ScoredObservation's body after its observation."""
    parts = [_pack_double(s.confidence), _word(s.level)]
    components = s.components
    if components:
        parts.append(_long(len(components)))
        for name, value in components.items():
            parts.append(_word(name))
            parts.append(_pack_double(value))
    parts.append(_NULL)
    parts.append(_pack_double(s.reliability))
    parts.append(_ts(s.scored_at))
    parts.append(_long(s.generation))
    return b"".join(parts)


class RecordEncoder:
    """The worker's writers for Observation, ScoredObservation and LatestMetric (see module doc)."""

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self._obs_header = single_object_header("Observation")
        self._scored_header = single_object_header("ScoredObservation")
        self._latest_header = single_object_header("LatestMetric")
        # Only if this codec writes single-object records (not registry ids) and every probe comes
        # out byte-equal; else everything goes to the codec.
        self.enabled = True
        self.enabled = all(self._self_check(p) for p in _probes())

    def _self_check(self, probe: ScoredObservation) -> bool:
        source = self.codec.encode(probe.observation)
        latest = _latest_of(probe)
        return (
            source == self.observation(probe.observation)
            and self.scored(probe, probe.observation, source) == self.codec.encode(probe)
            and self.latest(latest) == self.codec.encode(latest)
        )

    def observation(self, obs: Observation) -> bytes:
        if self.enabled:
            try:
                return self._obs_header + observation_body(obs)
            except _Naive:
                pass
        return self.codec.encode(obs)

    def latest(self, latest: LatestMetric) -> bytes:
        if self.enabled:
            try:
                return self._latest_header + latest_body(latest)
            except _Naive:
                pass
        return self.codec.encode(latest)

    def scored(self, scored: ScoredObservation, observation: Observation, source: bytes | None) -> bytes:
        """``scored`` encoded; ``source`` is the record ``observation`` was decoded from."""
        if self.enabled and scored.observation is observation:
            try:
                if source is not None and source[:SINGLE_OBJECT_HEADER] == self._obs_header:
                    return b"".join((self._scored_header, source[SINGLE_OBJECT_HEADER:], scored_tail(scored)))
                return b"".join((self._scored_header, observation_body(observation), scored_tail(scored)))
            except _Naive:
                pass
        return self.codec.encode(scored)


def _latest_of(s: ScoredObservation) -> LatestMetric:
    o = s.observation
    return LatestMetric(
        subject=o.subject,
        metric=o.metric,
        value=o.value,
        unit=o.unit,
        measured_at=o.measured_at,
        provider=o.provider,
        confidence=s.confidence,
        level=s.level,
        event_id=o.event_id,
        ordering_ts=o.ordering_ts,
        updated_at=s.scored_at,
        measured_until=o.measured_until,
        reliability=s.reliability,
    )


def _probes() -> list[ScoredObservation]:
    at = datetime(2024, 3, 1, 12, 30, 45, 678901, tzinfo=UTC)
    full = Observation(
        subject="probe-ü",
        metric="steps",
        value=1234.5,
        unit="count",
        measured_at=at,
        provider="probe",
        event_id="probe",
        ordering_ts=at,
        measured_until=at,
        device="d",
        upload_type="AUTOMATIC",
        provenance="sensed",
        completeness=0.5,
        user_id="u",
        source="x",
        value_operator="<",
        reference_low=0.5,
        reference_high=1.5,
        interpretation="high",
        code="4548-4",
    )
    bare = Observation(
        subject="",
        metric="m",
        value=-0.0,
        unit="",
        measured_at=datetime(1960, 1, 1, tzinfo=UTC),
        provider="",
        event_id="",
        ordering_ts=at,
    )
    return [
        ScoredObservation(
            observation=full,
            confidence=87.25,
            level="excellent",
            scored_at=at,
            components={"P": 1.0, "R": 0.75, "ü": -0.5},
            reliability=0.6,
        ),
        ScoredObservation(observation=bare, confidence=0.0, level="", scored_at=at, components={}),
    ]
