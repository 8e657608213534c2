"""The score agent's spliced ScoredObservation encoding is byte-equal to the codec's."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from schemas.codec import Codec
from schemas.records import Observation, ScoredObservation
from streams.splice import ScoredEncoder

CODEC = Codec()


def _scored(rng: random.Random) -> ScoredObservation:
    base = datetime(1965, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randrange(0, 80 * 365 * 86400 * 10**6))
    tz = rng.choice([UTC, timezone(timedelta(hours=-7)), timezone(timedelta(hours=5, minutes=30))])
    obs = Observation(
        subject=rng.choice(["s1", "subject-ü-" + str(rng.random()), "x" * 300]), metric="steps",
        value=rng.uniform(-1e9, 1e9), unit="count", measured_at=base, provider="garmin", event_id=str(rng.random()),
        ordering_ts=base + timedelta(seconds=1), measured_until=rng.choice([None, base + timedelta(hours=1)]),
        device=rng.choice([None, "watch"]), completeness=rng.random(),
    )
    components = {k: round(rng.uniform(0, 1), 4) for k in rng.sample("PRCFMA", rng.randrange(0, 7))}
    scored_at = base.astimezone(tz) + timedelta(microseconds=rng.randrange(-10**12, 10**12))
    return ScoredObservation(observation=obs, confidence=rng.choice([0.0, 100.0, rng.uniform(0, 100)]),
                             level=rng.choice(["excellent", "good", "fair", "poor"]), scored_at=scored_at,
                             components=components, reliability=rng.uniform(0, 1))


def test_splice_is_byte_equal_to_the_codec() -> None:
    enc = ScoredEncoder(CODEC)
    assert enc.spliceable
    rng = random.Random(7)
    for _ in range(3000):
        sc = _scored(rng)
        source = CODEC.encode(sc.observation)
        decoded = CODEC.decode_as(source, Observation)
        sc = replace(sc, observation=decoded)
        out = enc.encode(sc, decoded, source)
        assert out == CODEC.encode(sc)
        assert CODEC.decode_as(out, ScoredObservation).observation == decoded


def test_falls_back_when_it_cannot_splice() -> None:
    enc = ScoredEncoder(CODEC)
    sc = _scored(random.Random(1))
    source = CODEC.encode(sc.observation)
    other = replace(sc.observation, value=1.0)
    naive = replace(sc, scored_at=datetime(2024, 1, 1, 12, 0))  # noqa: DTZ001 - the naive case on purpose
    assert enc.encode(sc, other, source) == CODEC.encode(sc)  # not the decoded observation
    assert enc.encode(sc, sc.observation, None) == CODEC.encode(sc)
    assert enc.encode(sc, sc.observation, b"\x00\x00\x00\x00\x01" + source[10:]) == CODEC.encode(sc)
    assert enc.encode(naive, naive.observation, source) == CODEC.encode(naive)
