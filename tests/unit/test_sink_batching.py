"""The sink writes what is ready at once: no batch waits out its timer at low load.

The consumer here behaves as librdkafka's ``consume(n, timeout)`` does — it returns early only
once it has ``n`` records — and counts the time a call would wait instead of sleeping it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sinks.checkpoint import Checkpoint
from sinks.service import Sink
from vitalstream.platform.settings import Settings
from vitalstream.platform.stall import StallGuard


class Msg:
    def error(self) -> None:
        return None


class BatchConsumer:
    def __init__(self, ready: int, arriving_after_s: float | None = None) -> None:
        self.queue: deque[Msg] = deque(Msg() for _ in range(ready))
        self.arriving_after_s = arriving_after_s
        self.waited_s = 0.0

    def consume(self, num_messages: int, timeout: float) -> list[Msg]:
        got = [self.queue.popleft() for _ in range(min(num_messages, len(self.queue)))]
        if len(got) < num_messages and timeout > 0:
            if self.arriving_after_s is not None and self.arriving_after_s <= timeout:
                self.arriving_after_s, arrived = None, self.arriving_after_s
                got.append(Msg())
                self.waited_s += arrived
                if len(got) == num_messages:
                    return got
                self.waited_s += timeout - arrived
            else:
                self.waited_s += timeout
        return got


def sink_over(consumer: BatchConsumer, **settings: Any) -> tuple[Sink, list[int]]:
    sink = object.__new__(Sink)  # the loop alone: no Kafka client, pool or writer thread
    handled: list[int] = []
    sink.settings = Settings(sink_batch_max_wait_ms=200, **settings)
    sink.consumer = consumer  # type: ignore[assignment]
    sink._inflight = None
    sink.checkpoint = Checkpoint()  # nothing pending: falling idle commits nothing
    sink.stall = StallGuard(sink.settings, "sink", "group", [])  # never due within a test: no reader made
    sink.handle = lambda msgs: handled.append(len(msgs))  # type: ignore[method-assign]
    sink.finish = lambda: None  # type: ignore[method-assign]
    return sink, handled


def test_records_already_fetched_are_written_without_waiting() -> None:
    consumer = BatchConsumer(ready=3)
    sink, handled = sink_over(consumer)
    assert sink.step() == 3 and handled == [3]
    assert consumer.waited_s == 0.0


def test_a_record_arriving_while_idle_is_written_when_it_arrives() -> None:
    consumer = BatchConsumer(ready=0, arriving_after_s=0.03)
    sink, handled = sink_over(consumer)
    assert sink.step() == 1 and handled == [1]
    assert consumer.waited_s == 0.03  # not the 200 ms batch timer


def test_linger_waits_for_more_after_the_first_record_when_asked_to() -> None:
    consumer = BatchConsumer(ready=0, arriving_after_s=0.03)
    sink, handled = sink_over(consumer, sink_batch_linger_ms=50)
    assert sink.step() == 1 and consumer.waited_s == 0.03 + 0.05


def test_an_idle_sink_waits_its_max_wait_and_handles_nothing() -> None:
    consumer = BatchConsumer(ready=0)
    sink, handled = sink_over(consumer)
    assert sink.step() == 0 and handled == [] and consumer.waited_s == 0.2
