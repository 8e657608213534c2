"""The worker's Avro writers (streams.encoders) are byte-equal to the codec's."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from schemas.codec import Codec
from schemas.records import LatestMetric, Observation, ScoredObservation
from streams.encoders import RecordEncoder

CODEC = Codec()
ENC = RecordEncoder(CODEC)


def _text(rng: random.Random) -> str:
    return rng.choice(["", "s1", "subject-ü-" + str(rng.random()), "x" * 300, "日本語", "a\x00b"])


def _when(rng: random.Random) -> datetime:
    base = datetime(1965, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(0, 80 * 365 * 86400 * 10**6))
    tz = rng.choice([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))])
    return base.astimezone(tz)


def _observation(rng: random.Random) -> Observation:
    return Observation(
        subject=_text(rng),
        metric=rng.choice(["steps", "weight_kg"]),
        value=rng.choice([0.0, -0.0, 1e300, rng.uniform(-1e9, 1e9)]),
        unit=_text(rng),
        measured_at=_when(rng),
        provider=_text(rng),
        event_id=_text(rng),
        ordering_ts=_when(rng),
        measured_until=rng.choice([None, _when(rng)]),
        device=rng.choice([None, _text(rng)]),
        upload_type=rng.choice([None, "MANUAL"]),
        provenance=rng.choice(["sensed", "unknown"]),
        completeness=rng.random(),
        user_id=rng.choice([None, _text(rng)]),
        source=rng.choice(["terra", "acme"]),
    )


def _scored(rng: random.Random, obs: Observation) -> ScoredObservation:
    components = {k: round(rng.uniform(0, 1), 4) for k in rng.sample("PRCFMA", rng.randrange(0, 7))}
    return ScoredObservation(
        observation=obs,
        confidence=rng.choice([0.0, 100.0, rng.uniform(0, 100)]),
        level=rng.choice(["excellent", "good", "fair", "poor"]),
        scored_at=_when(rng),
        components=components,
        reliability=rng.uniform(0, 1),
    )


def _latest(rng: random.Random) -> LatestMetric:
    return LatestMetric(
        subject=_text(rng),
        metric="steps",
        value=rng.uniform(-1e6, 1e6),
        unit=_text(rng),
        measured_at=_when(rng),
        provider=_text(rng),
        confidence=rng.uniform(0, 100),
        level="good",
        event_id=_text(rng),
        ordering_ts=_when(rng),
        updated_at=_when(rng),
        measured_until=rng.choice([None, _when(rng)]),
        reliability=rng.random(),
    )


def test_byte_equal_to_the_codec() -> None:
    assert ENC.enabled
    rng = random.Random(7)
    for _ in range(3000):
        obs = _observation(rng)
        source = ENC.observation(obs)
        assert source == CODEC.encode(obs)
        decoded = CODEC.decode_as(source, Observation)
        sc = _scored(rng, decoded)
        out = ENC.scored(sc, decoded, source)
        assert out == CODEC.encode(sc)
        assert CODEC.decode_as(out, ScoredObservation).observation == decoded
        assert ENC.scored(sc, decoded, None) == out  # no source bytes: the observation is written too
        latest = _latest(rng)
        assert ENC.latest(latest) == CODEC.encode(latest)


def test_falls_back_to_the_codec_when_it_cannot_write_the_same() -> None:
    rng = random.Random(1)
    obs = _observation(rng)
    sc = _scored(rng, obs)
    source = CODEC.encode(obs)
    naive = datetime(2024, 1, 1, 12, 0)  # fastavro reads a naive datetime as local time
    assert ENC.scored(sc, replace(obs, value=1.0), source) == CODEC.encode(sc)  # not the decoded observation
    assert ENC.scored(sc, obs, b"\x00\x00\x00\x00\x01" + source[10:]) == CODEC.encode(sc)  # Confluent-framed
    assert ENC.scored(replace(sc, scored_at=naive), obs, source) == CODEC.encode(replace(sc, scored_at=naive))
    assert ENC.observation(replace(obs, measured_until=naive)) == CODEC.encode(replace(obs, measured_until=naive))
    latest = replace(_latest(rng), updated_at=naive)
    assert ENC.latest(latest) == CODEC.encode(latest)
