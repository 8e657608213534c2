"""Worker benchmark (design §11): normalize + score throughput on one worker, with its ceiling.

Not a test. ``bench_stream`` pre-fills ``webhooks.raw`` with realistic Terra daily/body
events, runs one worker subprocess (``python -m vitalstream.cli worker``) and measures
observations/s until ``metrics.scored`` holds them all; as the ceiling, a bare
confluent-kafka consume→produce loop copies the same raw topic to a scratch topic.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka.admin import (  # type: ignore[attr-defined,unused-ignore]
    NewTopic,
)

from schemas.records import RawWebhook
from streams.normalize import normalize, parse_body
from vitalstream.platform import kafka
from vitalstream.platform.codec import codec_for
from vitalstream.platform.procstat import cpu_seconds
from vitalstream.platform.settings import Settings

TEMPLATES = Path(__file__).resolve().parents[1] / "vitalstream" / "templates"


def _payloads() -> list[dict[str, Any]]:
    return [json.loads((TEMPLATES / f"full_{t}.json").read_text()) for t in ("daily", "body")]


def _events(count_obs: int) -> tuple[list[RawWebhook], int]:
    templates = _payloads()
    codec_free: list[RawWebhook] = []
    total = 0
    i = 0
    base = datetime.now(UTC)
    while total < count_obs:
        doc = copy.deepcopy(templates[i % len(templates)])
        user = doc.setdefault("user", {})
        user["user_id"] = f"bench-{i % 5000}"
        user["reference_id"] = f"bench-subject-{i % 5000}"
        eid = uuid.uuid4().hex
        raw = RawWebhook(
            event_id=eid,
            source="terra",
            received_at=base + timedelta(milliseconds=i),
            idempotency_key=eid,
            body=json.dumps(doc).encode(),
            provider_user_id=user["user_id"],
        )
        n = len(normalize(raw, parse_body(raw.body)).observations)
        if n == 0:
            raise RuntimeError("bench template produced no observations")
        total += n
        codec_free.append(raw)
        i += 1
    return codec_free, total


def _high_sum(settings: Settings, topic: str) -> int:
    c = kafka.consumer(settings, "bench")
    try:
        return sum(high for _low, high in kafka.end_offsets(c, topic).values())
    finally:
        c.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ceiling(
    settings: Settings,
    records: list[tuple[bytes, bytes, list[tuple[str, str | bytes | None]]]],
    min_records: int = 100_000,
) -> float:
    """Bare confluent-kafka consume→produce loop: records/s.

    The loop reads a scratch copy of the raw records (repeated up to ``min_records``, so the
    figure is a steady loop, not one fetch) and copies it to another scratch topic. The clock
    starts at the first record consumed — after the group join and the first fetch — and
    stops when the producer has flushed every copy (the consumer's close is not timed).
    """
    tag = uuid.uuid4().hex[:6]
    source, target = f"{settings.topic_prefix}bench.ceiling.src.{tag}", f"{settings.topic_prefix}bench.ceiling.{tag}"
    admin = kafka.admin(settings, "bench")
    for f in admin.create_topics([NewTopic(source, 6, 1), NewTopic(target, 6, 1)]).values():
        f.result(30)
    rounds = -(-max(min_records, len(records)) // len(records))
    fill = (kafka.OutRecord(source, value, key, headers) for _ in range(rounds) for key, value, headers in records)
    total = kafka.produce_all(kafka.producer(settings, "bench", **{"linger.ms": 20}), fill, timeout_s=120)
    c = kafka.consumer(settings, "bench", f"bench-ceiling-{tag}", **{"enable.auto.commit": True})
    p = kafka.producer(settings, "bench")
    c.subscribe([source])
    done = 0
    start: float | None = None
    end = time.monotonic()
    deadline = time.monotonic() + 300
    try:
        while done < total and time.monotonic() < deadline:
            msgs = c.consume(1000, 0.5)
            for m in msgs:
                if m.error():
                    continue
                if start is None:
                    start = time.monotonic()
                p.produce(target, key=m.key(), value=m.value(), headers=m.headers())
                done += 1
            p.poll(0)
        p.flush(30)
        end = time.monotonic()
    finally:
        c.close()
        admin.delete_topics([source, target])
    return done / max(end - (start or end), 1e-9)


def bench_stream(settings: Settings, observations: int = 100_000) -> dict[str, Any]:
    """Pre-fill, run one worker, measure; returns the figures (observations/s and the ceiling)."""
    codec = codec_for(settings)
    raws, total = _events(observations)
    raw_topic = settings.topic("webhooks.raw")
    records: list[tuple[bytes, bytes, list[tuple[str, str | bytes | None]]]] = [
        ((r.provider_user_id or "").encode(), codec.encode(r), [("vs.event_id", r.event_id.encode())]) for r in raws
    ]
    kafka.produce_all(
        kafka.producer(settings, "bench", **{"linger.ms": 20}),
        (kafka.OutRecord(raw_topic, value, key, headers) for key, value, headers in records),
    )
    scored_topic = settings.topic("metrics.scored")
    before = _high_sum(settings, scored_topic)
    env = {
        **os.environ,
        "VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "VITALSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "VITALSTREAM_GROUP_PREFIX": settings.group_prefix,
        "VITALSTREAM_WORKER_DATADIR": tempfile.mkdtemp(prefix="vs-bench-"),
        "VITALSTREAM_WORKER_WEB_PORT": str(_free_port()),
        "VITALSTREAM_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    profile = os.environ.get("VITALSTREAM_BENCH_PROFILE")  # a path: cProfile the worker into it
    cmd = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else []), "-m", "vitalstream.cli", "worker"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first: float | None = None
    first_count = 0
    first_cpu = finished_cpu = 0.0
    done = before
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = _high_sum(settings, scored_topic)
            if first is None and done > before:
                first, first_count, first_cpu = time.monotonic(), done - before, cpu_seconds(proc.pid)
            if done - before >= total:
                break
            time.sleep(0.25)
        finished = time.monotonic()
        finished_cpu = cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    scored = done - before
    steady = (scored - first_count) / (finished - first) if first and finished > first else 0.0
    ceiling = _ceiling(settings, records)
    return {
        "events": len(raws),
        "observations": total,
        "scored": scored,
        "seconds_incl_startup": round(finished - started, 2),
        "observations_per_s": round(steady, 1),
        "observations_per_s_incl_startup": round(scored / (finished - started), 1),
        # CPU the worker spent per observation in the same window: the figure that does not depend
        # on what else the shared machine runs (1e6 / it = what one fully available core would do).
        "worker_cpu_us_per_observation": round((finished_cpu - first_cpu) * 1e6 / (scored - first_count), 1)
        if scored > first_count and finished_cpu > first_cpu
        else None,
        "ceiling_raw_records_per_s": round(ceiling, 1),
        "ceiling_observations_per_s_equiv": round(ceiling * total / len(raws), 1),
    }


def _state_value() -> bytes:
    """A realistic confidence-table value: the state after scoring three observations of one key."""
    import orjson

    from schemas.confidence_model import load_model
    from schemas.records import Observation
    from schemas.vocabulary import VOCABULARY
    from streams.confidence import score

    model = load_model(None)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    state = None
    for i, provider in enumerate(("GARMIN", "OURA", "GARMIN")):
        obs = Observation(
            subject="bench-subject",
            metric="step_count",
            value=8000.0 + 500 * i,
            unit="steps",
            measured_at=at + timedelta(days=i),
            provider=provider,
            event_id=uuid.uuid4().hex,
            ordering_ts=at + timedelta(days=i, minutes=5),
            measured_until=at + timedelta(days=i + 1),
            upload_type="AUTOMATIC",
            provenance="sensed",
        )
        state = score(obs, state, VOCABULARY["step_count"], model, at + timedelta(days=i + 1)).state
    assert state is not None
    return orjson.dumps(state.to_dict())


def _fill_changelog(settings: Settings, topic: str, partitions: int, keys: int) -> int:
    """``keys`` distinct keys in the confidence table's changelog format (raw key, JSON state); returns bytes."""
    admin = kafka.admin(settings, "bench")
    new = NewTopic(topic, partitions, settings.replication_factor, config={"cleanup.policy": "compact"})
    admin.create_topics([new])[topic].result(30)
    value = _state_value()
    p = kafka.producer(
        settings, "bench", **{"linger.ms": 50, "batch.size": 1024 * 1024, "queue.buffering.max.messages": 1_000_000}
    )
    fill = (
        kafka.OutRecord(topic, value, f"bench-subject-{i // 20}|m{i % 20}".encode(), partition=i % partitions)
        for i in range(keys)
    )
    kafka.produce_all(p, fill, timeout_s=120)
    return keys * (len(value) + 24)


def bench_restart(settings: Settings, keys: int = 1_000_000, bulk: bool = True) -> dict[str, Any]:
    """design §11 "worker restart with 1 M keys": state ready ≤ 30 s.

    Fills the confidence table's changelog with ``keys`` keys, starts one worker with an empty
    datadir (so every key is restored from the changelog) and measures, from the process start,
    the time until Faust reports the restore done ("Worker ready", logged once every table's
    changelog is read) and until a probe observation produced beforehand is scored (streams
    resume only after the restore).
    """
    from schemas.records import Observation
    from schemas.topics import spec

    partitions = spec("metrics.normalized").partitions
    changelog = f"{settings.group_prefix}worker-confidence-changelog"
    fill_started = time.monotonic()
    approx_bytes = _fill_changelog(settings, changelog, partitions, keys)
    fill_s = time.monotonic() - fill_started

    codec = codec_for(settings)
    at = datetime.now(UTC)
    probe = Observation(
        subject="bench-restart-probe",
        metric="step_count",
        value=1000.0,
        unit="steps",
        measured_at=at,
        provider="GARMIN",
        event_id=uuid.uuid4().hex,
        ordering_ts=at,
    )
    kafka.produce_all(
        kafka.producer(settings, "bench"),
        [kafka.OutRecord(settings.topic("metrics.normalized"), codec.encode(probe), probe.subject.encode())],
    )
    scored_topic = settings.topic("metrics.scored")
    before = _high_sum(settings, scored_topic)

    datadir = tempfile.mkdtemp(prefix="vs-bench-restart-")
    log_path = Path(datadir) / "worker.log"
    env = {
        **os.environ,
        "VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "VITALSTREAM_TOPIC_PREFIX": settings.topic_prefix,
        "VITALSTREAM_GROUP_PREFIX": settings.group_prefix,
        "VITALSTREAM_WORKER_DATADIR": str(Path(datadir) / "data"),
        "VITALSTREAM_WORKER_WEB_PORT": str(_free_port()),
        "VITALSTREAM_LOG_LEVEL": "INFO",
        "VITALSTREAM_WORKER_BULK_RESTORE": "true" if bulk else "false",
    }
    ready_s: float | None = None
    scored_s: float | None = None
    with log_path.open("wb") as log_file:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "vitalstream.cli", "worker"], env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
        try:
            deadline = started + 600
            while time.monotonic() < deadline and (ready_s is None or scored_s is None):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker exited with {proc.returncode}: see {log_path}")
                now = time.monotonic() - started
                if ready_s is None and b"Worker ready" in log_path.read_bytes():
                    ready_s = now
                if scored_s is None and _high_sum(settings, scored_topic) > before:
                    scored_s = now
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(60)
    return {
        "keys": keys,
        "bulk_restore": bulk,
        "changelog_partitions": partitions,
        "changelog_mb_approx": round(approx_bytes / 1e6, 1),
        "fill_seconds": round(fill_s, 1),
        "seconds_to_ready": round(ready_s, 2) if ready_s is not None else None,
        "seconds_to_first_scored": round(scored_s, 2) if scored_s is not None else None,
        "keys_restored_per_s": round(keys / ready_s, 1) if ready_s else None,
        "target_seconds": 30.0,
    }
