"""The earlier design, built faithfully as the freshness ceiling of ``vitalstream bench e2e`` (design §11).

- ``webhook-terra``: an HTTP handler that verifies the Terra signature and inserts the
  delivery into ``terra_webhooks_raw``; a trigger enqueues a ``background_jobs`` row.
- ``job-worker``: polls ``background_jobs`` (``SELECT … FOR UPDATE SKIP LOCKED``, 100 at a
  time, every second when idle), normalizes each payload and writes ``unified_metrics``.
- ``latest_unified_metrics``: a materialized view refreshed every 5 minutes.

A row accepted at *t* is visible at the end of the first refresh that starts after its job
committed, so with a 300 s period freshness is spread over 0–300 s plus job lag and refresh
time. Full mode measures that for real (a 300 s load, the refresher on its 300 s schedule, the
view polled every ~10 ms). ``--quick`` cannot wait five minutes: it measures the real job lag
of every row and the real duration of a refresh, then computes each row's freshness for
every phase of the refresh schedule (1 s steps): job lag + wait for the next refresh + refresh.

Run by ``vitalstream bench``; ``python baseline.py serve|work|refresh …`` are its processes.
"""

from __future__ import annotations

import secrets
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

PERIOD_S = 300.0
POLL_IDLE_S = 1.0
BATCH = 100
VIEW_SQL = "SELECT DISTINCT subject FROM latest_unified_metrics WHERE subject = ANY(%s)"

SCHEMA = """
CREATE TABLE terra_webhooks_raw (
    id          bigserial PRIMARY KEY,
    trace_id    text UNIQUE,
    payload     jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE background_jobs (
    id           bigserial PRIMARY KEY,
    job_type     text NOT NULL,
    webhook_id   bigint NOT NULL REFERENCES terra_webhooks_raw (id),
    status       text NOT NULL DEFAULT 'pending',
    attempts     int NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    completed_at timestamptz,
    error        text
);
CREATE INDEX background_jobs_pending_idx ON background_jobs (id) WHERE status = 'pending';
CREATE FUNCTION enqueue_webhook_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO background_jobs (job_type, webhook_id) VALUES ('process_webhook', NEW.id);
    RETURN NEW;
END $$;
CREATE TRIGGER terra_webhooks_raw_enqueue AFTER INSERT ON terra_webhooks_raw
    FOR EACH ROW EXECUTE FUNCTION enqueue_webhook_job();
CREATE TABLE unified_metrics (
    id          bigserial PRIMARY KEY,
    subject     text NOT NULL,
    metric      text NOT NULL,
    value       double precision NOT NULL,
    unit        text NOT NULL,
    measured_at timestamptz NOT NULL,
    provider    text NOT NULL,
    event_id    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX unified_metrics_key_idx ON unified_metrics (subject, metric, measured_at DESC);
CREATE MATERIALIZED VIEW latest_unified_metrics AS
    SELECT DISTINCT ON (subject, metric) subject, metric, value, unit, measured_at, provider, event_id
    FROM unified_metrics ORDER BY subject, metric, measured_at DESC;
CREATE UNIQUE INDEX latest_unified_metrics_key ON latest_unified_metrics (subject, metric);
"""


def search_path_url(url: str, schema: str) -> str:
    from vitalstream.bench.stack import with_search_path

    return with_search_path(url, schema)


def create_schema(url: str) -> str:
    schema = f"baseline_{secrets.token_hex(3)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    with psycopg.connect(search_path_url(url, schema), autocommit=True) as conn:
        conn.execute(SCHEMA)
    return schema


# ----------------------------------------------------------------------------- webhook-terra


def serve(port: int, url: str, secret: str) -> None:
    from aiohttp import web
    from psycopg_pool import AsyncConnectionPool

    from gateway.signatures import SignatureError, TerraVerifier

    verifier = TerraVerifier([secret], 300)
    pool_key = web.AppKey("pool", AsyncConnectionPool)

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        try:
            verifier.verify(request.headers.get("terra-signature"), body, time.time())
        except SignatureError as exc:
            return web.json_response({"error": exc.code}, status=401)
        async with request.app[pool_key].connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO terra_webhooks_raw (trace_id, payload) VALUES (%s, %s::jsonb) "
                    "ON CONFLICT (trace_id) DO NOTHING RETURNING id",
                    (request.headers.get("x-terra-trace-id"), body.decode()),
                )
            ).fetchone()
        return web.json_response({"success": True, "id": row[0] if row else None})

    async def lifecycle(app: web.Application) -> Any:
        pool = AsyncConnectionPool(url, min_size=8, max_size=16, open=False, kwargs={"autocommit": True})
        await pool.open()
        app[pool_key] = pool
        yield
        await pool.close()

    app = web.Application()
    app.router.add_post("/webhooks/terra", webhook)
    app.cleanup_ctx.append(lifecycle)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


