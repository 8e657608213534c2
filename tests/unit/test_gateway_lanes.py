"""The lane of a verified delivery (gateway.lanes): live unless it is historical or shed."""

from __future__ import annotations

import pytest

from gateway.lanes import BACKFILL, LIVE, Lane, announced_reference, is_chunk, lane_for


@pytest.mark.parametrize(
    ("trace_id", "chunk"),
    [
        ("abc:chunk:0", True),
        ("5f1c-2a:chunk:17", True),
        ("abc", False),
        (None, False),
        ("abc:chunk:", False),
        ("abc:chunk:1:retry", False),
        ("chunk", False),
    ],
)
def test_chunk_trace_ids(trace_id: str | None, chunk: bool) -> None:
    assert is_chunk(trace_id) is chunk


@pytest.mark.parametrize(
    ("source", "trace_id", "headers", "over_limit", "expected"),
    [
        ("terra", "t-1", {}, False, Lane(LIVE, "live")),
        ("terra", "t-1:chunk:3", {}, False, Lane(BACKFILL, "chunk")),
        ("terra", "t-1", {"terra-reference": "big"}, False, Lane(BACKFILL, "large_request")),
        ("terra", "t-1", {"terra-reference": "other"}, False, Lane(LIVE, "live")),  # not announced: live
        ("terra", "t-1", {"terra-reference": ""}, False, Lane(LIVE, "live")),
        ("acme", None, {"terra-reference": "big"}, False, Lane(LIVE, "live")),  # a Terra header means Terra's
        ("history", None, {}, False, Lane(BACKFILL, "source")),
        ("terra", "t-1", {}, True, Lane(BACKFILL, "shed")),
        ("terra", "t-1:chunk:0", {}, True, Lane(BACKFILL, "chunk")),
    ],
)
def test_lane_for(source: str, trace_id: str | None, headers: dict[str, str], over_limit: bool, expected: Lane) -> None:
    lane = lane_for(
        source, trace_id, headers, frozenset({"history"}), over_limit=over_limit, large_request=lambda r: r == "big"
    )
    assert lane == expected


def test_announced_reference() -> None:
    sending = {"type": "large_request_sending", "reference": "r-1", "expected_payloads": 3}
    assert announced_reference(sending, {}) == "r-1"
    assert announced_reference({"type": "large_request_processing"}, {"terra-reference": "r-2"}) == "r-2"
    assert announced_reference({"type": "body", "reference": "r-3"}, {"terra-reference": "r-3"}) is None
    assert announced_reference([], {}) is None
    assert announced_reference({"type": "large_request_sending", "reference": 7}, {}) is None
