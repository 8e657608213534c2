"""One worker hop, alone: produce a raw webhook → normalize's batch start → its output seen.

``python -m tests.bench.hop_probe [VITALSTREAM_…=value …]`` starts a private broker and one
worker (the settings given are added to its environment), sends one webhook every 50 ms and
prints, per webhook, the p50/p90/max of produce → the ``vs.t.normalized`` stamp (normalize's
batch start) and of that stamp → the first ``metrics.normalized`` record seen by a consumer.
It separates what the consumer side of a hop costs from what processing and producing cost,
without the rest of the pipeline on the same cores (design §11).
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka import OFFSET_END, Consumer, Producer, TopicPartition

from schemas import timing
from tests.fix_kafka import make_settings
from tests.integration.test_worker_pipeline import CODEC, WorkerProcess, example, raw_webhook
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics
from vitalstream.stack.kafka import start_cluster

WEBHOOKS = 150


def _send(s: Settings, producer: Producer, user: str) -> None:
    raw = raw_webhook(example("body__body.json"), user=user)
    producer.produce(s.topic("webhooks.raw"), CODEC.encode(raw), user.encode())
    producer.poll(0)


def _drain(consumer: Consumer, wait_s: float) -> None:
    while consumer.poll(wait_s) is not None:
        pass


def _quantiles(name: str, values: list[float]) -> str:
    v = sorted(values)
    return f"{name}: p50 {v[len(v) // 2]:.1f} ms, p90 {v[int(len(v) * 0.9)]:.1f} ms, max {v[-1]:.1f} ms"


def probe(s: Settings, producer: Producer, consumer: Consumer) -> tuple[list[float], list[float]]:
    to_batch, to_seen = [], []
    for i in range(WEBHOOKS):
        sent_ms = time.time() * 1000
        _send(s, producer, f"u{i}")
        msg = consumer.poll(10.0)
        if msg is None or msg.error():
            raise SystemExit("no normalized record within 10 s: see the worker's log")
        seen_ms = time.time() * 1000
        stamp = int(dict(msg.headers() or [])[timing.NORMALIZED])
        to_batch.append(stamp - sent_ms)
        to_seen.append(seen_ms - stamp)
        _drain(consumer, 0.05)  # the event's other observations
    return to_batch, to_seen


def main() -> None:
    extra = dict(arg.split("=", 1) for arg in sys.argv[1:])
    root = Path(tempfile.mkdtemp(prefix="vitalstream-hop-"))
    brokers = start_cluster(root / "kafka", nodes=1)
    try:
        s = make_settings(brokers[0].bootstrap)
        ensure_topics(s)
        worker = WorkerProcess(s, root / "worker", root / "worker.log", extra_env=extra).start()
        consumer = kafka.consumer(s, "hop-probe", None)
        topic = s.topic("metrics.normalized")
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, OFFSET_END) for p in partitions])
        producer = kafka.producer(s, "hop-probe")
        deadline = time.monotonic() + 120
        while consumer.poll(0.5) is None:  # the worker is up once its first output appears
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker produced nothing within 120 s: see {root / 'worker.log'}")
            _send(s, producer, f"warm-{uuid.uuid4().hex[:6]}")
        _drain(consumer, 1.0)
        to_batch, to_seen = probe(s, producer, consumer)
        print(_quantiles("produce → normalize batch start", to_batch))
        print(_quantiles("batch start → output seen", to_seen))
        consumer.close()
        worker.stop()
    finally:
        for broker in brokers:
            broker.stop()


if __name__ == "__main__":
    main()
