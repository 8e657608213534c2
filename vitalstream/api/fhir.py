"""Latest metrics as FHIR R4 Observations in a ``searchset`` Bundle (pure mapping).

The LOINC code and UCUM unit of each metric are data (``schemas/loinc.json``, beside the
vocabulary). A metric without a LOINC mapping keeps its vocabulary name as a code of the
vitalstream system and its unit as text only. The value's confidence travels as an
extension, its level as ``interpretation``; the provider is the ``device``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from typing import Any

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
METRIC_SYSTEM = "urn:vitalstream:metric"
SUBJECT_SYSTEM = "urn:vitalstream:subject"
LEVEL_SYSTEM = "urn:vitalstream:confidence-level"
CONFIDENCE_EXTENSION = "urn:vitalstream:fhir:extension:confidence"
CONTENT_TYPE = "application/fhir+json"
_IDS = uuid.UUID("6f1c8a52-3c1e-4d7a-9a57-5b0e4f1d2c10")
LEVEL_DISPLAY = {
    "excellent": "Excellent confidence (≥ 85)",
    "good": "Good confidence (70-84)",
    "fair": "Fair confidence (50-69)",
    "poor": "Poor confidence (< 50)",
}


@cache
def loinc_map() -> dict[str, dict[str, str]]:
    """``{metric: {"loinc", "display", "ucum"}}`` from ``schemas/loinc.json`` (the metrics that have
    a LOINC code; the file also says why the others have none)."""
    text = resources.files("schemas").joinpath("loinc.json").read_text(encoding="utf-8")
    metrics: dict[str, dict[str, str]] = json.loads(text)["metrics"]
    return {metric: spec for metric, spec in metrics.items() if "loinc" in spec}


def metrics_for_code(code: str) -> list[str]:
    """The metrics a search ``code`` names: a LOINC code (``8867-4`` or ``http://loinc.org|8867-4``)
    or an unmapped metric in the vitalstream system (``urn:vitalstream:metric|stress_level``)."""
    system, sep, value = code.rpartition("|")
    if sep and system == METRIC_SYSTEM:
        return [value] if value not in loinc_map() else []
    if sep and system != LOINC:
        return []
    return [metric for metric, spec in loinc_map().items() if spec["loinc"] == value]


def observation_id(subject: str, metric: str) -> str:
    """Stable per (subject, metric): the resource is the same observation, updated."""
    return str(uuid.uuid5(_IDS, f"{subject}|{metric}"))


def _code(metric: str) -> dict[str, Any]:
    spec = loinc_map().get(metric)
    coding = (
        {"system": LOINC, "code": spec["loinc"], "display": spec["display"]}
        if spec
        else {"system": METRIC_SYSTEM, "code": metric}
    )
    return {"coding": [coding], "text": metric}


def _quantity(metric: str, value: float, unit: str) -> dict[str, Any]:
    spec = loinc_map().get(metric)
    quantity: dict[str, Any] = {"value": value, "unit": unit}
    if spec:
        quantity |= {"system": UCUM, "code": spec["ucum"]}
    return quantity


def observation(subject: str, row: Mapping[str, Any]) -> dict[str, Any]:
    """One API metric object (ISO-8601 times) as a FHIR Observation."""
    metric = str(row["metric"])
    level = str(row["level"])
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": observation_id(subject, metric),
        "meta": {"lastUpdated": row["updated_at"]},
        "extension": [{"url": CONFIDENCE_EXTENSION, "valueDecimal": row["confidence"]}],
        "status": "final",
        "code": _code(metric),
        "subject": {"identifier": {"system": SUBJECT_SYSTEM, "value": subject}},
        "issued": row["updated_at"],
        "valueQuantity": _quantity(metric, float(row["value"]), str(row["unit"])),
        "interpretation": [
            {"coding": [{"system": LEVEL_SYSTEM, "code": level, "display": LEVEL_DISPLAY.get(level, level)}]}
        ],
        "device": {"display": row["provider"]},
    }
    if row.get("measured_until"):
        resource["effectivePeriod"] = {"start": row["measured_at"], "end": row["measured_until"]}
    else:
        resource["effectiveDateTime"] = row["measured_at"]
    return resource


def searchset(subject: str, rows: Iterable[Mapping[str, Any]], self_url: str) -> dict[str, Any]:
    entries = []
    for row in rows:
        resource = observation(subject, row)
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource, "search": {"mode": "match"}})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": self_url}],
        "entry": entries,
    }