# ----------------------------------------------------------------------------- job-worker


def _metrics(job_webhook: tuple[int, str | None, Any]) -> list[tuple[Any, ...]]:
    import orjson

    from schemas.records import RawWebhook
    from streams.normalize import normalize

    webhook_id, trace_id, payload = job_webhook
    body = orjson.dumps(payload)
    raw = RawWebhook(
        event_id=trace_id or str(webhook_id),
        source="terra",
        received_at=datetime.now(UTC),
        idempotency_key=trace_id or str(webhook_id),
        body=body,
    )
    return [
        (o.subject, o.metric, o.value, o.unit, o.measured_at, o.provider, o.event_id)
        for o in normalize(raw, payload).observations
    ]


def work(url: str) -> None:
    with psycopg.connect(url) as conn:
        while True:
            with conn.transaction():
                jobs = conn.execute(
                    "SELECT j.id, w.id, w.trace_id, w.payload FROM background_jobs j "
                    "JOIN terra_webhooks_raw w ON w.id = j.webhook_id "
                    "WHERE j.status = 'pending' ORDER BY j.id LIMIT %s FOR UPDATE OF j SKIP LOCKED",
                    (BATCH,),
                ).fetchall()
                rows = [m for job in jobs for m in _metrics((job[1], job[2], job[3]))]
                if rows:
                    with conn.cursor() as cur:
                        cur.executemany(
                            "INSERT INTO unified_metrics (subject, metric, value, unit, measured_at, "
                            "provider, event_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                            rows,
                        )
                if jobs:
                    conn.execute(
                        "UPDATE background_jobs SET status = 'completed', attempts = attempts + 1, "
                        "completed_at = clock_timestamp() WHERE id = ANY(%s)",
                        ([j[0] for j in jobs],),
                    )
            if not jobs:
                time.sleep(POLL_IDLE_S)


# ----------------------------------------------------------------------------- refresher


def refresh_once(url: str) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        started = time.monotonic()
        conn.execute("REFRESH MATERIALIZED VIEW latest_unified_metrics")
        return time.monotonic() - started


def refresh_every(url: str, period_s: float) -> None:
    nxt = time.monotonic() + period_s
    while True:
        time.sleep(max(0.0, nxt - time.monotonic()))
        refresh_once(url)
        nxt += period_s


# ----------------------------------------------------------------------------- measurement


