"""The stream worker against a real Kafka broker: run as a subprocess, like in production."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from confluent_kafka.admin import ConfigResource, ResourceType  # type: ignore[attr-defined]

from schemas import deadletter as H
from schemas.codec import Codec
from schemas.records import EventOutcome, LatestMetric, QualityDaily, RawWebhook, ScoredObservation
from streams.generation import seen_events_changelog
from streams.normalize import normalize, parse_body
from tests.fix_payloads import PayloadServer
from tests.kafka_helpers import consume_all, lower_max_message_bytes
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "terra" / "examples"
CODEC = Codec()
ROOT = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WorkerProcess:
    """``python -m vitalstream.cli worker`` with the test's settings in its environment."""

    def __init__(self, settings: Settings, datadir: Path, log: Path, extra_env: dict[str, str] | None = None) -> None:
        self.settings = settings
        self.datadir = datadir
        self.log = log
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
        env.update(
            {
                "VITALSTREAM_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
                "VITALSTREAM_TOPIC_PREFIX": s.topic_prefix,
                "VITALSTREAM_GROUP_PREFIX": s.group_prefix,
                "VITALSTREAM_WORKER_DATADIR": str(self.datadir),
                "VITALSTREAM_WORKER_WEB_PORT": str(free_port()),
                "VITALSTREAM_RETRY_DELAYS_S": ",".join(str(d) for d in s.retry_delays_s),
                "VITALSTREAM_LOG_LEVEL": "INFO",
                "VITALSTREAM_FETCH_ALLOW_PRIVATE": "1",
                **self.extra_env,
            }
        )
        return env

    def start(self) -> WorkerProcess:
        self.datadir.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "vitalstream.cli", "worker"],
                env=self.env(),
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def stop(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return int(self.proc.returncode)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


@pytest.fixture
def worker_factory(tmp_path: Path) -> Iterator[Callable[..., WorkerProcess]]:
    started: list[WorkerProcess] = []

    def make(settings: Settings, datadir: str = "data", env: dict[str, str] | None = None) -> WorkerProcess:
        w = WorkerProcess(settings, tmp_path / datadir, tmp_path / "worker.log", env).start()
        started.append(w)
        return w

    yield make
    for w in started:
        if w.alive():
            w.stop()


def raw_webhook(body: bytes | dict[str, Any] | list[Any], event_id: str | None = None, user: str = "u1") -> RawWebhook:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    eid = event_id or uuid.uuid4().hex
    return RawWebhook(
        event_id=eid,
        source="terra",
        received_at=datetime.now(UTC),
        idempotency_key=eid,
        body=data,
        provider_user_id=user,
    )


def produce(settings: Settings, items: list[tuple[bytes, bytes, str | None]], topic: str = "webhooks.raw") -> None:
    """items: (key, value, event id header)."""
    records = [
        kafka.OutRecord(settings.topic(topic), value, key, [(H.EVENT_ID, eid.encode())] if eid else None)
        for key, value, eid in items
    ]
    kafka.produce_all(kafka.producer(settings, "test"), records, timeout_s=15)


def produce_raw(settings: Settings, raws: list[RawWebhook]) -> None:
    produce(settings, [((r.provider_user_id or "x").encode(), CODEC.encode(r), r.event_id) for r in raws])


def example(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((EXAMPLES / name).read_text())
    return doc


def wait_for(what: str, fn: Callable[[], Any], timeout: float, worker: WorkerProcess | None = None) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        if worker is not None and not worker.alive():
            pytest.fail(f"worker died while waiting for {what}:\n{worker.tail()}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what} (last: {last!r})" + (f"\n{worker.tail()}" if worker else ""))


def at_least(n: int, fn: Callable[[], list[Any]]) -> Callable[[], list[Any] | None]:
    def check() -> list[Any] | None:
        got = fn()
        return got if len(got) >= n else None

    return check


def expected_observations(raws: list[RawWebhook]) -> int:
    return sum(len(normalize(r, parse_body(r.body)).observations) for r in raws)


def decoded(
    settings: Settings, topic: str, cls: type[Any], expected: int | None = None, timeout_s: float = 5.0
) -> list[Any]:
    return [CODEC.decode_as(m.value() or b"", cls) for m in consume_all(settings, topic, expected, timeout_s)]


def headers_of(msg: Any) -> dict[str, str]:
    return {k: (v or b"").decode() for k, v in (msg.headers() or [])}


def changelog_states(settings: Settings, app_id: str, table: str) -> dict[str, dict[str, Any]]:
    topic = f"{app_id}-{table}-changelog".removeprefix(settings.topic_prefix)
    out: dict[str, dict[str, Any]] = {}
    for m in consume_all(settings, topic):
        value, key = m.value(), m.key()
        if value is not None and key is not None:
            out[key.decode()] = orjson.loads(value)
    return out


# --- tests ---------------------------------------------------------------------------------------


def test_raw_to_scored_end_to_end_and_redelivery_once(settings: Settings, worker_factory: Any) -> None:
    raws = [
        raw_webhook(example(n), user=f"user-{i}")
        for i, n in enumerate(["body__body.json", "daily__daily.json", "sleep__sleep.json", "activity__activity.json"])
    ]
    lifecycle = [raw_webhook(example("auth__authSuccess.json")), raw_webhook(example("deauth__deauth.json"))]
    ignored = raw_webhook({"type": "lab_report.created", "user": {"user_id": "u9", "provider": "X"}})
    redelivered = RawWebhook(**{**raws[0].to_avro(), "received_at": datetime.now(UTC)})  # same event id
    produce_raw(settings, [*raws, *lifecycle, ignored])
    n_obs = expected_observations(raws)
    assert n_obs > 10
    worker = worker_factory(settings)

    wait_for("all scored", at_least(n_obs, lambda: consume_all(settings, "metrics.scored", n_obs, 3.0)), 90, worker)
    produce_raw(settings, [redelivered])  # after the original was processed (and marked seen)
    wait_for("ledger", at_least(7, lambda: consume_all(settings, "events.ledger", 7, 3.0)), 30, worker)
    quality = wait_for("quality", lambda: decoded(settings, "metrics.quality_daily", QualityDaily), 30, worker)
    # the dedup table's changelog forgets ids after the dedup window (bounded restores)
    resource = ConfigResource(ResourceType.TOPIC, seen_events_changelog(settings))
    admin = kafka.admin(settings, "test")  # kept alive until the result
    configs = admin.describe_configs([resource])[resource].result()
    assert configs["cleanup.policy"].value == "compact,delete"
    assert configs["retention.ms"].value == str(settings.dedup_window_s * 1000)
    # The redelivery is behind the ledger rows in the raw topic: once it is consumed, nothing new comes of it.
    wait_for("redelivery consumed", lambda: _group_caught_up(settings, "webhooks.raw"), 30, worker)

    scored = decoded(settings, "metrics.scored", ScoredObservation)
    assert len(scored) == n_obs, "a redelivered event id must not be normalized twice"
    assert all(0 <= s.confidence <= 100 and s.level in {"excellent", "good", "fair", "poor"} for s in scored)
    normalized = consume_all(settings, "metrics.normalized")
    assert len(normalized) == n_obs
    latest = decoded(settings, "metrics.latest", LatestMetric)
    assert latest and {(lm.subject, lm.metric) for lm in latest} <= {
        (s.observation.subject, s.observation.metric) for s in scored
    }
    ledger = decoded(settings, "events.ledger", EventOutcome)
    by_id = Counter(o.event_id for o in ledger)
    assert set(by_id) == {r.event_id for r in [*raws, *lifecycle, ignored]}
    assert all(n == 1 for n in by_id.values()), by_id
    outcome = {o.event_id: o for o in ledger}
    assert all(outcome[r.event_id].outcome == "processed" for r in raws)
    assert outcome[ignored.event_id].outcome == "ignored" and outcome[ignored.event_id].reason
    assert sum(o.observations for o in ledger) == n_obs
    assert len(consume_all(settings, "users")) == 2
    final_quality: dict[tuple[Any, str, str], QualityDaily] = {}
    for q in decoded(settings, "metrics.quality_daily", QualityDaily):
        final_quality[(q.day, q.metric, q.provider)] = q
    assert quality and sum(q.count for q in final_quality.values()) == n_obs
    assert worker.stop() == 0


def _group_caught_up(settings: Settings, short_topic: str) -> bool:
    from confluent_kafka import TopicPartition

    topic = settings.topic(short_topic)
    c = kafka.consumer(settings, "test", settings.group_prefix + "worker")
    try:
        highs = {p: high for p, (_low, high) in kafka.end_offsets(c, topic).items()}
        committed = {tp.partition: tp.offset for tp in c.committed([TopicPartition(topic, p) for p in highs], 10)}
        return all(committed[p] >= highs[p] for p in highs if highs[p] > 0)
    finally:
        c.close()


def test_poison_records_dead_letter_once_and_partition_flows(settings: Settings, worker_factory: Any) -> None:
    key = b"same-user"
    bad_event = uuid.uuid4().hex
    empty = raw_webhook([], user="same-user")
    good = raw_webhook(example("body__body.json"), user="same-user")
    produce(
        settings,
        [
            (key, b"\x00\x01 not avro at all", bad_event),
            (key, CODEC.encode(empty), empty.event_id),
            (key, CODEC.encode(good), good.event_id),
        ],
    )
    n_obs = expected_observations([good])
    worker = worker_factory(settings)
    wait_for("good event scored", lambda: len(consume_all(settings, "metrics.scored", n_obs, 2.0)) >= n_obs, 90, worker)
    wait_for("2 dead letters", at_least(2, lambda: consume_all(settings, "dlq", 2, 2.0)), 30, worker)
    ledger = wait_for(
        "ledger rows", at_least(3, lambda: decoded(settings, "events.ledger", EventOutcome, 3, 2.0)), 30, worker
    )
    dlq = consume_all(settings, "dlq")
    assert len(dlq) == 2
    by_event = {headers_of(m)[H.EVENT_ID]: m for m in dlq}
    assert set(by_event) == {bad_event, empty.event_id}
    for m in dlq:
        h = headers_of(m)
        assert set(H.FAILURE_HEADERS) <= set(h), set(H.FAILURE_HEADERS) - set(h)
        assert h[H.ERROR_STAGE] == "normalize" and h[H.ATTEMPTS] == "1"
        assert h[H.ORIGINAL_TOPIC] == settings.topic("webhooks.raw")
        assert m.key() == key
    assert headers_of(by_event[bad_event])[H.ERROR_CLASS] == "DecodeError"
    assert by_event[bad_event].value() == b"\x00\x01 not avro at all"
    assert headers_of(by_event[empty.event_id])[H.ERROR_CLASS] == "SchemaInvalidError"
    assert by_event[empty.event_id].value() == CODEC.encode(empty)
    outcomes = {o.event_id: o.outcome for o in ledger}
    assert outcomes == {bad_event: "dead_lettered", empty.event_id: "dead_lettered", good.event_id: "processed"}
    assert consume_all(settings, "retry.5s") == []


def test_a_dead_letter_too_large_for_the_dlq_goes_there_without_its_value(
    settings: Settings, worker_factory: Any
) -> None:
    lower_max_message_bytes(settings, "dlq", 64 * 1024)
    key = b"big-poison"
    poison = raw_webhook({"user": {"user_id": "big-poison"}, "noise": os.urandom(200 * 1024).hex()}, user="big-poison")
    good = raw_webhook(example("body__body.json"), user="big-poison")
    produce(settings, [(key, CODEC.encode(poison), poison.event_id), (key, CODEC.encode(good), good.event_id)])
    n_obs = expected_observations([good])
    worker = worker_factory(settings)
    wait_for("good event scored", lambda: len(consume_all(settings, "metrics.scored", n_obs, 2.0)) >= n_obs, 90, worker)
    [dead] = wait_for("the dead letter", at_least(1, lambda: consume_all(settings, "dlq", 1, 2.0)), 30, worker)
    h = headers_of(dead)
    assert dead.value() is None and dead.key() == key
    assert h.get(H.VALUE_REFUSED) == "MSG_SIZE_TOO_LARGE" and h.get(H.EVENT_ID) == poison.event_id, h
    [raw] = [m for m in consume_all(settings, "webhooks.raw") if m.value() == CODEC.encode(poison)]
    assert h[H.ORIGINAL_TOPIC] == settings.topic("webhooks.raw")
    assert (int(h[H.ORIGINAL_PARTITION]), int(h[H.ORIGINAL_OFFSET])) == (raw.partition(), raw.offset())
    assert set(H.FAILURE_HEADERS) <= set(h)
    time.sleep(2)
    assert len(consume_all(settings, "dlq")) == 1


def test_transient_failure_recovers_through_retry_topic(
    kafka_bootstrap: str, worker_factory: Any, payload_server: PayloadServer
) -> None:
    from tests.fix_kafka import make_settings
    from vitalstream.platform.topics import ensure_topics

    settings = make_settings(kafka_bootstrap, retry_delays_s=[0.5, 1.0, 2.0])
    assert not ensure_topics(settings).problems
    body = example("body__body.json")
    payload_server.files["payload"] = orjson.dumps(body)
    payload_server.fail_next["payload"] = 1
    ping = raw_webhook(
        {"type": "s3_payload", "status": "success", "url": payload_server.url("payload"), "expires_in": 600}
    )
    produce_raw(settings, [ping])
    n_obs = expected_observations([raw_webhook(body)])
    worker = worker_factory(settings)
    wait_for(
        "scored after retry", lambda: len(consume_all(settings, "metrics.scored", n_obs, 2.0)) >= n_obs, 90, worker
    )
    ledger = wait_for("ledger", lambda: decoded(settings, "events.ledger", EventOutcome, 1, 2.0), 30, worker)
    assert payload_server.requests["payload"] == 2
    retried = consume_all(settings, "retry.5s")
    assert len(retried) == 1
    h = headers_of(retried[0])
    assert h[H.ATTEMPTS] == "1" and h[H.ERROR_CLASS] == "DownloadUnavailableError"
    assert h[H.EVENT_ID] == ping.event_id and "http" not in h[H.ERROR_MESSAGE]
    assert [(o.event_id, o.outcome) for o in ledger] == [(ping.event_id, "processed")]
    assert consume_all(settings, "dlq") == []
    assert len(consume_all(settings, "metrics.scored")) == n_obs


def _state_summary(states: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """What must not depend on when/how often scoring ran: history, providers, dedup keys, winner identity."""
    return {
        k: (
            s["n"],
            round(s["m"], 6),
            round(s["q"], 6),
            s["p"],
            sorted(s["d"]),
            None if s["w"] is None else (s["w"][0], s["w"][4], s["w"][5]),
        )
        for k, s in states.items()
    }


def test_kill_restart_restores_tables_and_replay_rebuilds_same_state(settings: Settings, worker_factory: Any) -> None:
    first = [
        raw_webhook(example(n), user=f"user-{i}")
        for i, n in enumerate(["body__body.json", "daily__daily.json", "sleep__sleep.json"])
    ]
    produce_raw(settings, first)
    n_first = expected_observations(first)
    worker = worker_factory(settings, "data1")
    wait_for(
        "first batch scored", lambda: len(consume_all(settings, "metrics.scored", n_first, 2.0)) >= n_first, 90, worker
    )
    worker.kill()  # SIGKILL: whatever was not committed is processed again
    second = [raw_webhook(example("activity__activity.json"), user="user-9")]
    resent = RawWebhook(**{**first[1].to_avro(), "received_at": datetime.now(UTC)})
    produce_raw(settings, [*second, resent])
    n_total = n_first + expected_observations(second)
    worker2 = worker_factory(settings, "data2")  # fresh datadir: tables come from the changelogs
    wait_for(
        "second batch scored",
        lambda: (
            len(
                {
                    (s.observation.event_id, s.observation.metric, s.observation.measured_at)
                    for s in decoded(settings, "metrics.scored", ScoredObservation, n_total, 2.0)
                }
            )
            >= n_total
        ),
        90,
        worker2,
    )
    wait_for("raw consumed", lambda: _group_caught_up(settings, "webhooks.raw"), 30, worker2)
    wait_for("normalized consumed", lambda: _group_caught_up(settings, "metrics.normalized"), 30, worker2)
    assert worker2.stop() == 0

    app_id = settings.group_prefix + "worker"
    states = changelog_states(settings, app_id, "confidence")
    normalized = [CODEC.decode(m.value() or b"") for m in consume_all(settings, "metrics.normalized")]
    distinct = Counter(
        f"{o.subject}|{o.metric}"
        for o in {(o.event_id, o.metric, o.measured_at): o for o in normalized}.values()  # type: ignore[attr-defined]
    )  # type: ignore[attr-defined]
    assert {k: s["n"] for k, s in states.items()} == {k: n for k, n in distinct.items() if k in states}
    assert sum(s["n"] for s in states.values()) <= n_total
    quality: dict[str, QualityDaily] = {}
    for m in consume_all(settings, "metrics.quality_daily"):
        quality[(m.key() or b"").decode()] = CODEC.decode_as(m.value() or b"", QualityDaily)
    assert sum(q.count for q in quality.values()) == n_total, "no observation counted twice"

    # Replaying metrics.normalized from the start into a new generation yields the same table.
    env = WorkerProcess(settings, settings_dir := Path(str(worker2.datadir) + "-recompute"), worker2.log).env()
    settings_dir.mkdir()
    code = (
        "from streams.recompute import recompute; from vitalstream.platform.settings import Settings; "
        "print(recompute(Settings(), switch_wait_s=0).app_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, check=True, timeout=120, capture_output=True, text=True
    )
    recompute_id = done.stdout.strip().splitlines()[-1]
    assert recompute_id.startswith(settings.group_prefix + "worker-g")
    rebuilt = changelog_states(settings, recompute_id, "confidence")
    assert _state_summary(rebuilt) == _state_summary(states)
