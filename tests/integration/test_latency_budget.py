"""The latency budget on the real pipeline: each scored record carries its stage stamps, and
the sink's /metrics shows per-hop latencies that add up to no more than the end-to-end time."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import cast

from confluent_kafka import Message
from prometheus_client.parser import text_string_to_metric_families

from schemas import timing
from tests.fix_pipeline import Pipeline
from tests.kafka_helpers import consume_all
from vitalstream.simulate import deliveries, send_all

WEBHOOKS = 20
Headers = list[tuple[str, bytes]]


def scrape(port: str) -> dict[tuple[str, str], float]:
    """``(sample name, stage label)`` → value of the budget's histogram samples of the live lane."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(text):
        if family.name in (timing.STAGE_METRIC, timing.END_TO_END_METRIC):
            for sample in family.samples:
                if sample.labels.get("lane", "live") == "live":
                    out[(sample.name, sample.labels.get("stage", ""))] = sample.value
    return out


def ledgered(p: Pipeline) -> int:
    with p.db() as conn:
        row = conn.execute("SELECT count(*) FROM ingested_events").fetchone()
    return int(row[0]) if row else 0


def test_stage_latencies_reach_the_sinks_metrics_and_sum_to_end_to_end(pipeline: Pipeline) -> None:
    p = pipeline
    items = list(deliveries(WEBHOOKS, users=4, seed=3))
    stats = asyncio.run(send_all(f"{p.gateway_url}/webhooks/terra", p.terra_secret, items, rate=50))
    assert stats.errors == 0 and stats.by_status.get(202, 0) == WEBHOOKS, stats.by_status

    sink_port = p.env["VITALSTREAM_SINK_METRICS_PORT"]
    e2e = timing.END_TO_END_METRIC
    last: list[Message] = []
    got: dict[tuple[str, str], float] = {}

    def all_observed() -> bool:
        """Every webhook ledgered and, for each scored record, every hop observed once by the sink."""
        if ledgered(p) < WEBHOOKS:
            return False
        last[:] = consume_all(p.settings, "metrics.scored")
        got.clear()
        got.update(scrape(sink_port))
        counts = {got.get((f"{timing.STAGE_METRIC}_count", hop), 0.0) for hop in timing.HOPS}
        return bool(last) and counts == {got.get((f"{e2e}_count", ""), 0.0)} == {float(len(last))}

    p.wait_for(all_observed, 90, "the sink to observe every scored record")
    for msg in last:
        assert set(timing.readings(cast(Headers, msg.headers()))) == set(timing.STAMPS), msg.headers()
    hops_sum = sum(got[(f"{timing.STAGE_METRIC}_sum", hop)] for hop in timing.HOPS)
    e2e_sum = got[(f"{e2e}_sum", "")]
    assert 0 < hops_sum <= e2e_sum + 1e-6
    assert e2e_sum / len(last) < 10, "a mean end-to-end time past the buckets' range"

    with urllib.request.urlopen(f"{p.gateway_url}/metrics", timeout=10) as resp:
        gateway_metrics = resp.read().decode()
    assert f'{timing.STAGE_METRIC}_count{{stage="accept"}} {float(WEBHOOKS)}' in gateway_metrics