def computed_freshness(
    accepted_wall: dict[int, float],
    done_wall: dict[int, float],
    refresh_s: float,
    period_s: float = PERIOD_S,
    max_rows: int = 5000,
) -> list[float]:
    """Freshness (s) of every (row, refresh phase) pair, phases 1 s apart over one period."""
    rows = sorted(set(accepted_wall) & set(done_wall))
    step = max(1, len(rows) // max_rows)
    out: list[float] = []
    for i in rows[::step]:
        lag = done_wall[i] - accepted_wall[i]
        out += [lag + ((phase - done_wall[i]) % period_s) + refresh_s for phase in range(int(period_s))]
    return out


def _wait_jobs(url: str, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    pending = -1
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute("SELECT count(*) FROM background_jobs WHERE status = 'pending'").fetchone()
            pending = int(row[0]) if row else -1
            if pending == 0:
                return 0
            time.sleep(0.2)
    return pending


def _done_times(url: str, run: str) -> dict[int, float]:
    from vitalstream.bench import payloads

    prefix = payloads.trace_id(run, 0)[:-9]
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT w.trace_id, extract(epoch FROM j.completed_at) FROM background_jobs j "
            "JOIN terra_webhooks_raw w ON w.id = j.webhook_id WHERE j.status = 'completed' AND w.trace_id LIKE %s",
            (prefix + "%",),
        ).fetchall()
    return {int(str(t)[len(prefix) :]): float(ts) for t, ts in rows}


def bench_baseline(
    root: Path,
    database_url: str,
    secret: str,
    quick: bool,
    progress: Callable[[str, dict[str, Any]], None],
    rate: float = 1000.0,
) -> dict[str, Any]:
    from vitalstream.bench.freshness import VisibilityPoller, freshness
    from vitalstream.bench.loadgen import LoadSpec, run_load
    from vitalstream.bench.stats import summary
    from vitalstream.stack import proc
    from vitalstream.stack.ports import free_port, wait_port

    schema = create_schema(database_url)
    url = search_path_url(database_url, schema)
    port = free_port()
    me = str(Path(__file__).resolve())
    logs = root / "logs"
    pids = [
        proc.spawn([sys.executable, me, "serve", str(port), url, secret], logs / "baseline-serve.log"),
        proc.spawn([sys.executable, me, "work", url], logs / "baseline-work.log"),
    ]
    try:
        if not wait_port(port, timeout_s=30):
            raise RuntimeError(f"the baseline webhook handler did not start: see {logs / 'baseline-serve.log'}")
        run_load(LoadSpec("127.0.0.1", port, 50, 1.0, secret, uuid.uuid4().hex[:8]))  # warm-up
        run = uuid.uuid4().hex[:8]
        duration = 15.0 if quick else PERIOD_S
        spec = LoadSpec("127.0.0.1", port, rate, duration, secret, run, unique_subjects=True, connections=128)
        offset = time.time() - time.monotonic()
        if quick:
            result = run_load(spec)
            pending = _wait_jobs(url, 120.0)
            accepted = dict(result.accepted())
            done = _done_times(url, run)
            refresh_s = refresh_once(url)
            poller = VisibilityPoller(url, VIEW_SQL, run, rate, spec.total)
            poller.begin(time.monotonic() - duration - 1)  # everything is due: one probe sweep
            visible_after_refresh = poller.wait_for(set(accepted), 30.0)
            poller.stop()
            ages = computed_freshness({i: t + offset for i, t in accepted.items()}, done, refresh_s)
            lags_ms = [(done[i] - (t + offset)) * 1000 for i, t in accepted.items() if i in done]
            fresh: dict[str, Any] = {
                "method": "computed: measured job lag + measured refresh time + wait for the next 300 s refresh, "
                "over every refresh phase (1 s steps)",
                "accepted": len(accepted),
                "jobs_done": len(done),
                "jobs_pending_after_120s": pending,
                "rows_visible_after_one_real_refresh": visible_after_refresh,
                "job_lag_ms": summary(lags_ms, digits=1),
                "refresh_s": round(refresh_s, 3),
                "freshness_s": summary(ages, digits=2),
            }
        else:
            pids.append(proc.spawn([sys.executable, me, "refresh", url, str(PERIOD_S)], logs / "baseline-refresh.log"))
            poller = VisibilityPoller(url, VIEW_SQL, run, rate, spec.total)
            try:
                result = run_load(spec, on_start=poller.begin)
                poller.wait_for({i for i, _ in result.accepted()}, PERIOD_S + 60)
            finally:
                poller.stop()
            fresh = {
                "method": "measured: 300 s load, refresher on its 300 s schedule, view polled every ~10 ms",
                **freshness(result.accepted(), poller.seen),
            }
            ms = fresh.pop("freshness_ms")
            fresh["freshness_s"] = {k: (round(v / 1000, 2) if v is not None else None) for k, v in ms.items()}
        load = result.report()
        load.pop("routes", None)
    finally:
        for pid in pids:
            proc.stop(pid, timeout_s=10)
    f = fresh["freshness_s"]
    out = {
        "what": "earlier design: webhook table + trigger-enqueued job table polled with FOR UPDATE SKIP LOCKED "
        "+ materialized view refreshed every 300 s",
        "rate": rate,
        "duration_s": duration,
        "refresh_period_s": PERIOD_S,
        **fresh,
        "load": load,
        "freshness_p50_s": f["p50"],
        "freshness_p99_s": f["p99"],
    }
    progress("baseline", out)
    return out


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "serve":
        serve(int(argv[1]), argv[2], argv[3])
    elif command == "work":
        work(argv[1])
    elif command == "refresh":
        refresh_every(argv[1], float(argv[2]))
    else:
        raise SystemExit(f"unknown command {command!r}: serve|work|refresh")


if __name__ == "__main__":
    main(sys.argv[1:])
