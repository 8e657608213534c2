"""The backfill lane on the real broker: chunks go to ``webhooks.backfill``, live events never wait behind them."""

from __future__ import annotations

import random
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas import timing
from tests.fix_pipeline import Pipeline, running_pipeline
from tests.integration.test_big_records import heart_rate_body, heart_rate_rows, post, terra_headers
from tests.kafka_helpers import consume_all
from vitalstream.bench.payloads import heart_rate_chunk
from vitalstream.platform.settings import Settings

CHUNKS = 24
CHUNK_BYTES = 160 * 1024
PAUSE_LAG = 300


@pytest.fixture
def lane_pipeline(db_settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    yield from running_pipeline(db_settings, tmp_path, VITALSTREAM_BACKFILL_PAUSE_LAG=str(PAUSE_LAG))


def worker_gauge(p: Pipeline, name: str) -> float | None:
    url = f"http://127.0.0.1:{p.env['VITALSTREAM_WORKER_WEB_PORT']}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            page = resp.read().decode()
    except OSError:
        return None
    found = re.search(rf"^{name} ([0-9.e+-]+)$", page, re.M)
    return float(found.group(1)) if found else None


def end_to_end_counts(p: Pipeline) -> dict[str, float]:
    """Lane → rows the sink counted in its end-to-end latency histogram."""
    url = f"http://127.0.0.1:{p.env['VITALSTREAM_SINK_METRICS_PORT']}/metrics"
    with urllib.request.urlopen(url, timeout=5) as resp:
        page = resp.read().decode()
    found = re.findall(rf'^{timing.END_TO_END_METRIC}_count{{lane="(\w+)"}} ([0-9.e+-]+)$', page, re.M)
    return {lane: float(n) for lane, n in found}


def test_live_events_never_wait_behind_a_backfill(lane_pipeline: Pipeline) -> None:
    p, rng = lane_pipeline, random.Random(4)
    url = p.gateway_url + "/webhooks/terra"
    p.wait_for(lambda: worker_gauge(p, "vitalstream_worker_backfill_paused") is not None, 60, "the worker's metrics")
    paused: list[float | None] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            paused.append(worker_gauge(p, "vitalstream_worker_backfill_paused"))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    history_user, reference = f"history-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    total = 0
    for n in range(CHUNKS):
        body, samples = heart_rate_chunk(
            history_user, CHUNK_BYTES, seed=n, start_s=n * 3_000
        )  # in the past, no overlap: ~2,640 s a chunk
        headers = terra_headers(p.terra_secret, body) | {"X-Terra-Trace-Id": f"{reference}:chunk:{n}"}
        status, answer = post(url, body, headers)
        assert status == 202, answer
        total += samples
    assert len(consume_all(p.settings, "webhooks.backfill", expected=CHUNKS)) == CHUNKS
    assert consume_all(p.settings, "webhooks.raw") == []

    backlog = lambda: (worker_gauge(p, "vitalstream_worker_backfill_lag") or 0) > 0  # noqa: E731
    p.wait_for(backlog, 60, "the worker measuring the backfill's lag")
    live_user = f"live-{uuid.uuid4().hex[:6]}"
    live, _ = heart_rate_body(live_user, 600, rng)
    sent = time.monotonic()
    status, answer = post(url, live, terra_headers(p.terra_secret, live))
    assert status == 202, answer
    p.wait_for(lambda: heart_rate_rows(p, live_user) > 0, 30, "the live event")
    visible_s = time.monotonic() - sent
    drained = heart_rate_rows(p, history_user)
    assert drained < total, "the backfill finished before the live event was checked: make it bigger"
    assert visible_s < 10.0, f"the live event took {visible_s:.1f} s behind a backfill"
    stop.set()
    sampler.join()
    assert 1.0 in paused, "the lane never paused while live work was queued"
    p.wait_for(lambda: heart_rate_rows(p, history_user) == total, 240, f"all {total} historical samples")
    p.wait_for(lambda: worker_gauge(p, "vitalstream_worker_backfill_paused") == 0.0, 30, "the lane resumed")
    # the history's rows are counted apart: live freshness is the live event's alone
    p.wait_for(lambda: end_to_end_counts(p).get("backfill", 0) >= total, 30, "the sink to count the backfill")
    assert 0 < end_to_end_counts(p)["live"] < total
