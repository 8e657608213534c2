"""The coverage contract (``schemas/terra_coverage.json``) against Terra's published schemas.

For each data type this walks Terra's JSON Schemas (``$ref``s resolved), lists every numeric
field path and checks that each is either mapped or listed as not mapped with a reason.
Then it runs the normalizer: once on a payload with every field filled (only declared
metrics may come out), and once per mapped field with only that field filled (its declared
metric must come out with the value times the declared factor). A new schema field, a
mapping that stopped working or a metric that appears from nowhere fails here.

The schemas are a copy in ``tests/data/terra/schemas`` (Apache-2.0, see its LICENSE), so the
test needs nothing outside the repository.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.records import RawWebhook
from schemas.vocabulary import VOCABULARY
from streams.normalize import normalize

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "tests" / "data" / "terra" / "schemas"
CONTRACT = json.loads((ROOT / "schemas" / "terra_coverage.json").read_text())
ROOTS = {
    "body": "Body.yaml",
    "daily": "Daily.yaml",
    "sleep": "Sleep.yaml",
    "activity": "Activity.yaml",
    "nutrition": "Nutrition.yaml",
    "menstruation": "Menstruation.yaml",
    "athlete": "Athlete.yaml",
    "lab_report.completed": "LabReportCompletedEvent.yaml",
}
DATA_TYPES = [t for t in ROOTS if t not in ("athlete", "lab_report.completed")]
DAY_START, DAY_END = "2026-07-01T00:00:00+00:00", "2026-07-02T00:00:00+00:00"
SAMPLE_TIME = "2026-07-01T12:00:00+00:00"
SENT = datetime(2026, 7, 3, tzinfo=UTC)
USER = {"user_id": "u-1", "provider": "GARMIN", "reference_id": "ref-1"}


@cache
def load(name: str) -> dict[str, Any]:
    return dict(yaml.safe_load((SCHEMAS / name).read_text()))


def resolve(node: dict[str, Any], doc: str) -> tuple[dict[str, Any], str]:
    """Follow ``$ref`` (another file, or ``#/...`` inside the current one)."""
    while "$ref" in node:
        ref = node["$ref"]
        if ref.startswith("#/"):
            target: Any = load(doc)
            for part in ref[2:].split("/"):
                target = target[part]
            node = target
        else:
            node, doc = load(ref), ref
    return node, doc


def alternatives(node: dict[str, Any], doc: str) -> Iterator[tuple[dict[str, Any], str]]:
    node, doc = resolve(node, doc)
    yield node, doc
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in node.get(key, []):
            yield from alternatives(sub, doc)


def types_of(node: dict[str, Any], doc: str) -> set[str]:
    out: set[str] = set()
    for alt, _ in alternatives(node, doc):
        t = alt.get("type")
        out.update(t if isinstance(t, list) else [t] if t else [])
        if "properties" in alt:
            out.add("object")
    return out


def children(node: dict[str, Any], doc: str) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(path suffix, child schema, its document) of an object/array/map node."""
    for alt, alt_doc in alternatives(node, doc):
        for name, sub in (alt.get("properties") or {}).items():
            yield f".{name}", sub, alt_doc
        for key in ("additionalProperties", "unevaluatedProperties"):
            if isinstance(alt.get(key), dict):
                yield ".*", alt[key], alt_doc
        if "items" in alt and "array" in types_of(alt, alt_doc):
            yield "[]", alt["items"], alt_doc


def numeric_paths(node: dict[str, Any], doc: str, path: str = "", depth: int = 0) -> set[str]:
    """Every numeric leaf below ``node`` (Terra's schemas are not recursive: depth is a guard)."""
    assert depth < 16, f"schema nesting too deep at {path}"
    out: set[str] = set()
    if types_of(node, doc) & {"number", "integer"}:
        out.add(path)
    for suffix, sub, sub_doc in children(node, doc):
        out |= numeric_paths(sub, sub_doc, (path + suffix).lstrip("."), depth + 1)
    return out


def schema_paths(type_: str) -> set[str]:
    return numeric_paths(load(ROOTS[type_]), ROOTS[type_])


def listed(path: str, patterns: dict[str, str]) -> bool:
    return any(re.fullmatch(re.escape(p).replace(r"\*", ".*"), path) for p in patterns)


def variants(entry: dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    return entry if isinstance(entry, list) else [entry]


# --- building payloads from the schema -------------------------------------------------------
def _string_value(name: str, path: str) -> str | None:
    if path in ("metadata.start_time", "start_time"):
        return DAY_START
    if path in ("metadata.end_time", "end_time"):
        return DAY_END
    if name.endswith(("time", "timestamp")) or name == "timestamp":
        return SAMPLE_TIME
    return None


def build(node: dict[str, Any], doc: str, values: dict[str, float], fill_all: bool, path: str = "") -> Any:
    """A JSON value for ``node``: numbers from ``values`` (or 1 for every number when
    ``fill_all``), times where a name says so, one item per array; ``None`` when empty."""
    kinds = types_of(node, doc)
    if kinds & {"number", "integer"} and path in values:
        return values[path]
    if kinds & {"number", "integer"} and fill_all:
        return 1
    if "object" in kinds or "array" in kinds:
        obj: dict[str, Any] = {}
        item: Any = None
        for suffix, sub, sub_doc in children(node, doc):
            child = (path + suffix).lstrip(".")
            if suffix == "[]":
                item = build(sub, sub_doc, values, fill_all, child)
                continue
            name = suffix[1:]
            value = build(sub, sub_doc, values, fill_all, child)
            if value is None and "string" in types_of(sub, sub_doc):
                value = _string_value(name, child)
            if value is not None:
                obj["x" if name == "*" else name] = value
        if "array" in kinds and item is not None:
            return [item]
        return obj or None
    return None


def parent_of(payload: dict[str, Any], path: str) -> dict[str, Any]:
    node: Any = payload
    for part in re.split(r"\.", path)[:-1]:
        name, is_array = part.removesuffix("[]"), part.endswith("[]")
        node = node[name]
        if is_array:
            node = node[0]
    return dict(node) if not isinstance(node, dict) else node


def event(type_: str, item: dict[str, Any]) -> dict[str, Any]:
    item.setdefault("metadata", {})
    item["metadata"].update({"start_time": DAY_START, "end_time": DAY_END})
    return {"type": type_, "version": "2022-03-16", "user": USER, "data": [item]}


def run(payload: dict[str, Any]) -> list[Any]:
    raw = RawWebhook(event_id="e", source="terra", received_at=SENT, idempotency_key="k", body=b"{}")
    result = normalize(raw, payload)
    assert result.rejections == [], result.rejections
    return result.observations


def probe_value(metric: str, factor: float) -> float:
    spec = VOCABULARY[metric]
    return round((spec.typical_low + spec.typical_high) / 2, 1) / factor


# --- the contract ------------------------------------------------------------------------------
@pytest.mark.parametrize("type_", list(ROOTS))
def test_every_numeric_field_is_mapped_or_listed(type_: str) -> None:
    section = CONTRACT["types"][type_]
    mapped, not_mapped = section["mapped"], section["not_mapped"]
    everywhere = CONTRACT["not_mapped_everywhere"] if type_ in DATA_TYPES else {}
    paths = schema_paths(type_)
    assert len(paths) > 0
    missing = sorted(p for p in paths if p not in mapped and not listed(p, {**everywhere, **not_mapped}))
    assert missing == [], f"{type_}: neither mapped nor listed in terra_coverage.json: {missing}"
    both = sorted(p for p in mapped if p in not_mapped)  # a pattern covers only what is not mapped
    assert both == [], f"{type_}: mapped and listed as not mapped: {both}"
    stale = sorted(p for p in mapped if p not in paths)
    stale += sorted(p for p in not_mapped if "*" not in p and p not in paths)
    assert stale == [], f"{type_}: in the contract but not in Terra's schema: {stale}"
    assert all(reason.strip() for reason in (*not_mapped.values(), *everywhere.values()))


def test_every_numeric_field_count() -> None:
    """The schemas define 498 numeric fields for the seven data types (issue 18's census)."""
    assert sum(len(schema_paths(t)) for t in (*DATA_TYPES, "athlete")) == 498


MAPPED = [
    (type_, path, i, v)
    for type_ in DATA_TYPES
    for path, entry in CONTRACT["types"][type_]["mapped"].items()
    for i, v in enumerate(variants(entry))
]


@pytest.mark.parametrize(("type_", "path", "i", "variant"), MAPPED, ids=[f"{t}:{p}#{i}" for t, p, i, _ in MAPPED])
def test_mapped_field_lands_in_its_metric(type_: str, path: str, i: int, variant: dict[str, Any]) -> None:
    metric, factor = variant.get("metric"), float(variant.get("factor", 1.0))
    value = float(variant["value"]) if "value" in variant else probe_value(metric or "body_weight", factor)
    item = build(load(ROOTS[type_]), ROOTS[type_], {path: value}, fill_all=False) or {}
    item = event(type_, copy.deepcopy(item))
    parent_of(item["data"][0], path).update(copy.deepcopy(variant.get("when") or {}))
    observations = run(item)
    if metric is None:
        assert variant["reason"]
        produced = {o.metric for o in observations} - {"workout_duration"}
        assert all(o.value != pytest.approx(value) for o in observations if o.metric in produced), observations
        return
    assert metric in VOCABULARY, metric
    got = [o.value for o in observations if o.metric == metric]
    assert got, f"{path} should give {metric}; got {sorted({o.metric for o in observations})}"
    assert value * factor in [pytest.approx(g) for g in got]


@pytest.mark.parametrize("type_", DATA_TYPES)
def test_everything_filled_gives_only_declared_metrics(type_: str) -> None:
    item = build(load(ROOTS[type_]), ROOTS[type_], {}, fill_all=True)
    assert isinstance(item, dict)
    payload = event(type_, item)
    payload["data"][0]["metadata"].pop("is_nap", None)
    raw = RawWebhook(event_id="e", source="terra", received_at=SENT, idempotency_key="k", body=b"{}")
    result = normalize(raw, payload)
    declared = {v["metric"] for e in CONTRACT["types"][type_]["mapped"].values() for v in variants(e)}
    produced = {o.metric for o in result.observations} | {r.metric for r in result.rejections}
    produced.discard("workout_duration")  # from the metadata span, not a field
    assert produced, type_
    assert produced <= declared, f"undeclared metrics from {type_}: {sorted(produced - declared)}"


def test_interval_metrics_have_one_source_type() -> None:
    """One source per interval metric: two data types may feed one only when they describe the
    same calendar-day slot (listed in ``shared_day_slots`` with the reason)."""
    owners: dict[str, set[str]] = {}
    for type_ in DATA_TYPES:
        for entry in CONTRACT["types"][type_]["mapped"].values():
            for v in variants(entry):
                if v.get("metric") and VOCABULARY[v["metric"]].kind == "interval":
                    owners.setdefault(v["metric"], set()).add(type_)
    shared = {m for m, types in owners.items() if len(types) > 1}
    assert shared == set(CONTRACT["shared_day_slots"])
    assert all(owners[m] == {"body", "daily"} for m in shared)


SHARED = ROOT.parent / "shared" / "reference" / "terra" / "schemas"


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/reference/terra is not beside the repository")
def test_the_copy_matches_terras_published_schemas() -> None:
    """The copy under tests/data is unchanged from ``../shared/reference/terra`` (when present)."""
    for copied in SCHEMAS.glob("*.yaml"):
        assert copied.read_bytes() == (SHARED / copied.name).read_bytes(), copied.name
