"""The chaos harness: a private stack (Kafka + PostgreSQL + the three services), a steady load
that records every answer, a lag probe, and the design §10 checks turned into figures.

Every fault test follows one shape: start the load, inject the fault while it runs, let the
load finish, wait (with a deadline) until the pipeline has settled, then compute the report
(sent, accepted, lost, duplicated rows, seconds to recover lag to 0) and assert the invariants.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from confluent_kafka import KafkaException, TopicPartition  # type: ignore[import-untyped]
from pydantic import SecretStr

from gateway.idempotency import event_id as gateway_event_id
from schemas import deadletter as H
from schemas.codec import Codec
from schemas.records import RawWebhook, ScoredObservation
from sinks.inbound import TOPICS as SINK_TOPICS
from streams.confidence import SubjectMetricState
from streams.restore import table_logs
from streams.topics import quality_deltas_topic
from tests.fix_kafka import make_settings
from tests.fix_pipeline import SERVICES, Pipeline, pipeline_env
from tests.fix_sink import quality_drift
from tests.kafka_helpers import consume_all
from tests.model import Candidate, candidate_of, expected_latest
from vitalstream.platform import kafka
from vitalstream.platform.control import app_id_for
from vitalstream.platform.topics import ensure_topics
from vitalstream.simulate import Delivery, deliveries
from vitalstream.stack import proc
from vitalstream.stack.kafka import KafkaBroker, start_cluster
from vitalstream.stack.postgres import PostgresServer

REPO = Path(__file__).resolve().parents[2]
REPORT_PATH = Path(__file__).with_name("last_report.json")
RATE = 100.0
"""Webhooks per second of the steady load."""
SETTLE_TIMEOUT_S = 180.0
RETRY_BACKOFF_S = (2.0, 4.0, 8.0, 16.0)
"""Waits before each re-send round of unanswered/503 deliveries (Terra retries with backoff for a day)."""
SERVICES_START_ORDER = ("worker", "sink", "gateway")


# ---------------------------------------------------------------------------------- the stack


@dataclass
class Rig:
    """A pipeline on its own Kafka (1 or 3 nodes) and its own PostgreSQL: a test may break both."""

    pipeline: Pipeline
    brokers: list[KafkaBroker]
    pg: PostgresServer
    crashes: list[str] = field(default_factory=list)
    """Unexpected service deaths (``service rc=… log tail``), restarted by :meth:`supervise`."""
    planned: set[str] = field(default_factory=set)
    """Services the test is killing/restarting on purpose right now (not supervised)."""

    @property
    def settings(self) -> Any:
        return self.pipeline.settings

    def supervise(self) -> None:
        """Record and restart any service that died without the test asking for it."""
        p = self.pipeline
        for service, pid in list(p.pids.items()):
            if service in self.planned:
                continue
            child = proc._CHILDREN.get(pid)
            rc = child.poll() if child is not None else None
            if child is not None and rc is None:
                continue
            if child is None and proc.alive(pid):
                continue
            tail = p.log(service).read_text(errors="replace")[-1500:]
            self.crashes.append(f"{service} pid {pid} exited rc={rc}; log tail:\n{tail}")
            print(f"\n!!! {service} died unexpectedly (rc={rc}); restarting it", flush=True)
            p.pids.pop(service, None)
            p.start(service)

    def sleep(self, seconds: float) -> None:
        """Sleep while supervising the services."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.supervise()
            time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def _bootstrap_ready(brokers: list[KafkaBroker], settings: Any) -> None:
    """Block until both consumer groups' coordinators answer (see :func:`lags`)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if lags(settings) is not None:
            return
        time.sleep(0.5)
    raise AssertionError(f"group coordinators of {[b.bootstrap for b in brokers]} never answered")


@contextmanager
def private_rig(workdir: Path, nodes: int = 1) -> Iterator[Rig]:
    brokers = start_cluster(workdir / "kafka", nodes=nodes)
    pg = PostgresServer(workdir / "pg", fast=True)
    p: Pipeline | None = None
    try:
        pg.init()
        pg.start()
        from sinks.migrate import upgrade

        upgrade(pg.url)
        overrides: dict[str, object] = {"database_url": SecretStr(pg.url)}
        if nodes > 1:
            overrides.update(replication_factor=3, min_insync_replicas=2)
        settings = make_settings(",".join(b.bootstrap for b in brokers), **overrides)
        report = ensure_topics(settings)
        assert not report.problems, report.problems
        env = pipeline_env(settings, workdir)
        env["VITALSTREAM_REPLICATION_FACTOR"] = str(settings.replication_factor)
        env["VITALSTREAM_MIN_INSYNC_REPLICAS"] = str(settings.min_insync_replicas)
        p = Pipeline(settings, workdir, env)
        p.start("worker")
        p.start("sink")
        # the gateway's health exporter lists consumer-group offsets; start it once the groups'
        # coordinator is loaded (a fresh cluster answers NOT_COORDINATOR at first)
        _bootstrap_ready(brokers, settings)
        p.wait_for(
            lambda: "[^Worker]: Ready" in p.log("worker").read_text(errors="replace"), 90, "the worker to be ready"
        )
        p.start("gateway")
        yield Rig(p, brokers, pg)
    finally:
        if p is not None:
            for service in list(p.pids):
                p.stop(service)
        for b in brokers:
            b.stop()
        pg.stop(mode="immediate")


# ---------------------------------------------------------------------------------- the load


@dataclass
class Load:
    """Open-loop steady load on the gateway in a background thread; every answer recorded.

    ``answers`` maps each event id (the gateway's deterministic id for the Terra trace id) to
    every outcome it got: an HTTP status, or ``"error:<class>"`` when no answer came (the
    client cannot know whether the gateway stored it).
    """

    url: str
    secret: str
    items: list[Delivery]
    rate: float = RATE
    answers: dict[str, list[int | str]] = field(default_factory=dict)
    answered_ids: dict[str, set[str]] = field(default_factory=dict)
    """event id → every id a 2xx body named for it (its own, or a byte-identical delivery's: a replay)."""
    started_at: float = 0.0
    ended_at: float = 0.0
    retried: int = 0
    _thread: threading.Thread | None = None
    _error: BaseException | None = None

    @classmethod
    def union(cls, loads: Sequence[Load]) -> Load:
        """Several finished loads on one stack as one, for one verdict over all they sent."""
        last = loads[-1]
        whole = cls(last.url, last.secret, [d for load in loads for d in load.items], last.rate)
        for load in loads:
            assert not whole.answers.keys() & load.answers.keys(), "two loads sent the same trace ids"
            whole.answers.update(load.answers)
            whole.answered_ids.update(load.answered_ids)
            whole.retried += load.retried
        whole.started_at, whole.ended_at = loads[0].started_at, last.ended_at
        return whole

    def start(self) -> Load:
        self.started_at = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="chaos-load", daemon=True)
        self._thread.start()
        return self

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def wait_until(self, seconds: float, rig: Rig) -> None:
        """Supervise until ``seconds`` after the load started."""
        rig.sleep(max(0.0, seconds - self.elapsed()))

    def join(self, rig: Rig) -> None:
        assert self._thread is not None
        deadline = time.monotonic() + len(self.items) / self.rate + 60 + sum(RETRY_BACKOFF_S) * 3
        while self._thread.is_alive() and time.monotonic() < deadline:
            rig.supervise()
            self._thread.join(0.25)
        assert not self._thread.is_alive(), "the load never finished"
        if self._error is not None:
            raise self._error
        self.ended_at = time.monotonic()

    def _run(self) -> None:
        try:
            asyncio.run(self._send_all())
        except BaseException as exc:  # reported by join()
            self._error = exc

    async def _send_all(self) -> None:
        import aiohttp

        sem = asyncio.Semaphore(1024)
        timeout = aiohttp.ClientTimeout(total=20)
        connector = aiohttp.TCPConnector(limit=1024)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as http:

            async def one(d: Delivery) -> None:
                eid = gateway_event_id("terra", d.trace_id)
                async with sem:
                    try:
                        async with http.post(self.url, data=d.body, headers=d.headers(self.secret)) as resp:
                            body = await resp.read()
                            outcome: int | str = resp.status
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        outcome = f"error:{type(exc).__name__}"
                        body = b""
                self.answers.setdefault(eid, []).append(outcome)
                if isinstance(outcome, int) and 200 <= outcome < 300:
                    self.answered_ids.setdefault(eid, set()).add(str(json.loads(body).get("event_id")))

            start = time.perf_counter()
            tasks = []
            for i, d in enumerate(self.items):
                delay = start + i / self.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(d)))
            await asyncio.gather(*tasks)
            # Like Terra: a delivery answered 503 (or not at all) is sent again, with backoff, until
            # it gets a 2xx. A 503'd record may still have been persisted when a broker died with it
            # in flight (librdkafka: "possibly persisted"); the retry then makes it a 2xx, and the
            # event-id dedup downstream keeps it processed once (design §10.1 with a retrying sender).
            for backoff in RETRY_BACKOFF_S:
                pending = [d for d in self.items if self._retryable(gateway_event_id("terra", d.trace_id))]
                if not pending:
                    break
                self.retried += len(pending)
                await asyncio.sleep(backoff)
                await asyncio.gather(*(one(d) for d in pending))

    def _retryable(self, eid: str) -> bool:
        outs = self.answers.get(eid, [])
        if any(isinstance(o, int) and 200 <= o < 300 for o in outs):
            return False
        last = outs[-1] if outs else None
        return isinstance(last, str) or (isinstance(last, int) and last >= 500)

    # --- what the answers say
    def _answered_2xx(self) -> set[str]:
        return {e for e, outs in self.answers.items() if any(isinstance(o, int) and 200 <= o < 300 for o in outs)}

    def accepted(self) -> set[str]:
        """The ids the gateway answered 2xx with (a replayed delivery is answered with its original's id)."""
        return {r for e in self._answered_2xx() for r in self.answered_ids.get(e, {e})}

    def replays_answered_as_their_original(self) -> set[str]:
        """Deliveries repeating an earlier one's exact bytes, answered 2xx with that one's id (design §3)."""
        body_of = {gateway_event_id("terra", d.trace_id): d.body for d in self.items}
        return {
            e
            for e, named in self.answered_ids.items()
            if all(r == e or (r in body_of and body_of[r] == body_of.get(e)) for r in named)
        }

    def unknown(self) -> set[str]:
        """Never answered 2xx, and at least once not answered at all."""
        acc = self._answered_2xx()
        return {e for e, outs in self.answers.items() if e not in acc and any(isinstance(o, str) for o in outs)}

    def refused(self) -> set[str]:
        """Answered, and never with a 2xx (503 while Kafka is away, 4xx…)."""
        return set(self.answers) - self._answered_2xx() - self.unknown()

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outs in self.answers.values():
            for o in outs:
                counts[str(o)] = counts.get(str(o), 0) + 1
        return counts


