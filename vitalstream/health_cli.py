"""``vitalstream health``: ask the gateway's /health; if it does not answer, compute the document here."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from vitalstream.health import compute
from vitalstream.platform.settings import Settings


def fetch(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return dict(json.load(resp))
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return dict(json.load(exc))
        return None
    except (urllib.error.URLError, OSError, ValueError):
        return None


def print_health(settings: Settings, url: str | None) -> int:
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    doc = fetch(base.rstrip("/") + "/health")
    if doc is None:

        async def gateway_down() -> bool:
            return False

        doc = asyncio.run(compute(settings, gateway_probe=gateway_down))
    print(json.dumps(doc, indent=2))
    return 1 if doc.get("status") == "unhealthy" else 0
