"""Personal fields of the contract and masking them (design §4, §10.7).

The field list is data, ``schemas/personal_fields.json``, derived from Terra's JSON
schemas by ``scripts/personal_fields.py`` (names, e-mail, bio, reference id, date of birth,
places and coordinates, free text, device serial numbers, presigned URLs), plus fields no
Terra schema has but a Standard Webhooks source may send (phone, address, tokens, …).
``vitalstream dlq show`` and ``vitalstream tail`` print payloads through :func:`mask`; the
log redactor drops the same keys.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

MASK = "***"
CREDENTIAL_MARKERS = ("secret", "password", "token", "signature", "authorization")
"""Any key containing one of these is masked, whatever its exact spelling."""


@cache
def personal_fields() -> frozenset[str]:
    """Every personal field name (lowercase): the schema-derived ones and the extra ones."""
    data = json.loads(resources.files("schemas").joinpath("personal_fields.json").read_text())
    names = set(data["fields"])
    for extra in data["extra"].values():
        names.update(extra)
    return frozenset(n.lower() for n in names)


def is_personal(key: str) -> bool:
    lowered = key.lower()
    return lowered in personal_fields() or any(marker in lowered for marker in CREDENTIAL_MARKERS)


def mask(value: Any) -> Any:
    """``value`` with the value of every personal key (however deep, whatever its type) replaced by ``***``."""
    if isinstance(value, dict):
        return {k: (MASK if is_personal(str(k)) else mask(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value
