"""The read API on the real pipeline (gateway, worker, sink as processes; Kafka; PostgreSQL),
served by its own process logged in as ``vitalstream_reader``."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import orjson
from fhir.resources.R4B.bundle import Bundle

from tests.api_helpers import ApiProcess, grants_of_reader, open_stream, start_api
from tests.fix_pipeline import Pipeline
from vitalstream.simulate import Delivery, build_payload, send_all

DAY0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=5)


def body_webhook(subject: str, day: datetime, seed: int) -> Delivery:
    doc = build_payload("body", "WITHINGS", f"user-{subject}", subject, day, random.Random(seed))
    return Delivery("body", "WITHINGS", subject, str(uuid.uuid4()), int(time.time() * 1000), orjson.dumps(doc))


def send(p: Pipeline, *items: Delivery) -> None:
    stats = asyncio.run(send_all(f"{p.gateway_url}/webhooks/terra", p.terra_secret, list(items), rate=100))
    assert stats.by_status.get(202) == len(items), stats.by_status


def latest_rows(p: Pipeline, subject: str) -> dict[str, dict[str, Any]]:
    with p.db() as conn:
        cur = conn.execute(
            "SELECT metric, value, unit, provider, confidence, level, measured_at FROM latest_metrics "
            "WHERE subject = %s",
            (subject,),
        )
        cols = [c.name for c in cur.description or []]
        return {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def settled(p: Pipeline, subject: str, after: datetime) -> None:
    """Until the subject's body weight is newer than ``after``."""

    def done() -> bool:
        rows = latest_rows(p, subject)
        return bool(rows) and rows["body_weight"]["measured_at"] > after

    p.wait_for(done, 60, f"latest_metrics of {subject} after {after:%Y-%m-%d %H:%M}")


def observations_settled(p: Pipeline, subject: str, quiet_s: float = 2.0) -> None:
    """Until the subject's observation count has not moved for ``quiet_s`` (a webhook's rows may span sink batches)."""

    def count() -> int:
        with p.db() as conn:
            row = conn.execute("SELECT count(*) FROM observations WHERE subject = %s", (subject,)).fetchone()
        return int(row[0]) if row else 0

    last, since = count(), time.monotonic()

    def quiet() -> bool:
        nonlocal last, since
        now = count()
        if now != last:
            last, since = now, time.monotonic()
        return time.monotonic() - since >= quiet_s

    p.wait_for(quiet, 60, f"the observations of {subject} to stop changing")


def _api_time(value: datetime) -> str:
    return str(orjson.loads(orjson.dumps(value, option=orjson.OPT_UTC_Z)))


def _as_api(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row[k] for k in ("metric", "value", "unit", "provider", "confidence", "level")}


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    content_type: str
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


async def _get(http: aiohttp.ClientSession, url: str, key: str | None, **headers: str) -> Answer:
    if key:
        headers["Authorization"] = f"Bearer {key}"
    async with http.get(url, headers=headers) as resp:
        return Answer(resp.status, resp.headers, resp.content_type, await resp.read())


