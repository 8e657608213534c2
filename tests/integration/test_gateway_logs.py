"""The real gateway process's log holds no secret of any kind, whatever the requests carry.

Covers 401s (forged signatures, stray bearer tokens on webhook routes), admin calls (right and
wrong tokens), a Standard Webhooks source, the token-only ``/health`` and a failing database probe.
"""

from __future__ import annotations

import base64
import secrets
import time
from pathlib import Path

import aiohttp
import orjson

from gateway.signatures import standard_headers, terra_header
from tests.integration.test_gateway_memory import running_gateway
from vitalstream.platform.settings import Settings


async def test_gateway_log_holds_no_secret(settings: Settings, tmp_path: Path) -> None:
    terra = settings.terra_secrets[0].get_secret_value()
    whsec = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    admin = secrets.token_urlsafe(32)
    db_password = "pw" + secrets.token_hex(12)
    extra = {
        "VITALSTREAM_LOG_LEVEL": "INFO",
        "VITALSTREAM_WEBHOOK_SECRETS": f"acme={whsec}",
        "VITALSTREAM_ADMIN_TOKEN": admin,
        "VITALSTREAM_DATABASE_URL": f"postgresql://vs:{db_password}@127.0.0.1:1/vs",
    }
    sent_signatures: list[str] = []
    with running_gateway(settings, tmp_path, **extra) as gw:
        async with aiohttp.ClientSession() as http:
            body = orjson.dumps({"type": "body", "user": {"user_id": "u-log", "email": "ada@example.org"}})
            header = terra_header(terra, int(time.time()), body)
            sent_signatures.append(header.split("v1=")[1])
            ok = {"Content-Type": "application/json", "terra-signature": header, "X-Terra-Trace-Id": "t-log"}
            async with http.post(f"{gw.url}/webhooks/terra", data=body, headers=ok) as r:
                assert r.status == 202
            forged = terra_header("f" * 32, int(time.time()), body)
            bad = {**ok, "terra-signature": forged, "Authorization": f"Bearer {admin}"}
            async with http.post(f"{gw.url}/webhooks/terra", data=body, headers=bad) as r:
                assert r.status == 401
            sw = standard_headers(whsec, "msg_log", int(time.time()), body)
            sent_signatures.append(sw["webhook-signature"].split(",")[1])
            async with http.post(
                f"{gw.url}/webhooks/acme", data=body, headers={"Content-Type": "application/json", **sw}
            ) as r:
                assert r.status == 202
            async with http.post(
                f"{gw.url}/webhooks/acme", data=body + b" ", headers={"Content-Type": "application/json", **sw}
            ) as r:
                assert r.status == 401
            async with http.get(f"{gw.url}/health", headers={"Authorization": f"Bearer {admin}"}) as r:
                assert "checks" in await r.json()  # the database probe fails: its URL names no server
            async with http.get(f"{gw.url}/health", headers={"Authorization": f"Bearer {admin[:-1]}x"}) as r:
                assert r.status == 401
    log = gw.log.read_text()
    assert "admin_denied" in log and "signature_invalid" in log and "/webhooks/{source}" in log
    for value in (terra, whsec, whsec.removeprefix("whsec_"), admin, db_password, *sent_signatures, "ada@example.org"):
        assert value not in log, f"a secret of length {len(value)} is in the gateway log"
