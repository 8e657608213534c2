"""The stall watch: when a group consumer that receives nothing has lost its group (platform.stall)."""

from __future__ import annotations

from vitalstream.platform.stuck import StallWatch

SCORED = "p.metrics.scored"


def looks(watch: StallWatch, start: float, positions: list[dict[tuple[str, int], tuple[int, int]]]) -> list[bool]:
    """One look per ``check_every_s`` from ``start`` with each of ``positions``; whether each found a stall."""
    found = []
    for i, seen in enumerate(positions):
        now = start + i * watch.check_every_s
        assert watch.due(now)
        found.append(bool(watch.observe(seen, now)))
    return found


def test_lag_whose_offsets_do_not_move_for_stall_after_s_is_a_stall() -> None:
    watch = StallWatch(stall_after_s=30.0, now=0.0)
    stuck = {(SCORED, 0): (100, 5), (SCORED, 1): (40, 0)}
    assert looks(watch, 10.0, [stuck] * 5) == [False, False, False, True, True]
    (stall,) = watch.observe(stuck, 60.0)
    assert (stall.stage, stall.partition, stall.offset, stall.lag, stall.for_s) == (SCORED, 0, 100, 5, 50.0)


def test_an_idle_consumer_with_nothing_to_read_is_not_stalled() -> None:
    watch = StallWatch(stall_after_s=30.0, now=0.0)
    assert looks(watch, 10.0, [{(SCORED, 0): (100, 0)}] * 10) == [False] * 10


def test_offsets_another_member_moves_are_not_a_stall() -> None:
    watch = StallWatch(stall_after_s=30.0, now=0.0)
    moving = [{(SCORED, 0): (100 + 7 * i, 5)} for i in range(10)]
    assert looks(watch, 10.0, moving) == [False] * 10


def test_records_arriving_start_the_watch_again() -> None:
    watch = StallWatch(stall_after_s=30.0, now=0.0)
    stuck = {(SCORED, 0): (100, 5)}
    assert looks(watch, 10.0, [stuck] * 3) == [False, False, False]
    watch.received(35.0)
    assert not watch.due(40.0)
    assert looks(watch, 45.0, [stuck] * 4) == [False, False, False, True]


def test_looks_are_spaced_by_check_every_s_from_the_last_record_and_the_last_look() -> None:
    watch = StallWatch(stall_after_s=30.0, now=0.0)
    assert watch.check_every_s == 10.0
    assert not watch.due(9.9)
    assert watch.due(10.0)
    watch.unanswered(10.0)  # the brokers did not answer: nothing decided, try again later
    assert not watch.due(19.9)
    assert watch.due(20.0)