def start_load(rig: Rig, seconds: float, seed: int, rate: float = RATE) -> Load:
    items = list(deliveries(int(seconds * rate), users=30, duplicates=0.03, late=0.05, poison=0.01, seed=seed))
    url = f"{rig.pipeline.gateway_url}/webhooks/terra"
    return Load(url, rig.pipeline.terra_secret, items, rate).start()


# ---------------------------------------------------------------------------------- probes


def worker_topics(settings: Any) -> list[str]:
    return [settings.topic(t) for t in ("webhooks.raw", "metrics.normalized", "retry.5s", "retry.1m", "retry.10m")] + [
        quality_deltas_topic(settings.group_prefix + "worker")
    ]


def lags(settings: Any) -> dict[str, int] | None:
    """Records not yet committed by the worker and sink groups, per group:topic; None if Kafka can't say.

    Not ``vitalstream.health._kafka_probe``: its ``AdminClient.list_consumer_group_offsets``
    crashes the calling process (SIGSEGV in librdkafka's ``rd_kafka_cgrp_op``) when the
    coordinator answers NOT_COORDINATOR — exactly what happens around a broker restart.
    ``Consumer.committed`` takes the consumer-group path, which handles that answer.
    """
    out: dict[str, int] = {}
    groups = (("worker", worker_topics(settings)), ("sink", [settings.topic(t) for t in SINK_TOPICS]))
    for suffix, topics in groups:
        consumer = kafka.consumer(settings, "chaos", settings.group_prefix + suffix, **{"socket.timeout.ms": 3000})
        try:
            md = consumer.list_topics(timeout=5)
            tps = [TopicPartition(t, p) for t in topics if t in md.topics for p in md.topics[t].partitions]
            for tp in consumer.committed(tps, timeout=10):
                if tp.error is not None:
                    return None
                lo, hi = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=5)
                pos = tp.offset if tp.offset >= 0 else lo
                key = f"{suffix}:{tp.topic.removeprefix(settings.topic_prefix)}"
                out[key] = out.get(key, 0) + max(0, hi - pos)
        except KafkaException:
            return None
        finally:
            consumer.close()
    return out


