"""Every schema stays backward compatible with its previous released version.

``schemas/avro/released/<version>/`` holds each released contract. Data written with the
previous version must be readable with the current schema (new fields need defaults),
and the current schema must not drop a field the previous one had without a default.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import fastavro
import pytest

from schemas.codec import SCHEMA_FILES, parsed_schemas

AVRO = Path(__file__).resolve().parents[2] / "schemas" / "avro"
RELEASES = sorted(p for p in (AVRO / "released").iterdir() if p.is_dir())


def _parse(directory: Path) -> dict[str, Any]:
    named: dict[str, Any] = {}
    return {
        n: fastavro.parse_schema(json.loads((directory / f).read_text()), named_schemas=named)
        for n, f in SCHEMA_FILES.items()
        if (directory / f).exists()
    }


def _example(schema: Any, named: dict[str, Any] | None = None) -> Any:
    """A minimal valid datum for a parsed schema (defaults where given)."""
    named = named if named is not None else _parse(AVRO)
    if isinstance(schema, list):
        return None if "null" in schema else _example(schema[0], named)
    if isinstance(schema, str):
        if "." in schema:
            return _example(named[schema.rsplit(".", 1)[1]], named)
        return {
            "string": "x",
            "bytes": b"x",
            "long": 1,
            "int": 1,
            "double": 1.0,
            "float": 1.0,
            "boolean": True,
            "null": None,
        }[schema]
    t = schema["type"]
    if t == "record":
        return {f["name"]: f["default"] if "default" in f else _example(f["type"], named) for f in schema["fields"]}
    if t == "map":
        return {"k": _example(schema["values"], named)}
    if t == "array":
        return [_example(schema["items"], named)]
    if schema.get("logicalType") == "date":
        return 20000
    return _example(t, named)


def test_there_is_a_release() -> None:
    assert RELEASES, "schemas/avro/released/<version>/ must hold the last released contract"


@pytest.mark.parametrize("name", list(SCHEMA_FILES))
def test_every_schema_is_in_the_last_release(name: str) -> None:
    assert (RELEASES[-1] / SCHEMA_FILES[name]).exists(), (
        f"{name} is new since {RELEASES[-1].name}: add it to a new release folder when releasing"
    )


RELEASED = [(r, n) for r in RELEASES for n, f in SCHEMA_FILES.items() if (r / f).exists()]


@pytest.mark.parametrize(("release", "name"), RELEASED, ids=[f"{r.name}-{n}" for r, n in RELEASED])
def test_released_version_readable_with_current(release: Path, name: str) -> None:
    old = _parse(release)[name]
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, old, _example(old))
    buf.seek(0)
    fastavro.schemaless_reader(buf, old, parsed_schemas()[name])


@pytest.mark.parametrize(("release", "name"), RELEASED, ids=[f"{r.name}-{n}" for r, n in RELEASED])
def test_new_fields_have_defaults(release: Path, name: str) -> None:
    previous = json.loads((release / SCHEMA_FILES[name]).read_text())
    current = json.loads((AVRO / SCHEMA_FILES[name]).read_text())
    old_fields = {f["name"] for f in previous["fields"]}
    for field in current["fields"]:
        if field["name"] not in old_fields:
            assert "default" in field, f"{name}.{field['name']} is new and needs a default"
