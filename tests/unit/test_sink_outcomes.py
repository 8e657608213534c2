"""The ledger's rows and in-batch rule, and the fast ``metrics.scored`` reader (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from schemas.codec import Codec, DecodeError
from sinks.fastdecode import ScoredReader
from sinks.inbound import decode
from sinks.outcomes import OutcomeRow, latest_outcomes, outcome_row
from sinks.plan import plan_observations
from sinks.rows import InvalidRecord, observation_row
from sinks.sample import outcome, scored
from sinks.sql import ROW_TYPES
from sinks.store import staged_rows
from tests.unit.test_sink_inbound import Msg

CODEC = Codec()
T0 = datetime(2026, 3, 1, tzinfo=UTC)


def row(event_id: str, result: str, at: datetime, offset: int, **kw: object) -> OutcomeRow:
    return outcome_row(outcome(event_id, result, at, **kw), offset)  # type: ignore[arg-type]


def test_outcome_rows_validate() -> None:
    r = row("e", "processed", T0, 4, source="terra", observations=2)
    assert (r.event_id, r.outcome, r.stage, r.outcome_at, r.ledger_offset, r.observations) == (
        "e",
        "processed",
        "normalize",
        T0,
        4,
        2,
    )
    with pytest.raises(InvalidRecord):
        row("e", "lost", T0, 0)
    with pytest.raises(InvalidRecord):
        row(" ", "processed", T0, 0)
    with pytest.raises(InvalidRecord):
        row("e", "processed", T0.replace(tzinfo=None), 0)
    with pytest.raises(psycopg.DataError):
        row("e", "ignored", T0, 0, reason="nul\x00")


def test_latest_by_at_then_offset_and_duplicates_do_not_displace() -> None:
    t1 = T0 + timedelta(seconds=1)
    dead, again = row("a", "dead_lettered", T0, 1), row("a", "processed", t1, 2)
    assert latest_outcomes([again, dead]) == [again] == latest_outcomes([dead, again])
    first, later_same_at = row("b", "processed", T0, 1), row("b", "ignored", T0, 9)
    assert latest_outcomes([later_same_at, first]) == [later_same_at]
    original, resent = row("c", "processed", T0, 3), row("c", "processed", T0, 30)
    assert latest_outcomes([original, resent]) == [original]


def test_ledger_topic_decodes_with_its_offset() -> None:
    item = decode(Msg("p.events.ledger", CODEC.encode(outcome("e1", "ignored", T0)), 17), CODEC, "p.")
    assert item.error is None and item.event_id == "e1"
    assert isinstance(item.row, OutcomeRow) and item.row.ledger_offset == 17
    bad = decode(Msg("p.events.ledger", CODEC.encode(outcome("e2", "weird", T0)), 18), CODEC, "p.")
    assert isinstance(bad.error, InvalidRecord) and bad.event_id == "e2"


def test_fast_reader_gives_the_slow_paths_rows() -> None:
    reader = ScoredReader()
    crp = scored("subject-7", "lab.crp[mg/L]", 0.5, unit="mg/L", provider="LAB_REPORT")
    lab_obs = replace(
        crp.observation,
        value_operator="<",
        reference_low=0.0,
        reference_high=5.0,
        interpretation="normal",
        code="1988-5",
    )
    lab_result = replace(crp, observation=lab_obs)
    records = [
        scored(),
        scored(
            "alice",
            user_id="u7",
            device="watch",
            confidence=12.5,
            unit="kg",
            metric="body_weight",
            measured_at=T0 + timedelta(milliseconds=1234),
            measured_until=T0 + timedelta(hours=1),
        ),
        scored("terra:zed", measured_at=datetime(1969, 7, 20, 20, 17, 40, 123000, tzinfo=UTC)),
        lab_result,
    ]
    for rec in records:
        data = CODEC.encode(rec)
        assert reader.accepts(data), "the ScoredObservation schema changed: update sinks.fastdecode"
        fast, slow = reader.read(data), observation_row(rec)
        assert fast == slow and [type(v) for v in fast] == [type(v) for v in slow]
        item = decode(Msg("p.metrics.scored", data), CODEC, "p.", reader)
        assert item.row == slow and item.event_id == rec.observation.event_id
    assert not reader.accepts(CODEC.encode(outcome("e", "processed", T0)))
    with pytest.raises(DecodeError):
        reader.read(CODEC.encode(scored())[:20])


def test_fast_path_failures_keep_the_slow_paths_errors_and_event_id() -> None:
    reader = ScoredReader()
    for rec, error in (
        (scored(confidence=150.0, event_id="conf"), InvalidRecord),
        (scored(device="bad\x00", event_id="nul"), psycopg.DataError),
    ):
        item = decode(Msg("p.metrics.scored", CODEC.encode(rec)), CODEC, "p.", reader)
        assert isinstance(item.error, error) and item.event_id == rec.observation.event_id
    with pytest.raises(psycopg.DataError, match="NUL"):
        observation_row(scored(device="bad\x00"))


def test_staged_rows_flag_observations_and_latest_candidates() -> None:
    old = observation_row(scored(event_id="a", confidence=90.0, ordering_ts=T0))
    newer_version = observation_row(scored(event_id="b", confidence=50.0, ordering_ts=T0 + timedelta(hours=1)))
    plan = plan_observations([old, newer_version], {}, True)
    assert plan.observations == [newer_version] and plan.latest == [old]
    staged = staged_rows(plan)
    assert [(r[10], r[-2], r[-1]) for r in staged] == [("b", True, False), ("a", False, True)]
    assert all(len(r) == len(ROW_TYPES) for r in staged)
