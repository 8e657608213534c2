"""Operator workflows through the whole running pipeline (gateway, worker, sink; real Kafka and PostgreSQL).

- A poison webhook reaches the DLQ; ``dlq ls`` shows it; after the fix, ``dlq replay``
  gets it processed exactly once; ``dlq ls`` shows it replayed; a second replay is refused.
- ``recompute`` rebuilds the scores under a changed confidence model while webhooks keep
  arriving, switches the live worker over, and Postgres ends as the §6 rule computes it
  from every scored observation, all of the new generation.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from schemas.codec import Codec
from schemas.confidence_model import ENV_VAR
from schemas.records import ScoredObservation
from tests.fix_payloads import PayloadServer
from tests.fix_pipeline import Pipeline
from tests.kafka_helpers import consume_all, misplaced_keys
from tests.model import candidate_of, expected_latest
from vitalstream.health import _kafka_probe
from vitalstream.platform.control import read_active
from vitalstream.simulate import Delivery, deliveries, send_all

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "terra" / "examples"
ROOT = Path(__file__).resolve().parents[2]


def _cli(p: Pipeline, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", *args],
        env={**p.env, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _send(p: Pipeline, items: list[Delivery], rate: float = 200) -> set[str]:
    stats = asyncio.run(send_all(f"{p.gateway_url}/webhooks/terra", p.terra_secret, items, rate=rate))
    assert stats.errors == 0 and stats.rejected == 0, stats.by_status
    return set(stats.accepted_ids)


def _outcomes(p: Pipeline, ids: set[str]) -> dict[str, str]:
    with p.db() as conn:
        rows = conn.execute("SELECT event_id, outcome FROM ingested_events WHERE event_id = ANY(%s)", (list(ids),))
        return {r[0]: r[1] for r in rows}


def _drained(p: Pipeline, ids: set[str]) -> bool:
    return len(_outcomes(p, ids)) == len(ids) and all(v == 0 for v in _kafka_probe(p.settings)["lags"].values())


def test_poison_to_dlq_then_fixed_replayed_once(pipeline: Pipeline, payload_server: PayloadServer) -> None:
    p = pipeline
    base, files = payload_server.base, payload_server.files
    # The operator's limit on downloaded payloads is too small for this user's data.
    p.stop("worker")
    p.env["VITALSTREAM_S3_MAX_BYTES"] = "200"
    p.start("worker")
    files["body.json"] = (EXAMPLES / "body__body.json").read_bytes()
    ping = orjson.dumps(
        {"type": "s3_payload", "user": {"user_id": "ops-u1", "provider": "WITHINGS"}, "url": f"{base}/body.json"}
    )
    [event_id] = _send(p, [Delivery("s3_payload", "WITHINGS", "ops-u1", "trace-ops-1", int(time.time() * 1000), ping)])

    p.wait_for(lambda: _outcomes(p, {event_id}).get(event_id) == "dead_lettered", 90, "the event to be dead-lettered")
    listing = _cli(p, "dlq", "ls", "--json")
    assert listing.returncode == 0, listing.stderr
    [group] = [g for g in json.loads(listing.stdout) if g["error_class"] == "PayloadTooLargeError"]
    assert (group["stage"], group["count"], group["pending"], group["replayed"]) == ("fetch", 1, 1, 0)
    shown = _cli(p, "dlq", "show", "--event-id", event_id)
    assert shown.returncode == 0 and "exceeds 200" in shown.stdout, shown.stdout + shown.stderr
    assert base not in shown.stdout  # the download URL (signed, in real life) is masked

    # The fix: a sane limit, worker restarted; then the replay.
    p.stop("worker")
    p.env["VITALSTREAM_S3_MAX_BYTES"] = str(16 * 1024 * 1024)
    p.start("worker")
    replay = _cli(p, "dlq", "replay", "--error-class", "PayloadTooLargeError")
    assert replay.returncode == 0 and "replayed 1" in replay.stdout, replay.stdout + replay.stderr

    def scored_rows() -> list[ScoredObservation]:
        codec = Codec()
        found = [codec.decode_as(m.value(), ScoredObservation) for m in consume_all(p.settings, "metrics.scored")]
        return [s for s in found if s.observation.event_id == event_id]

    p.wait_for(lambda: _outcomes(p, {event_id}).get(event_id) == "processed", 90, "the replayed event to be processed")
    p.wait_for(lambda: _drained(p, {event_id}), 60, "the pipeline to drain")
    scored = scored_rows()
    identities = [(s.observation.metric, s.observation.measured_at) for s in scored]
    assert scored and len(identities) == len(set(identities)), "every observation of the event scored once"
    with p.db() as conn:
        stored = conn.execute("SELECT count(*) FROM observations WHERE event_id = %s", (event_id,)).fetchone()
    assert stored == (len({(s.observation.metric, s.observation.provider, s.observation.measured_at) for s in scored}),)

    after = {g["error_class"]: g for g in json.loads(_cli(p, "dlq", "ls", "--json").stdout)}
    assert (after["PayloadTooLargeError"]["pending"], after["PayloadTooLargeError"]["replayed"]) == (0, 1)
    again = _cli(p, "dlq", "replay", "--error-class", "PayloadTooLargeError")
    assert again.returncode == 0 and "replayed 0" in again.stdout and "already replayed (use --force) 1" in again.stdout
    time.sleep(3)
    assert len(scored_rows()) == len(scored), "the refused replay produced nothing"
    assert misplaced_keys(p.settings) == {}, "every key where Kafka's Java client puts it, after the replay"


def _latest(p: Pipeline) -> dict[tuple[str, str], tuple[Any, ...]]:
    with p.db() as conn:
        rows = conn.execute(
            "SELECT subject, metric, provider, measured_at, event_id, confidence, generation FROM latest_metrics"
        ).fetchall()
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def test_recompute_rebuilds_beside_live_traffic_and_switches_over(pipeline: Pipeline, tmp_path: Path) -> None:
    p = pipeline
    model = tmp_path / "confidence-model.json"
    model.write_text("{}")
    p.stop("worker")
    p.env[ENV_VAR] = str(model)
    p.start("worker")
    worker_pid = p.pids["worker"]

    before_ids = _send(p, list(deliveries(300, users=12, seed=21)))
    p.wait_for(lambda: _drained(p, before_ids), 180, "the first webhooks to be processed")
    before = _latest(p)
    assert before and {row[-1] for row in before.values()} == {0}

    # New priorities: consistency counts for more, the source's reputation for less.
    model.write_text(json.dumps({"weights": {"reliability": 0.15, "consistency": 0.45}}))
    live = list(deliveries(200, users=12, seed=22))
    during: set[str] = set()
    sender = threading.Thread(target=lambda: during.update(_send(p, live, rate=15)))
    sender.start()
    stack = tmp_path / "stack"
    done = _cli(
        p, "recompute", "--max-lag", "0", "--wait", "120", env={"VITALSTREAM_STACK_DIR": str(stack)}, timeout=300
    )
    sender.join()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "switched" in done.stdout, done.stdout + done.stderr
    # the terminal shows our lines and the progress bar; Faust's and librdkafka's logs are not for it
    terminal = done.stdout + done.stderr
    assert "[INFO]" not in terminal and "BGQUEUE" not in terminal and "%4|" not in terminal, terminal
    assert "[INFO]" in (stack / "logs" / "recompute.log").read_text()

    active = read_active(p.settings)
    assert active is not None and active.generation > 0
    assert p.pids["worker"] == worker_pid and p.alive("worker")  # the same process, re-executed
    log = p.log("worker").read_text(errors="replace")
    assert "switching scoring generation" in log and f'"generation":{active.generation}' in log

    after_ids = _send(p, list(deliveries(50, users=12, seed=23)))
    all_ids = before_ids | during | after_ids
    p.wait_for(lambda: _drained(p, all_ids), 240, "every webhook to be processed after the switch")
    assert set(_outcomes(p, all_ids).values()) <= {"processed", "ignored"}

    # Postgres is wholly the new generation ...
    with p.db() as conn:
        for table in ("latest_metrics", "observations", "data_quality_daily"):
            generations = {r[0] for r in conn.execute(f"SELECT DISTINCT generation FROM {table}")}
            assert generations == {active.generation}, table
    # ... is what the §6 rule computes from every scored observation, old and new generations ...
    codec = Codec()
    candidates = [
        candidate_of(codec.decode_as(m.value(), ScoredObservation)) for m in consume_all(p.settings, "metrics.scored")
    ]
    want = expected_latest(candidates)
    got = _latest(p)
    assert set(got) == set(want)
    for key, c in want.items():
        provider, measured_at, event_id, confidence, generation = got[key]
        assert (provider, measured_at, event_id, generation) == (c.provider, c.measured_at, c.event_id, c.generation)
        assert abs(confidence - c.confidence) < 1e-6, key
    # ... and the new model changed the scores.
    changed = [k for k, row in before.items() if abs(got[k][3] - row[3]) > 1e-6]
    assert changed, "no confidence changed under the new model"
    health = _cli(p, "health")
    assert health.returncode == 0, health.stdout + health.stderr

    # A second rebuild republishes every key: still one partition per key, Java's.
    again = _cli(p, "recompute", "--max-lag", "0", "--wait", "120", timeout=300)
    assert again.returncode == 0 and "switched" in again.stdout, again.stdout + again.stderr
    assert misplaced_keys(p.settings) == {}
