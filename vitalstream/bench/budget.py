"""The latency budget in a bench: per-hop p50/p99 from the services' histograms (``schemas.timing``).

A bench scrapes the gateway's and the sink's ``/metrics`` before and after its measured load;
the difference of the cumulative bucket counts is the load's own distribution (warm-up
excluded), and a quantile is interpolated inside its bucket as PromQL's ``histogram_quantile``
does — so a figure is only as fine as the buckets (5 ms steps at the low end).
"""

from __future__ import annotations

import math
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from schemas import timing

Buckets = dict[float, float]
"""Upper bound (``inf`` included) → cumulative count."""
STAGES = ("accept", *timing.HOPS, "end_to_end")


def parse(text: str, lane: str = "live") -> dict[str, Buckets]:
    """Stage → cumulative buckets of the budget's histograms of ``lane`` in a Prometheus text exposition
    (the gateway's ``accept`` has no lane: it is counted for either)."""
    out: dict[str, Buckets] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in (timing.STAGE_METRIC, timing.END_TO_END_METRIC):
            continue
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels.get("lane", lane) == lane:
                stage = sample.labels.get("stage", "end_to_end")
                out.setdefault(stage, {})[float(sample.labels["le"])] = sample.value
    return out


def metrics_urls(gateway_port: int, sink_metrics_port: int) -> list[str]:
    """Where the budget's histograms are exposed: the gateway's and the sink's ``/metrics``."""
    return [f"http://127.0.0.1:{gateway_port}/metrics", f"http://127.0.0.1:{sink_metrics_port}/"]


def pages(urls: list[str], timeout_s: float = 5.0) -> dict[str, str]:
    """URL → the metrics page of every service at ``urls`` that answers (one read per snapshot)."""
    out: dict[str, str] = {}
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:
                out[url] = resp.read().decode()
        except OSError:
            continue
    return out


def merged(texts: dict[str, str], lane: str = "live") -> dict[str, Buckets]:
    """The budget's histograms of ``lane`` across the pages ``texts``."""
    out: dict[str, Buckets] = {}
    for text in texts.values():
        out.update(parse(text, lane))
    return out


def scrape(urls: list[str], timeout_s: float = 5.0, lane: str = "live") -> dict[str, Buckets]:
    """The budget's histograms of ``lane`` of every service at ``urls`` (one that does not answer is left out)."""
    return merged(pages(urls, timeout_s), lane)


def quantile(buckets: Buckets, q: float) -> float | None:
    """Seconds at quantile ``q`` (linear inside the bucket); None without observations."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]] if bounds else 0.0
    if total <= 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # past the last finite bucket: its bound is all that is known
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def report(before: dict[str, Buckets], after: dict[str, Buckets]) -> dict[str, Any]:
    """Per stage: observations, p50 and p99 in ms, of what was observed between the two scrapes."""
    return {stage: summary(before.get(stage, {}), after.get(stage, {})) for stage in STAGES}


def summary(then: Buckets, now: Buckets) -> dict[str, Any]:
    """Observations, p50 and p99 in ms of one histogram between two scrapes of it."""
    delta = {bound: count - then.get(bound, 0.0) for bound, count in now.items()}
    p50, p99 = quantile(delta, 0.5), quantile(delta, 0.99)
    return {
        "count": int(delta.get(math.inf, 0.0)),
        "p50_ms": None if p50 is None else round(p50 * 1000, 1),
        "p99_ms": None if p99 is None else round(p99 * 1000, 1),
    }


def histogram(text: str, name: str) -> Buckets:
    """The cumulative buckets of the unlabelled histogram ``name`` in a metrics page (empty if absent)."""
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return {float(s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")}
    return {}
