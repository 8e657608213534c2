"""``vitalstream health``: the gateway's whole health document, or the same document computed here.

The gateway shows ``checks`` only to a caller presenting the admin token, so the request
carries ``VITALSTREAM_ADMIN_TOKEN`` when it is set. Without a token, or when the gateway does
not answer, the document is computed here from Kafka and PostgreSQL directly.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

from vitalstream.health import compute
from vitalstream.platform.settings import Settings


def fetch(url: str, token: str | None) -> tuple[bool, dict[str, Any] | None]:
    """(the gateway answered, its document when it is the whole one)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            doc = dict(json.load(resp))
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code != 503:
                return True, None
            doc = dict(json.load(exc))
    except (urllib.error.URLError, OSError, ValueError):
        return False, None
    return True, doc if "checks" in doc else None


def print_health(settings: Settings, url: str | None) -> int:
    base = url or f"http://{settings.gateway_host}:{settings.gateway_port}"
    token = settings.admin_token.get_secret_value() if settings.admin_token else None
    reachable, doc = fetch(base.rstrip("/") + "/health", token)
    if doc is None:

        async def gateway_answered() -> bool:
            return reachable

        doc = asyncio.run(compute(settings, gateway_probe=gateway_answered))
    print(json.dumps(doc, indent=2))
    return 1 if doc.get("status") == "unhealthy" else 0
