"""Hostile senders on the real pipeline (gateway, worker, sink; real Kafka and PostgreSQL).

A correctly signed Standard Webhooks source (``acme``) can act only on its own users
(design §4), and nothing it or anyone else sends — bad signatures, admin calls, poison,
personal data — puts a secret or a personal value into a log line (design §10.7).
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from gateway.signatures import standard_headers, terra_header
from tests.fix_pipeline import Pipeline

DATA = Path(__file__).resolve().parents[1] / "data" / "terra"


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: an unclosed one warns whenever it is collected
            return int(exc.code)


def send_terra(p: Pipeline, doc: dict[str, Any], secret: str | None = None) -> int:
    body = orjson.dumps(doc)
    headers = {"terra-signature": terra_header(secret or p.terra_secret, int(time.time()), body)}
    return post(f"{p.gateway_url}/webhooks/terra", body, {**headers, "X-Terra-Trace-Id": uuid.uuid4().hex})


def send_acme(p: Pipeline, doc: dict[str, Any], secret: str | None = None) -> int:
    body = orjson.dumps(doc)
    whsec = secret or p.settings.webhook_secrets["acme"].get_secret_value()
    return post(
        f"{p.gateway_url}/webhooks/acme", body, standard_headers(whsec, uuid.uuid4().hex, int(time.time()), body)
    )


def weighing(user: dict[str, Any], kg: float, day: str) -> dict[str, Any]:
    item = {
        "metadata": {"start_time": f"{day}T00:00:00+00:00", "end_time": f"{day}T23:59:59+00:00"},
        "measurements_data": {"measurements": [{"measurement_time": f"{day}T07:00:00+00:00", "weight_kg": kg}]},
        "device_data": {"name": "Jane's Apple Watch", "manufacturer": "Apple"},
    }
    return {"type": "body", "user": user, "data": [item]}


def latest(p: Pipeline) -> dict[str, tuple[float, str | None]]:
    with p.db() as conn:
        rows = conn.execute("SELECT subject, value, user_id FROM latest_metrics WHERE metric = 'body_weight'")
        return {r[0]: (r[1], r[2]) for r in rows}


def connections(p: Pipeline) -> list[tuple[str, str]]:
    with p.db() as conn:
        return [(r[0], r[1]) for r in conn.execute("SELECT user_id, status FROM provider_connections ORDER BY 1")]


def processed(p: Pipeline, count: int) -> bool:
    with p.db() as conn:
        row = conn.execute("SELECT count(*) FROM ingested_events WHERE outcome IN ('processed', 'ignored')").fetchone()
    return row is not None and row[0] >= count


def test_a_signed_source_acts_only_on_its_own_users(pipeline: Pipeline) -> None:
    p = pipeline
    tag = uuid.uuid4().hex[:6]
    alice = {"user_id": f"t-alice-{tag}", "provider": "WITHINGS", "reference_id": f"alice-{tag}"}
    bob = {"user_id": f"t-bob-{tag}", "provider": "GARMIN", "reference_id": None}
    assert send_terra(p, weighing(alice, 61.0, "2026-07-01")) == 202
    assert send_terra(p, weighing(bob, 82.0, "2026-07-01")) == 202
    terra_rows = {alice["reference_id"]: (61.0, alice["user_id"]), f"terra:{bob['user_id']}": (82.0, bob["user_id"])}
    p.wait_for(lambda: terra_rows.items() <= latest(p).items(), 90, "the Terra users' rows")

    # signed acme deauths naming the Terra users: they purge acme's namespace, never Terra's
    assert send_acme(p, {"type": "deauth", "user": alice}) == 202
    assert send_acme(p, {"type": "deauth", "user": bob}) == 202
    p.wait_for(lambda: len(connections(p)) == 2, 60, "the acme deauths to be applied")
    assert terra_rows.items() <= latest(p).items(), "an acme deauth purged a Terra user"
    assert connections(p) == [(f"acme:{alice['user_id']}", "deauthorized"), (f"acme:{bob['user_id']}", "deauthorized")]

    # acme data carrying alice's reference id (newer, so it would win her key): lands on acme's own subject
    carol = {"user_id": f"a-carol-{tag}", "provider": "OURA", "reference_id": alice["reference_id"]}
    assert send_acme(p, weighing(carol, 99.0, "2026-07-03")) == 202
    acme_alice = f"acme:{alice['reference_id']}"
    p.wait_for(lambda: acme_alice in latest(p), 60, "acme's own row")
    assert latest(p)[acme_alice] == (99.0, f"acme:{carol['user_id']}")
    assert terra_rows.items() <= latest(p).items(), "acme data overwrote a Terra user's latest value"

    # an acme reauth of a Terra user id re-keys nothing of Terra's; acme's deauth of its own user purges it
    assert send_acme(p, {"type": "user_reauth", "old_user": bob, "new_user": {**bob, "user_id": f"m-{tag}"}}) == 202
    assert send_acme(p, {"type": "deauth", "user": carol}) == 202
    p.wait_for(lambda: acme_alice not in latest(p) and len(connections(p)) == 4, 60, "acme's own user to be purged")
    assert terra_rows.items() <= latest(p).items()
    with p.db() as conn:
        observations = conn.execute("SELECT subject, user_id, device FROM observations").fetchall()
    assert sorted((s, u) for s, u, _ in observations) == sorted((s, u) for s, (_, u) in terra_rows.items())
    assert {d for _, _, d in observations} == {"Apple Watch"}
    assert all(user.startswith("acme:") for user, _ in connections(p))


def admin(p: Pipeline, token: str | None, path: str = "/admin/dlq", body: bytes | None = None) -> int:
    url = f"http://127.0.0.1:{p.env['VITALSTREAM_ADMIN_PORT']}{path}"
    req = urllib.request.Request(url, data=body, method="POST" if body is not None else "GET")
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        with exc:  # it holds the connection: an unclosed one warns whenever it is collected
            return int(exc.code)


def test_no_secret_or_personal_value_reaches_a_log_line(pipeline: Pipeline) -> None:
    p = pipeline
    whsec = p.settings.webhook_secrets["acme"].get_secret_value()
    token = p.settings.admin_token.get_secret_value() if p.settings.admin_token else ""
    athlete = orjson.loads((DATA / "full_athlete.json").read_bytes())
    personal = [str(v) for v in athlete["athlete"].values() if isinstance(v, str) and len(v) >= 4]

    # 401s: a wrong Terra secret, a tampered body under a real signature, a wrong whsec key
    assert send_terra(p, athlete, secret="not-the-terra-secret") == 401
    body = orjson.dumps(athlete)
    real = terra_header(p.terra_secret, int(time.time()), body)
    assert post(f"{p.gateway_url}/webhooks/terra", body + b" ", {"terra-signature": real}) == 401
    assert send_acme(p, athlete, secret="whsec_" + "QUFB" * 8) == 401
    # accepted: personal data through both schemes, poison that quotes personal values
    assert send_terra(p, athlete) == 202
    assert send_acme(p, athlete) == 202
    poison = {"type": "body", "user": {"user_id": personal[0], "email": personal[1]}, "data": personal}
    assert send_terra(p, poison) == 202  # no provider: dead-lettered
    assert send_acme(p, {"type": personal[1], "user": {"user_id": personal[2]}}) == 202
    # admin calls: no token, a wrong one, the right one, bad input
    assert admin(p, None) == 401
    assert admin(p, "wrong-" + token) == 401
    assert admin(p, token) == 200
    assert admin(p, token, "/admin/dlq/replay", b'{"since": "' + personal[3].encode() + b'"}') in (400, 500)
    p.wait_for(lambda: processed(p, 3), 60, "the events to be processed")
    for service in list(p.pids):
        p.stop(service)

    db_url = p.settings.database_dsn()
    secrets = {
        "terra secret": p.terra_secret,
        "whsec key": whsec.removeprefix("whsec_"),
        "admin token": token,
        "wrong admin token": "wrong-" + token,
        "database URL": db_url,
    }
    password = urlsplit(db_url).password
    if password:
        secrets["database password"] = password
    leaks: list[str] = []
    for service in ("gateway", "worker", "sink"):
        text = p.log(service).read_text(errors="replace")
        assert text.strip(), f"{service} logged nothing"
        leaks += [f"{service}: {what}" for what, value in secrets.items() if value and value in text]
        leaks += [f"{service}: personal {value!r}" for value in personal if value in text]
        leaks += [f"{service}: Terra signature" for _ in [real] if real.split("v1=", 1)[1] in text]
    assert leaks == []
