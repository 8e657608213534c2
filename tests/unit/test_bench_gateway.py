"""The gateway bench's verdict: docs/design.md §11 asks for 5,000/s *and* 60 % of the bare handler."""

from __future__ import annotations

from vitalstream.bench.gateway_bench import gateway_target_met, saturated
from vitalstream.bench.report import _gateway_row


def _point(offered: int, accepted: float) -> dict[str, float]:
    return {"offered_per_s": offered, "accepted_per_s": accepted}


def test_the_rate_alone_does_not_meet_the_target() -> None:
    assert not gateway_target_met(5_200, 10_000)
    assert gateway_target_met(6_100, 10_000)
    assert not gateway_target_met(4_900, 8_000)
    assert not gateway_target_met(5_200, 0)


def test_a_ceiling_that_followed_every_rate_is_a_lower_bound() -> None:
    assert not saturated([_point(8_000, 8_000), _point(10_000, 9_999.6)])
    assert saturated([_point(8_000, 8_000), _point(10_000, 7_000)])
    assert not saturated([])


def test_benchmarks_row_shows_the_share_and_marks_an_unsaturated_ceiling() -> None:
    ceiling = [_point(8_000, 8_000), _point(10_000, 9_999.6)]
    row = _gateway_row({"accepted_per_s": 5_197.0, "ceiling_per_s": 9_999.6, "ceiling_points": ceiling})
    assert "5,197/s (52% of the ceiling)" in row
    assert "≥ 10,000/s (bare aiohttp handler)" in row
    assert row.endswith("| **missed** |")
    ceiling = [_point(8_000, 8_000), _point(10_000, 7_000)]
    row = _gateway_row({"accepted_per_s": 6_500.0, "ceiling_per_s": 8_000.0, "ceiling_points": ceiling})
    assert "| 8,000/s (bare" in row and row.endswith("| met |")
