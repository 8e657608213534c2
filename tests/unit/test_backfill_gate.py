"""The backfill lane's priority rule (streams.backfill): pause above the live-lag threshold or a full backlog."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.backfill import BASE_WINDOW_S, DELAY_WINDOW_S, BackfillGate, LiveDelay, decide, lag_of
from streams.metrics import WorkerMetrics

RAW, NORM, BACK = TP("raw", 0), TP("norm", 0), TP("back", 0)


def test_lag_of_skips_partitions_it_cannot_measure() -> None:
    ends = {RAW: 10, NORM: None, BACK: 7}
    assert lag_of(ends, {RAW: 4, NORM: 3, BACK: None}) == 6
    assert lag_of({RAW: 3}, {RAW: 5}) == 0  # a stale end never makes a negative lag


def test_decide() -> None:
    assert decide(10, 5, 0, threshold=10, max_backlog=16).pause is False  # at the threshold: run
    behind = decide(11, 5, 0, threshold=10, max_backlog=16)
    assert behind.pause and behind.wait
    full = decide(0, 500, 16, threshold=10, max_backlog=16)
    assert full.pause and not full.wait  # backlog full: fetch nothing more, but process what is held
    starved = decide(11, 5, 16, threshold=10, max_backlog=16, paused_for_s=5.0)
    assert not starved.pause and not starved.wait  # paused too long: a turn for the lane


@dataclass
class FakeConsumer:
    """Faust's consumer as the gate sees it: assignment, highwaters, pause/resume bookkeeping."""

    ends: dict[TP, int]
    _committed_offset: dict[TP, int] = field(default_factory=dict)
    _read_offset: dict[TP, int] = field(default_factory=dict)
    paused: set[TP] = field(default_factory=set)

    def assignment(self) -> set[TP]:
        return set(self.ends)

    def highwater(self, tp: TP) -> int:
        return self.ends[tp]

    def pause_partitions(self, tps: Any) -> None:
        self.paused |= set(tps)

    def resume_partitions(self, tps: Any) -> None:
        self.paused -= set(tps)


def event(tp: TP, offset: int) -> Any:
    return SimpleNamespace(message=SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=offset))


def gauge(metrics: WorkerMetrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(f"vitalstream_worker_{name}")


def test_the_gate_pauses_while_live_work_is_queued_and_resumes_after() -> None:
    consumer = FakeConsumer({RAW: 100, NORM: 0, BACK: 50}, _committed_offset={RAW: 0, NORM: 0, BACK: 0})
    app = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False, in_recovery=False)
    metrics = WorkerMetrics(CollectorRegistry())
    gate = BackfillGate(app, ("raw", "norm"), "back", threshold=10, metrics=metrics)

    assert gate.tick().pause
    assert consumer.paused == {BACK}
    assert (gauge(metrics, "backfill_paused"), gauge(metrics, "live_lag"), gauge(metrics, "backfill_lag")) == (
        1.0,
        100.0,
        50.0,
    )
    waiting = asyncio.run(_waits(gate))
    assert waiting, "the backfill agent must wait while the live lag is above the threshold"

    gate.processed([event(RAW, 95)])  # normalize caught up to 4 behind
    assert not gate.tick().pause
    assert consumer.paused == set()
    assert gauge(metrics, "backfill_paused") == 0.0
    assert not asyncio.run(_waits(gate))


def test_a_full_backlog_pauses_fetching_and_recovery_is_never_resumed_by_the_gate() -> None:
    consumer = FakeConsumer({RAW: 0, BACK: 100}, _committed_offset={RAW: 0, BACK: 0}, _read_offset={BACK: 20})
    app = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False, in_recovery=False)
    gate = BackfillGate(app, ("raw",), "back", threshold=10, metrics=WorkerMetrics(CollectorRegistry()))
    assert gate.tick().backlog == 21
    assert consumer.paused == {BACK}
    gate.processed([event(BACK, 19)])
    app.in_recovery = True  # Faust owns the partitions' flow while it recovers tables
    gate.tick()
    assert consumer.paused == {BACK}
    app.in_recovery = False
    gate.tick()
    assert consumer.paused == set()


async def _waits(gate: BackfillGate) -> bool:
    try:
        await asyncio.wait_for(gate.wait_turn(), 0.3)
    except TimeoutError:
        return True
    return False