def dlq_event_ids(settings: Any) -> set[str]:
    out = set()
    for m in consume_all(settings, "dlq"):
        hdrs = dict(m.headers() or [])
        value = hdrs.get(H.EVENT_ID)
        if isinstance(value, bytes):
            out.add(value.decode())
    return out


def ledger(rig: Rig) -> dict[str, str]:
    with rig.pipeline.db() as conn:
        return {r[0]: r[1] for r in conn.execute("SELECT event_id, outcome FROM ingested_events")}


def db_snapshot(rig: Rig) -> tuple[Any, ...] | None:
    try:
        with psycopg.connect(rig.settings.database_dsn(), autocommit=True, connect_timeout=3) as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM observations), (SELECT count(*) FROM latest_metrics),"
                " (SELECT count(*) FROM ingested_events), (SELECT coalesce(sum(count), 0) FROM data_quality_daily),"
                " (SELECT max(updated_at) FROM data_quality_daily)"
            ).fetchone()
            return tuple(row) if row else None
    except psycopg.Error:
        return None


def wait_settled(rig: Rig, accepted: set[str], timeout_s: float = SETTLE_TIMEOUT_S) -> tuple[float, dict[str, Any]]:
    """Wait until lag is 0, every accepted event is in the ledger or the DLQ, and the tables stopped
    changing. Returns (seconds until lag first reached 0 with everything accounted for, last probe)."""
    t0 = time.monotonic()
    recovered_at: float | None = None
    last: dict[str, Any] = {}
    previous: tuple[Any, ...] | None = None
    while time.monotonic() - t0 < timeout_s:
        rig.supervise()
        lag = lags(rig.settings)
        done: set[str] = set()
        if lag is not None and not any(lag.values()):
            try:
                done = {e for e, o in ledger(rig).items() if o in ("processed", "ignored")}
                done |= dlq_event_ids(rig.settings)
            except (psycopg.Error, KafkaException):
                done = set()
        missing = accepted - done
        last = {"lag": lag, "missing": len(missing)}
        if lag is not None and not any(lag.values()) and not missing:
            if recovered_at is None:
                recovered_at = time.monotonic() - t0
            snap = db_snapshot(rig)
            if snap is not None and snap == previous:
                return recovered_at, last
            previous = snap
            time.sleep(2.0)
            continue
        recovered_at, previous = None, None
        time.sleep(0.5)
    for pid in rig.pipeline.pids.values():  # their stacks into their logs, for the post-mortem
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGUSR1)
    time.sleep(1.0)
    raise AssertionError(f"not settled after {timeout_s:.0f}s: {last}")


