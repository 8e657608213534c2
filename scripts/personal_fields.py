#!/usr/bin/env python3
"""Derive ``schemas/personal_fields.json`` from Terra's JSON schemas.

Walks every property of every schema (``../shared/reference/terra/schemas``, else the copy
in ``tests/data/terra/schemas``, or the directory given) and keeps those the rules below call
personal: who the user is, where they are, what they wrote, which device is theirs, and
credentials a payload can carry.
``vitalstream dlq show`` and ``vitalstream tail`` mask every field of the file;
``tests/unit/test_masking.py`` checks the file still matches the schemas.

    python scripts/personal_fields.py [SCHEMA_DIR] > schemas/personal_fields.json
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA_DIRS = (
    ROOT.parent / "shared/reference/terra/schemas",
    Path("/work/shared/reference/terra/schemas"),
    ROOT / "tests/data/terra/schemas",  # the copy the coverage contract's test walks
)

EXACT = {
    "identity": {
        "first_name",
        "last_name",
        "email",
        "bio",
        "date_of_birth",
        "age",
        "sex",
        "gender",
        "provider_user_id",
        "reference_id",
        "patient_sex",
        "patient_age_at_collection",
        "session_id",
        "widget_session_id",
    },
    "location": {"city", "state", "country", "summary_polyline", "polyline_map_data"},
    "free_text": {"name", "description", "notes", "note", "user_notes", "report_notes", "text", "filename"},
    "device": {"serial_number"},
    "credential": {"url", "presigned_url"},
}
SUFFIXES = {"location": ("_lat_lng_deg",), "free_text": ("_name",)}
EXTRA = {
    "identity": ["phone", "phone_number", "address", "street", "postal_code", "zip", "ip_address"],
    "credential": ["token", "access_token", "refresh_token", "secret", "password", "signature", "authorization"],
}
"""Not in Terra's schemas, but a Standard Webhooks source (or a future schema) may send them."""


def schema_dir(argv: list[str]) -> Path:
    if argv:
        return Path(argv[0])
    for candidate in SCHEMA_DIRS:
        if candidate.is_dir():
            return candidate
    raise SystemExit(f"no Terra schema directory found (tried {', '.join(map(str, SCHEMA_DIRS))}); pass one")


def properties(node: Any) -> Iterator[str]:
    """Every property name anywhere in a schema document."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for name, sub in props.items():
                yield str(name)
                yield from properties(sub)
        for key, sub in node.items():
            if key != "properties":
                yield from properties(sub)
    elif isinstance(node, list):
        for sub in node:
            yield from properties(sub)


def category(name: str) -> str | None:
    for cat, names in EXACT.items():
        if name in names:
            return cat
    for cat, suffixes in SUFFIXES.items():
        if name.endswith(suffixes):
            return cat
    return None


def derive(directory: Path) -> dict[str, Any]:
    fields: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        for name in properties(yaml.safe_load(path.read_text())):
            cat = category(name)
            if cat is not None:
                entry = fields.setdefault(name, {"category": cat, "schemas": []})
                if path.stem not in entry["schemas"]:
                    entry["schemas"].append(path.stem)
    return {
        "doc": "Personal fields of Terra's webhook schemas, derived by scripts/personal_fields.py; "
        "every one is masked by `vitalstream dlq show` and `vitalstream tail`.",
        "fields": dict(sorted(fields.items())),
        "extra": EXTRA,
    }


def main(argv: list[str]) -> None:
    sys.stdout.write(json.dumps(derive(schema_dir(argv)), indent=1) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