def test_make_way_waits_until_the_live_stage_has_taken_the_slice_before() -> None:
    consumer = FakeConsumer({RAW: 0, NORM: 40, BACK: 1, TP("ledger", 0): 9})
    app = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False, in_recovery=False)
    gate = BackfillGate(app, ("raw", "norm"), "back", threshold=10, metrics=WorkerMetrics(CollectorRegistry()))
    # the slice before reached offset 39 of norm; ledger is not a live topic, norm/1 is another worker's
    sent = {("norm", 0): 39, ("ledger", 0): 5, ("norm", 1): 7}

    async def scenario() -> list[str]:
        order: list[str] = []

        async def score() -> None:
            await asyncio.sleep(0.05)
            gate.processed([event(NORM, 20)])
            order.append("score took 20")
            await asyncio.sleep(0.05)
            gate.processed([event(NORM, 39)])
            order.append("score took 39")

        scorer = asyncio.create_task(score())
        await asyncio.wait_for(gate.make_way(sent), 2.0)
        order.append("next slice")
        await scorer
        return order

    assert asyncio.run(scenario()) == ["score took 20", "score took 39", "next slice"]


def test_make_way_gives_up_on_a_rebalance() -> None:
    consumer = FakeConsumer({NORM: 40})
    app = SimpleNamespace(consumer=consumer, rebalancing=True, should_stop=False, in_recovery=False)
    gate = BackfillGate(app, ("norm",), "back", threshold=10, metrics=WorkerMetrics(CollectorRegistry()))
    asyncio.run(asyncio.wait_for(gate.make_way({("norm", 0): 39}), 0.5))


def test_live_delay_is_measured_against_its_best_of_the_base_window() -> None:
    delay = LiveDelay(target_ms=50)
    assert delay.added_ms(0.0) is None and not delay.congested(0.0)  # no live traffic: nothing to delay
    for n in range(10):
        delay.note(n * 0.1, 100.0)  # steady at 100 ms
    assert delay.added_ms(1.0) == 0.0
    for n in range(10):
        delay.note(1.0 + n * 0.1, 180.0)  # now 80 ms worse than the best
    assert delay.added_ms(2.0) == 80.0 and delay.congested(2.0)
    assert not LiveDelay(target_ms=0).congested(2.0), "0 turns the pacing off"
    assert delay.added_ms(2.0 + DELAY_WINDOW_S + 0.1) is None  # live traffic stopped: no signal, no hold
    delay.note(2.0 + BASE_WINDOW_S + 1, 180.0)  # the old best has left the base window
    assert delay.added_ms(2.0 + BASE_WINDOW_S + 1) == 0.0


def test_live_delay_now_is_a_median_so_one_slow_batch_does_not_hold_the_backfill() -> None:
    delay = LiveDelay(target_ms=50)
    for n in range(9):
        delay.note(n * 0.04, 100.0)
    delay.note(0.37, 900.0)
    assert delay.added_ms(0.4) == 0.0 and not delay.congested(0.4)


def test_make_way_holds_the_next_slice_while_live_records_are_delayed() -> None:
    consumer = FakeConsumer({NORM: 40})
    app = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False, in_recovery=False)
    metrics = WorkerMetrics(CollectorRegistry())
    gate = BackfillGate(app, ("norm",), "back", 10, metrics, target_delay_ms=50)
    for _ in range(5):
        gate.note_live_age(100.0)
    gate.delay._recent.clear()  # the best stays known; what follows is "now"

    async def scenario() -> list[str]:
        order: list[str] = []

        async def live() -> None:
            for age in (400.0, 400.0, 400.0):
                gate.note_live_age(age)
                await asyncio.sleep(0.05)
            order.append("live recovered")
            gate.delay._recent.clear()
            gate.note_live_age(110.0)

        task = asyncio.create_task(live())
        await asyncio.sleep(0.01)
        await asyncio.wait_for(gate.make_way({}), 2.0)
        order.append("next slice")
        await task
        return order

    assert asyncio.run(scenario()) == ["live recovered", "next slice"]
    gate.tick()
    assert gauge(metrics, "live_added_delay_seconds") == 0.01  # 110 ms now against the best, 100 ms


def test_the_agent_waits_for_its_next_batch_while_live_records_are_delayed() -> None:
    consumer = FakeConsumer({RAW: 0, BACK: 5}, _committed_offset={RAW: 0, BACK: 0})
    app = SimpleNamespace(consumer=consumer, rebalancing=False, should_stop=False, in_recovery=False)
    gate = BackfillGate(app, ("raw",), "back", 10, WorkerMetrics(CollectorRegistry()), target_delay_ms=50)
    gate.note_live_age(100.0)
    gate.delay._recent.clear()
    gate.note_live_age(300.0)
    gate.tick()
    assert asyncio.run(_waits(gate)), "no lag, but live records 200 ms slower than their best"
    gate.delay._recent.clear()
    gate.tick()
    assert not asyncio.run(_waits(gate))