async def scenario(p: Pipeline, api: ApiProcess, key_a: str, key_read: str) -> None:
    base = f"{api.url}/v1/subjects"
    async with aiohttp.ClientSession() as http:
        # values equal latest_metrics; ETag → 304
        resp = await _get(http, f"{base}/clinic-a-1/metrics", key_a)
        assert resp.status == 200 and resp.headers["Cache-Control"] == "private, max-age=0, must-revalidate"
        doc = resp.json()
        expected = latest_rows(p, "clinic-a-1")
        assert doc["subject"] == "clinic-a-1"
        assert {m["metric"]: {k: m[k] for k in _as_api(m)} for m in doc["metrics"]} == {
            k: _as_api(v) for k, v in expected.items()
        }
        etag = resp.headers["ETag"]
        assert (await _get(http, f"{base}/clinic-a-1/metrics", key_a, **{"If-None-Match": etag})).status == 304
        one = await _get(http, f"{base}/clinic-a-1/metrics/body_weight", key_a)
        assert one.json()["value"] == expected["body_weight"]["value"]

        # scopes: outside the globs is answered exactly like an unknown subject
        outside = await _get(http, f"{base}/clinic-b-1/metrics", key_a)
        unknown = await _get(http, f"{base}/clinic-a-nobody/metrics", key_a)
        assert outside.status == unknown.status == 404
        assert outside.body == unknown.body
        assert outside.content_type == "application/problem+json"
        forbidden = await _get(http, f"{api.url}/v1/stream?subject=clinic-a-1", key_read)
        assert forbidden.status == 403 and forbidden.content_type == "application/problem+json"
        assert (await _get(http, f"{base}/clinic-a-1/metrics", None)).status == 401

        # the live stream: snapshot, ready, then a change; then a drop, a change meanwhile, a resume
        async with open_stream(http, api.url, key_a, ["clinic-a-1"]) as sse:
            snapshot = await sse.until("ready")
            assert sse.response.headers["X-Accel-Buffering"] == "no"
            values = {orjson.loads(e.data)["metric"]: orjson.loads(e.data) for e in snapshot[:-1]}
            assert {k: _as_api(v) for k, v in values.items()} == {k: _as_api(v) for k, v in expected.items()}
            known = {k: v["measured_at"] for k, v in values.items()}
            await asyncio.to_thread(send, p, body_webhook("clinic-a-1", DAY0 + timedelta(days=1), 2))
            change = await sse.next(60)
            assert change.kind == "metric" and change.id is not None
            while True:  # the rest of that webhook's metrics
                data = orjson.loads(change.data)
                assert data["measured_at"] > known[data["metric"]]
                known[data["metric"]] = data["measured_at"]
                try:
                    change = await sse.next(3)
                except TimeoutError:
                    break
            assert sse.comments >= 1  # heartbeats (1 s in this test)
            last_id = sse.last_id
        await asyncio.to_thread(send, p, body_webhook("clinic-a-1", DAY0 + timedelta(days=2), 3))
        await asyncio.to_thread(settled, p, "clinic-a-1", datetime.fromisoformat(known["body_weight"]))
        now = {m: _api_time(r["measured_at"]) for m, r in latest_rows(p, "clinic-a-1").items()}
        for _ in range(50):  # the table may be ahead of this process's stream by a fetch: reconnect until caught up
            async with open_stream(http, api.url, key_a, ["clinic-a-1"], last_id) as sse:
                resumed = await sse.until("ready")
            changed = {orjson.loads(e.data)["metric"]: orjson.loads(e.data)["measured_at"] for e in resumed[:-1]}
            if changed.get("body_weight") == now["body_weight"]:
                break
            await asyncio.sleep(0.1)
        assert all(known[m] != at for m, at in changed.items())  # nothing repeated
        assert changed == {m: at for m, at in now.items() if known.get(m) != at}  # nothing lost

        # after new webhooks the old ETag no longer matches
        fresh = await _get(http, f"{base}/clinic-a-1/metrics", key_a, **{"If-None-Match": etag})
        assert fresh.status == 200 and fresh.headers["ETag"] != etag

        # history by keyset pages covers every observation once (once the sink has written them all)
        await asyncio.to_thread(observations_settled, p, "clinic-a-1")
        seen: list[tuple[str, str, str]] = []
        url = f"{base}/clinic-a-1/observations?limit=4"
        while True:
            page = (await _get(http, url, key_a)).json()
            seen += [(o["metric"], o["provider"], o["measured_at"]) for o in page["observations"]]
            if not page["next_cursor"]:
                break
            url = f"{base}/clinic-a-1/observations?limit=4&cursor={page['next_cursor']}"
        with p.db() as conn:
            total = conn.execute("SELECT count(*) FROM observations WHERE subject = 'clinic-a-1'").fetchone()
        assert len(seen) == len(set(seen)) == (total[0] if total else -1)
        bad = await _get(http, f"{base}/clinic-a-1/observations?limit=0", key_a)
        assert bad.status == 400 and "limit" in bad.json()["detail"]

        quality = (await _get(http, f"{base}/clinic-a-1/quality?since=2000-01-01", key_a)).json()
        assert sum(d["count"] for d in quality["days"]) == len(seen)

        # FHIR, validated by a FHIR model library
        fhir_resp = await _get(http, f"{api.url}/fhir/Observation?subject=clinic-a-1&code=29463-7", key_a)
        assert fhir_resp.content_type == "application/fhir+json"
        bundle = Bundle.model_validate_json(fhir_resp.body)
        assert bundle.total == 1 and bundle.entry[0].resource.code.coding[0].code == "29463-7"


def test_read_api_end_to_end(pipeline: Pipeline) -> None:
    p = pipeline
    send(p, body_webhook("clinic-a-1", DAY0, 1), body_webhook("clinic-b-1", DAY0, 1))
    settled(p, "clinic-a-1", DAY0 - timedelta(days=1))
    settled(p, "clinic-b-1", DAY0 - timedelta(days=1))
    api = start_api(p.env, p.workdir)
    try:
        assert grants_of_reader(p.env["VITALSTREAM_DATABASE_URL"]) == {
            (t, "SELECT") for t in ("latest_metrics", "observations", "data_quality_daily", "api_keys")
        }
        key_a = api.key("clinic-a", "--subjects", "clinic-a-*")
        key_read = api.key("reader-only", "--subjects", "*", "--scopes", "read")
        asyncio.run(scenario(p, api, key_a, key_read))

        api.cli("api-keys", "revoke", "clinic-a")
        assert "revoked" in api.cli("api-keys", "ls")

        async def revoked() -> int:
            async with aiohttp.ClientSession() as http:
                for _ in range(40):
                    resp = await _get(http, f"{api.url}/v1/subjects/clinic-a-1/metrics", key_a)
                    if resp.status == 401:
                        return 401
                    await asyncio.sleep(0.1)
                return resp.status

        assert asyncio.run(revoked()) == 401
        assert "vsk_" not in api.log.read_text()  # no key in the API's log
    finally:
        api.stop()
