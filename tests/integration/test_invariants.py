"""design §10 on the real pipeline: a few thousand simulated webhooks with duplicates, late
arrivals, several providers per subject and a sprinkle of poison, then every invariant checked
against an independent model (``tests/model.py``). The same checks run in secure mode (issue 14):
every service on its own Kafka principal and the sink on its own database login, on fewer webhooks."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from schemas import deadletter as H
from schemas.codec import Codec
from schemas.records import RawWebhook, ScoredObservation
from tests.fix_pipeline import Pipeline
from tests.fix_sink import quality_drift
from tests.kafka_helpers import consume_all
from tests.model import candidate_of, expected_latest
from vitalstream.health import _kafka_probe
from vitalstream.platform import kafka
from vitalstream.simulate import deliveries, send_all

WEBHOOKS = 1500
SECURE_WEBHOOKS = 300
LEDGER_TABLES = ("latest_metrics", "observations", "ingested_events", "data_quality_daily")


def raw_event_ids(p: Pipeline) -> list[str]:
    codec = Codec()
    return [codec.decode_as(m.value(), RawWebhook).event_id for m in consume_all(p.settings, "webhooks.raw")]


def dlq_event_ids(p: Pipeline) -> set[str]:
    out = set()
    for m in consume_all(p.settings, "dlq"):
        hdrs = dict(m.headers() or [])
        if H.EVENT_ID in hdrs:
            out.add(hdrs[H.EVENT_ID].decode())
    return out


def ledger(p: Pipeline) -> dict[str, str]:
    with p.db() as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT event_id, outcome FROM ingested_events")}


def quiescent(p: Pipeline, expected_ids: set[str]) -> bool:
    outcomes = ledger(p)
    done = {e for e, o in outcomes.items() if o in ("processed", "ignored")} | dlq_event_ids(p)
    if not expected_ids <= done:
        return False
    lags = _kafka_probe(p.settings)["lags"]
    return all(v == 0 for v in lags.values())


def test_design_invariants_hold(pipeline: Pipeline) -> None:
    check_invariants(pipeline, WEBHOOKS, users=25)


@pytest.mark.secure
def test_design_invariants_hold_with_every_service_on_its_own_principal(secure_pipeline: Pipeline) -> None:
    check_invariants(secure_pipeline, SECURE_WEBHOOKS, users=10)
    for service, env in secure_pipeline.service_env.items():
        assert env["VITALSTREAM_KAFKA_USERNAME"] == service
        text = secure_pipeline.log(service).read_text(errors="replace")
        assert "AUTHORIZATION_FAILED" not in text and "Authorization failed" not in text, service
        assert env["VITALSTREAM_KAFKA_PASSWORD"] not in text, service


def check_invariants(p: Pipeline, webhooks: int, users: int) -> None:
    """design §10 after ``webhooks`` simulated deliveries (duplicates, late data, poison) for ``users`` people.

    Checks read and write with ``p.settings``: in secure mode the broker's super user and the schema's owner."""
    items = list(deliveries(webhooks, users=users, duplicates=0.05, late=0.05, poison=0.02, seed=11))
    stats = asyncio.run(send_all(f"{p.gateway_url}/webhooks/terra", p.terra_secret, items, rate=250))
    assert stats.errors == 0 and stats.sent == webhooks
    accepted_ids = set(stats.accepted_ids)
    assert stats.by_status.get(202, 0) + stats.by_status.get(200, 0) == webhooks, stats.by_status

    # §10.1: the ids answered 2xx are exactly the distinct ids in webhooks.raw.
    raw_ids = raw_event_ids(p)
    assert set(raw_ids) == accepted_ids

    p.wait_for(lambda: quiescent(p, accepted_ids), 240, "every event to reach the ledger or the DLQ")

    # §10.2: every event ends in exactly one of ingested_events (processed/ignored) or the DLQ.
    outcomes = ledger(p)
    finished = {e for e, o in outcomes.items() if o in ("processed", "ignored")}
    dead = dlq_event_ids(p)
    assert finished | dead == accepted_ids
    assert finished & dead == set()
    poison = sum(1 for d in items if d.data_type == "poison")
    assert poison > 0 and len(dead) == poison

    # §10.3: latest_metrics equals the rule applied to every processed observation.
    codec = Codec()
    candidates = []
    for m in consume_all(p.settings, "metrics.scored"):
        candidates.append(candidate_of(codec.decode_as(m.value(), ScoredObservation)))
    model = expected_latest(candidates)
    with p.db() as conn:
        rows = conn.execute(
            "SELECT subject, metric, value, provider, measured_at, confidence, event_id FROM latest_metrics"
        ).fetchall()
    table = {(r[0], r[1]): r for r in rows}
    assert set(table) == set(model)
    providers_per_subject_metric = {}
    for c in candidates:
        providers_per_subject_metric.setdefault((c.subject, c.metric), set()).add(c.provider)
    assert any(len(v) > 1 for v in providers_per_subject_metric.values()), "conflicts were not exercised"
    for key, want in model.items():
        subject, metric, value, provider, measured_at, confidence, event_id = table[key]
        assert (provider, measured_at, event_id) == (want.provider, want.measured_at, want.event_id), key
        assert abs(value - want.value) < 1e-9 and abs(confidence - want.confidence) < 1e-6, key

    # The daily data-quality aggregate is a recount of the stored observations (§10.3a).
    with p.db() as conn:
        quality = conn.execute("SELECT count(*), coalesce(sum(count), 0) FROM data_quality_daily").fetchone()
        assert quality_drift(conn) == []
    assert quality is not None and quality[0] > 0, "data_quality_daily stayed empty"
    assert quality[1] <= len(candidates)

    # §10.4: redelivering every event changes no table.
    with p.db() as conn:
        before_rows = {t: set(conn.execute(f"SELECT t::text FROM {t} t").fetchall()) for t in LEDGER_TABLES}
    again = [
        kafka.OutRecord(str(m.topic()), m.value(), m.key(), list(m.headers() or []))
        for m in consume_all(p.settings, "webhooks.raw")
    ]
    kafka.produce_all(kafka.producer(p.settings, "test"), again, timeout_s=30)
    p.wait_for(lambda: all(v == 0 for v in _kafka_probe(p.settings)["lags"].values()), 120, "the redelivery to drain")
    with p.db() as conn:
        after_rows = {t: set(conn.execute(f"SELECT t::text FROM {t} t").fetchall()) for t in LEDGER_TABLES}
    changed = {
        t: (sorted(before_rows[t] - after_rows[t])[:2], sorted(after_rows[t] - before_rows[t])[:2])
        for t in LEDGER_TABLES
        if before_rows[t] != after_rows[t]
    }
    assert changed == {}

    # §10.6: poison never crashed a service.
    for service in ("gateway", "worker", "sink"):
        assert p.alive(service), service

    # §10.7: no secret, signature or personal field in any log line.
    leaks: dict[str, Any] = {}
    for service in ("gateway", "worker", "sink"):
        text = p.log(service).read_text(errors="replace")
        for needle in (p.terra_secret, "jane.doe@example.com", "Springfield", "1990-04-17"):
            if needle in text:
                leaks[service] = needle
        if re.search(r"v1=[0-9a-f]{64}", text):
            leaks[service] = "terra signature"
    assert leaks == {}
