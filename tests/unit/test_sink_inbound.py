"""Decoding consumed messages into rows (pure; a plain stand-in object plays the message)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from schemas.codec import Codec, DecodeError
from sinks.checkpoint import next_offsets
from sinks.inbound import decode
from sinks.rows import ObservationRow, observation_row
from sinks.sample import scored, user_event
from sinks.writer import build_batch

CODEC = Codec()
T0 = datetime(2026, 3, 1, tzinfo=UTC)


@dataclass
class Msg:
    _topic: str
    _value: bytes | None
    _offset: int = 0
    _partition: int = 0
    _headers: list[tuple[str, bytes]] = field(default_factory=list)

    def topic(self) -> str:
        return self._topic

    def partition(self) -> int:
        return self._partition

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes | None:
        return self._value

    def headers(self) -> list[tuple[str, bytes]]:
        return self._headers

    def timestamp(self) -> tuple[int, int]:
        return (1, 0)


def test_each_topic_decodes_to_its_row() -> None:
    rec = scored()
    item = decode(Msg("p.metrics.scored", CODEC.encode(rec)), CODEC, "p.")
    assert item.error is None and item.row == observation_row(rec) and item.event_id == "ev-1"
    ev = user_event("auth", "u1", "e-auth", T0)
    assert decode(Msg("p.users", CODEC.encode(ev)), CODEC, "p.").row == ev


def test_garbage_wrong_type_and_invalid_are_errors_tombstones_nothing() -> None:
    assert isinstance(decode(Msg("p.metrics.scored", b"junk"), CODEC, "p.").error, DecodeError)
    wrong = decode(Msg("p.metrics.scored", CODEC.encode(user_event("auth", "u", "e", T0))), CODEC, "p.")
    assert isinstance(wrong.error, TypeError)
    bad = decode(Msg("p.metrics.scored", CODEC.encode(scored(confidence=150.0))), CODEC, "p.")
    assert bad.error is not None and bad.event_id == "ev-1"
    tomb = decode(Msg("p.users", None), CODEC, "p.")
    assert tomb.row is None and tomb.error is None


def test_batch_building_and_offsets() -> None:
    items = [
        decode(Msg("p.metrics.scored", CODEC.encode(scored()), 5, 1, [("vs.replay.of", b"0:3")]), CODEC, "p."),
        decode(Msg("p.users", CODEC.encode(user_event("deauth", "u", "e2", T0)), 9, 0), CODEC, "p."),
    ]
    batch = build_batch(items)
    assert isinstance(batch.observations[0], ObservationRow) and len(batch.user_events) == 1
    assert batch.replayed_event_ids == {"ev-1"}
    offsets = next_offsets([Msg("t", None, 3, 0), Msg("t", None, 7, 0), Msg("t", None, 2, 1)])
    assert [(tp.topic, tp.partition, tp.offset) for tp in offsets] == [("t", 0, 8), ("t", 1, 3)]
