"""The latency budget's header helpers (``schemas.timing``): stamping, forwarding, reading hops."""

from __future__ import annotations

import itertools

import pytest

from schemas import timing


def test_stamp_is_epoch_ms_ascii() -> None:
    assert timing.stamp(timing.SCORED, 1_700_000_000_123) == ("vs.t.scored", b"1700000000123")
    name, value = timing.stamp(timing.ACCEPTED)
    assert name == timing.ACCEPTED
    assert abs(int(value) - timing.now_ms()) < 5_000


def test_forward_keeps_only_timing_headers() -> None:
    headers = [("vs.event_id", b"e1"), ("vs.t.accepted", b"100"), ("vs.replay.of", b"x"), ("vs.t.normalized", "150")]
    assert timing.forward(headers) == [("vs.t.accepted", b"100"), ("vs.t.normalized", b"150")]
    assert timing.forward(None) == []


def test_hops_sum_to_end_to_end() -> None:
    headers = [("vs.t.accepted", b"1000"), ("vs.t.normalized", b"1040"), ("vs.t.scored", b"1100")]
    got = timing.hops(headers, committed_ms=1250)
    assert got == pytest.approx({"normalize": 0.04, "score": 0.06, "sink": 0.15, "end_to_end": 0.25})
    assert sum(got[h] for h in timing.HOPS) == pytest.approx(got["end_to_end"])


def test_a_restamped_record_uses_its_latest_stamp() -> None:
    # a retried record carries its first normalize stamp forward, then gets a new one appended
    headers = [("vs.t.accepted", b"1000"), ("vs.t.normalized", b"1010"), ("vs.t.normalized", b"1500")]
    assert timing.hops(headers, committed_ms=1600)["normalize"] == pytest.approx(0.5)


@pytest.mark.parametrize("bad", [b"", b"12a", b"-5", b"1e3", "١٢٣".encode(), b"9" * 16])
def test_malformed_stamps_are_skipped(bad: bytes) -> None:
    headers = [("vs.t.accepted", bad), ("vs.t.normalized", b"1040"), ("vs.t.scored", b"1100")]
    assert timing.hops(headers, committed_ms=1250) == pytest.approx({"score": 0.06, "sink": 0.15})


def test_missing_stamps_skip_their_hops_and_skew_clamps_to_zero() -> None:
    assert timing.hops([], committed_ms=1) == {}
    assert timing.hops([("vs.t.scored", b"2000")], committed_ms=1500) == {"sink": 0.0}


def test_buckets_resolve_5ms_to_10s() -> None:
    buckets = timing.LATENCY_BUCKETS
    assert list(buckets) == sorted(buckets)
    assert 0.005 in buckets and buckets[-1] == 10.0
    assert all(b / a <= 2.0 for a, b in itertools.pairwise(buckets[2:]))


def test_the_backfill_mark_names_the_lane() -> None:
    assert timing.LANES[timing.lane_index([("vs.t.accepted", b"1"), timing.BACKFILL])] == "backfill"
    assert timing.LANES[timing.lane_index([("vs.t.lane", "backfill")])] == "backfill"
    assert timing.LANES[timing.lane_index([("vs.t.lane", b"other"), ("vs.t.accepted", b"1")])] == "live"
    assert timing.LANES[timing.lane_index(None)] == "live"
    assert timing.BACKFILL in timing.forward([timing.BACKFILL, ("vs.event_id", b"e")]), "score copies the mark on"


def test_live_accepted_is_the_accept_stamp_of_live_records_only() -> None:
    assert timing.live_accepted([("vs.t.accepted", b"1700"), ("vs.t.normalized", b"1800")]) == 1700
    assert timing.live_accepted([("vs.t.accepted", b"1700"), timing.BACKFILL]) is None
    assert timing.live_accepted([timing.BACKFILL, ("vs.t.accepted", "1700")]) is None
    assert timing.live_accepted([("vs.t.accepted", b"junk")]) is None
    assert timing.live_accepted(None) is None