# ---------------------------------------------------------------------------------- the verdict


def confidence_count_drift(settings: Any, scored: list[ScoredObservation]) -> dict[str, tuple[int, int]]:
    """``subject|metric`` → (history count in the ``confidence`` table, distinct plausible observations
    in ``metrics.scored``) wherever the two differ.

    Scoring folds each observation (event id, metric, measured_at) with plausibility > 0 into its
    subject's history exactly once (design §6). A count above the distinct observations means one was
    scored twice (a redelivery not recognised); below, state was lost (a table partition that did
    not restore on its new owner). ``metrics.scored`` itself may repeat a record (at-least-once).
    """
    distinct: dict[str, set[tuple[str, Any]]] = defaultdict(set)
    for sc in scored:
        o = sc.observation
        if sc.components.get("P", 0.0) > 0.0:
            distinct[f"{o.subject}|{o.metric}"].add((o.event_id, o.measured_at))
    changelog = {t.table: t.changelog for t in table_logs(settings, app_id_for(settings, 0))}["confidence"]
    counts = {
        key.decode(): SubjectMetricState.from_dict(orjson.loads(raw)).count
        for key, raw in kafka.read_compacted(settings, changelog, "chaos").items()
    }
    drift = {key: (counts.get(key, 0), len(distinct.get(key, ()))) for key in counts.keys() | distinct.keys()}
    return {key: pair for key, pair in sorted(drift.items()) if pair[0] != pair[1]}


