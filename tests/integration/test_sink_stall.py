"""A sink whose consumer receives nothing although its partitions have records replaces it (vitalstream.platform.stall).

The consumer is made deaf by pausing its partitions behind the sink's back: from outside it looks
exactly like the consumer librdkafka left without a group after a broker restart (it polls,
returns nothing, and its group's committed offsets stand still while the lag grows).
"""

from __future__ import annotations

import time

from sinks import sample
from tests.fix_sink import MakeSink, connect
from vitalstream.platform.settings import Settings
from vitalstream.platform.stall import REJOINS


def stored(settings: Settings) -> int:
    with connect(settings) as conn:
        row = conn.execute("SELECT count(*) FROM observations").fetchone()
    assert row is not None
    return int(row[0])


def test_a_deaf_consumer_is_replaced_and_every_record_is_written_once(
    db_settings: Settings, make_sink: MakeSink
) -> None:
    sink = make_sink(consumer_stall_after_s=1.5)
    sample.produce(db_settings, "metrics.scored", [sample.scored("terra:u1", "step_count", 1.0, event_id="s0")])
    sink.drain(idle_s=1.0)
    assert stored(db_settings) == 1
    deaf = sink.consumer
    deaf.pause(deaf.assignment())
    rejoins = REJOINS.labels("sink")._value.get()
    sample.produce(
        db_settings,
        "metrics.scored",
        [sample.scored(f"terra:w{i}", "step_count", float(i), event_id=f"s{i}") for i in range(1, 6)],
    )
    deadline = time.monotonic() + 30
    while stored(db_settings) < 6 and time.monotonic() < deadline:
        sink.step(timeout_s=0.2)
    assert stored(db_settings) == 6
    assert sink.consumer is not deaf
    assert REJOINS.labels("sink")._value.get() == rejoins + 1
    sink.drain(idle_s=1.0)
    assert stored(db_settings) == 6


def test_an_idle_consumer_with_nothing_to_read_keeps_its_group(db_settings: Settings, make_sink: MakeSink) -> None:
    sink = make_sink(consumer_stall_after_s=1.5)
    sample.produce(db_settings, "metrics.scored", [sample.scored("terra:u1", "step_count", 1.0, event_id="s0")])
    sink.drain(idle_s=1.0)
    consumer = sink.consumer
    deadline = time.monotonic() + 6  # four stall windows with nothing to read
    while time.monotonic() < deadline:
        sink.step(timeout_s=0.2)
    assert sink.consumer is consumer
