"""The pure "stuck stage" decision and the per-process offset watch."""

from __future__ import annotations

from vitalstream.health import stuck_stages
from vitalstream.platform.stuck import OffsetWatch, Seen, is_stuck, next_seen


def test_lag_and_an_unmoved_offset_for_long_enough_is_stuck() -> None:
    seen = Seen(offset=10, moved_at=100.0)
    assert is_stuck(seen, lag=5, now=160.0, stuck_after_s=60.0)
    assert not is_stuck(seen, lag=5, now=159.9, stuck_after_s=60.0)
    assert not is_stuck(seen, lag=0, now=1000.0, stuck_after_s=60.0)


def test_the_clock_restarts_when_the_offset_moves_or_there_is_nothing_to_read() -> None:
    seen = Seen(offset=10, moved_at=100.0)
    assert next_seen(seen, offset=10, lag=5, now=200.0) is seen
    assert next_seen(seen, offset=11, lag=5, now=200.0) == Seen(11, 200.0)
    assert next_seen(seen, offset=10, lag=0, now=200.0) == Seen(10, 200.0)
    assert next_seen(None, offset=3, lag=5, now=50.0) == Seen(3, 50.0)


def test_watch_reports_the_stuck_partition_with_its_offset() -> None:
    watch = OffsetWatch()
    assert stuck_stages(watch, {"normalize": {0: (10, 5), 1: (4, 2)}}, now=0.0, stuck_after_s=30.0) == {}
    later = stuck_stages(watch, {"normalize": {0: (10, 5), 1: (6, 2)}}, now=31.0, stuck_after_s=30.0)
    assert later == {"normalize": [{"partition": 0, "offset": 10, "lag": 5, "for_s": 31.0}]}
    assert stuck_stages(watch, {"normalize": {0: (12, 3), 1: (6, 0)}}, now=70.0, stuck_after_s=30.0) == {}