@dataclass
class Verdict:
    figures: dict[str, Any]
    violations: list[str]


def verdict(rig: Rig, load: Load, recover_s: float) -> Verdict:
    s = rig.settings
    codec = Codec()
    accepted, refused, unknown = load.accepted(), load.refused(), load.unknown()
    violations: list[str] = []

    replays = load.replays_answered_as_their_original()
    wrong_ids = {e: named for e, named in load.answered_ids.items() if named != {e} and e not in replays}
    if wrong_ids:
        violations.append(f"2xx bodies named other event ids: {list(wrong_ids.items())[:3]}")

    # §10.1: ids answered 2xx == distinct ids in webhooks.raw; a refused request adds nothing
    raw_msgs = consume_all(s, "webhooks.raw")
    raw_records = [codec.decode_as(m.value() or b"", RawWebhook) for m in raw_msgs]
    raw_ids_list = [r.event_id for r in raw_records]
    raw_ids = set(raw_ids_list)
    missing_from_raw = accepted - raw_ids
    refused_but_stored = raw_ids & refused
    unknown_stored = raw_ids & unknown
    strangers = raw_ids - accepted - set(load.answers)  # a 503 "possibly persisted", then re-sent: sent all the same
    if missing_from_raw:
        violations.append(
            f"{len(missing_from_raw)} events answered 2xx are not in webhooks.raw: {sorted(missing_from_raw)[:5]}"
        )
    if refused_but_stored:
        statuses = {e: load.answers[e] for e in sorted(refused_but_stored)[:5]}
        violations.append(f"{len(refused_but_stored)} events answered non-2xx are in webhooks.raw: {statuses}")
    if strangers:
        keys = {r.event_id: (r.idempotency_key, r.trace_id) for r in raw_records if r.event_id in strangers}
        violations.append(f"{len(strangers)} ids in webhooks.raw were never sent: {sorted(keys.items())[:5]}")

    # §10.2: every accepted event ends in exactly one of the ledger (processed/ignored) or the DLQ
    outcomes = ledger(rig)
    finished = {e for e, o in outcomes.items() if o in ("processed", "ignored")}
    dead = dlq_event_ids(s)
    lost = accepted - finished - dead
    both = finished & dead
    if lost:
        violations.append(f"{len(lost)} accepted events are in neither the ledger nor the DLQ: {sorted(lost)[:5]}")
    if both:
        violations.append(f"{len(both)} events are both processed and dead-lettered: {sorted(both)[:5]}")
    unexpected_done = (finished | dead) - raw_ids
    if unexpected_done:
        violations.append(f"{len(unexpected_done)} ledger/DLQ ids not in webhooks.raw: {sorted(unexpected_done)[:5]}")
    poison_dead = {gateway_event_id("terra", d.trace_id) for d in load.items if d.data_type == "poison"} & accepted
    if poison_dead - dead:
        violations.append(f"{len(poison_dead - dead)} accepted poison events not dead-lettered")

    # §10.3: latest_metrics equals the rule over metrics.scored; no duplicated rows anywhere
    scored = [codec.decode_as(m.value() or b"", ScoredObservation) for m in consume_all(s, "metrics.scored")]
    scored_records = len(scored)
    candidates: list[Candidate] = [candidate_of(sc) for sc in scored]
    observation_keys = {(c.subject, c.metric, c.provider, c.measured_at) for c in candidates}
    observation_ids = {(c.event_id, c.subject, c.metric, c.provider, c.measured_at) for c in candidates}
    model = expected_latest(candidates)
    with rig.pipeline.db() as conn:
        obs_rows, obs_distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (subject, metric, provider, measured_at)) FROM observations"
        ).fetchone()
        obs_keys = {
            tuple(r) for r in conn.execute("SELECT subject, metric, provider, measured_at FROM observations").fetchall()
        }
        latest = {
            (r[0], r[1]): r
            for r in conn.execute(
                "SELECT subject, metric, value, provider, measured_at, confidence, event_id FROM latest_metrics"
            )
        }
        ledger_rows, ledger_distinct = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM ingested_events"
        ).fetchone()
        quality_total = int(conn.execute("SELECT coalesce(sum(count), 0) FROM data_quality_daily").fetchone()[0])
        drift = quality_drift(conn)
    quality_missing = sum(max(0, recounted - stored) for *_, stored, recounted in drift)
    quality_extra = sum(max(0, stored - recounted) for *_, stored, recounted in drift)
    duplicated = (obs_rows - obs_distinct) + (ledger_rows - ledger_distinct) + quality_extra
    if obs_rows != obs_distinct or ledger_rows != ledger_distinct:
        violations.append(
            f"duplicate rows: observations {obs_rows} vs {obs_distinct} distinct, "
            f"ingested_events {ledger_rows} vs {ledger_distinct} distinct"
        )
    if obs_keys != observation_keys:
        violations.append(
            f"observations differ from metrics.scored: {len(observation_keys - obs_keys)} missing, "
            f"{len(obs_keys - observation_keys)} extra"
        )
    # data_quality_daily is exactly a recount of observations: any difference, either way, fails
    if drift:
        violations.append(
            f"data_quality_daily differs from a recount of observations on {len(drift)} (day, metric, provider):"
            f" {quality_missing} observations missing, {quality_extra} extra (stored, recounted: {drift[:3]})"
        )
    latest_wrong = []
    if set(latest) != set(model):
        latest_wrong.append(f"keys: {len(set(model) - set(latest))} missing, {len(set(latest) - set(model))} extra")
    for key, want in model.items():
        row = latest.get(key)
        if row is None:
            continue
        _subj, _metric, value, provider, measured_at, confidence, event_id = row
        if (
            (provider, measured_at, event_id) != (want.provider, want.measured_at, want.event_id)
            or abs(value - want.value) > 1e-9
            or abs(confidence - want.confidence) > 1e-6
        ):
            latest_wrong.append(
                f"{key}: {(provider, measured_at, event_id)} != {(want.provider, want.measured_at, want.event_id)}"
            )
    if latest_wrong:
        violations.append(f"latest_metrics differs from the model: {latest_wrong[:5]} ({len(latest_wrong)} in all)")
    count_drift = confidence_count_drift(s, scored)
    if count_drift:
        violations.append(
            f"confidence state counts differ from the distinct observations scored on {len(count_drift)}"
            f" subject|metric (state, distinct): {list(count_drift.items())[:5]}"
        )

    # §10.5/§10.6: every service (and every instance still meant to run) alive at the end; none died unasked
    for service in sorted(set(SERVICES) | set(rig.pipeline.pids)):
        if not rig.pipeline.alive(service):
            violations.append(f"{service} is not running at the end")
    for crash in rig.crashes:
        violations.append(f"unexpected crash: {crash}")

    figures = {
        "sent": sum(len(v) for v in load.answers.values()),
        "events": len(load.answers),
        "accepted": len(accepted),
        "refused": len(refused),
        "resent_after_503": load.retried,
        "no_answer": len(unknown),
        "no_answer_stored": len(unknown_stored),
        "refused_but_stored": len(refused_but_stored),
        "by_status": load.by_status(),
        "raw_records": len(raw_ids_list),
        "raw_distinct": len(raw_ids),
        "lost": len(lost) + len(missing_from_raw - lost),
        "duplicated_rows": duplicated,
        "dead_lettered": len(dead),
        "observations": obs_rows,
        "scored_records": scored_records,
        "latest_mismatches": len(latest_wrong),
        "quality_count": quality_total,
        "quality_missing": quality_missing,
        "quality_extra": quality_extra,
        "scored_distinct": len(observation_ids),
        "confidence_states": len({(c.subject, c.metric) for c in candidates}),
        "confidence_count_mismatches": len(count_drift),
        "recover_lag_s": round(recover_s, 1),
        "unexpected_crashes": len(rig.crashes),
    }
    return Verdict(figures, violations)


_SESSION: dict[str, Any] = {}


def report(name: str, v: Verdict, extra: dict[str, Any] | None = None) -> None:
    f = v.figures
    entry = {**f, **(extra or {}), "violations": v.violations, "ok": not v.violations}
    _SESSION[name] = entry
    REPORT_PATH.write_text(json.dumps(_SESSION, indent=2, default=str) + "\n")
    line = (
        f"[chaos] {name}: sent={f['sent']} accepted={f['accepted']} refused={f['refused']} "
        f"no_answer={f['no_answer']} lost={f['lost']} duplicated_rows={f['duplicated_rows']} "
        f"recover_lag_s={f['recover_lag_s']} refused_but_stored={f['refused_but_stored']} "
        f"crashes={f['unexpected_crashes']}" + "".join(f" {k}={val}" for k, val in (extra or {}).items())
    )
    print("\n" + line, flush=True)
    for problem in v.violations:
        print(f"[chaos] {name}: VIOLATION {problem[:2000]}", flush=True)
    sys.stdout.flush()


def finish(
    rig: Rig,
    load: Load,
    name: str,
    extra: dict[str, Any] | None = None,
    settle: Callable[[Rig, set[str]], tuple[float, dict[str, Any]]] = wait_settled,
    earlier: Sequence[Load] = (),
) -> Verdict:
    """Join the load, wait for recovery, compute and print the report, assert the invariants
    (over ``earlier`` finished loads on the same stack too)."""
    load.join(rig)
    whole = Load.union([*earlier, load]) if earlier else load
    try:
        recover_s, _ = settle(rig, whole.accepted())
        unsettled = None
    except AssertionError as exc:  # still report every figure, then fail
        recover_s, unsettled = -1.0, str(exc)
    v = verdict(rig, whole, recover_s)
    if unsettled:
        v.violations.insert(0, unsettled)
    report(name, v, extra)
    assert not v.violations, "\n".join(x[:3000] for x in v.violations)
    return v
