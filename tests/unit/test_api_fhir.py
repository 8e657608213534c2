"""FHIR mapping: every resource valid for a FHIR model library (fhir.resources, R4B: the same
Observation and Bundle as R4), LOINC codes and UCUM units from schemas/loinc.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation

from schemas.vocabulary import VOCABULARY
from vitalstream.api import fhir

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


def _row(metric: str, value: float, *, until: datetime | None = None, level: str = "good") -> dict[str, Any]:
    return {
        "metric": metric,
        "value": value,
        "unit": VOCABULARY[metric].unit,
        "measured_at": T0,
        "measured_until": until,
        "provider": "GARMIN",
        "confidence": 77.5,
        "level": level,
        "generation": 0,
        "updated_at": T0,
    }


def _validated(bundle: dict[str, Any]) -> Bundle:
    """Through JSON, as a client receives it."""
    return Bundle.model_validate_json(orjson.dumps(bundle, option=orjson.OPT_UTC_Z))


def test_loinc_table_covers_vocabulary_names_only_and_the_required_codes() -> None:
    table = fhir.loinc_map()
    assert set(table) <= set(VOCABULARY)
    assert table["heart_rate"]["loinc"] == "8867-4"
    assert table["body_weight"]["loinc"] == "29463-7"
    assert table["step_count"]["loinc"] == "41950-7"  # daily steps, not 55423-8 (unspecified time)
    assert all({"loinc", "display", "ucum"} <= set(spec) for spec in table.values())


def test_a_searchset_of_samples_intervals_and_unmapped_metrics_is_valid_fhir() -> None:
    rows = [
        _row("heart_rate", 61.0),
        _row("step_count", 8123.0, until=datetime(2026, 12, 1, tzinfo=UTC), level="excellent"),
        _row("stress_level", 31.0, level="poor"),
    ]
    bundle = _validated(fhir.searchset("clinic-a-1", rows, "http://api/fhir/Observation?subject=clinic-a-1"))
    assert bundle.type == "searchset" and bundle.total == 3
    resources = [e.resource for e in bundle.entry or []]
    assert all(isinstance(r, Observation) for r in resources)
    hr, steps, stress = resources
    assert hr.code.coding[0].system == fhir.LOINC and hr.code.coding[0].code == "8867-4"
    assert hr.valueQuantity.system == fhir.UCUM and hr.valueQuantity.code == "/min" and hr.valueQuantity.value == 61
    assert hr.effectiveDateTime is not None and steps.effectivePeriod is not None
    assert steps.effectivePeriod.end is not None and steps.valueQuantity.code == "/(24.h)"
    assert hr.interpretation[0].coding[0].code == "good" and steps.interpretation[0].coding[0].code == "excellent"
    assert hr.extension[0].url == fhir.CONFIDENCE_EXTENSION and float(hr.extension[0].valueDecimal) == 77.5
    assert hr.device.display == "GARMIN" and hr.subject.identifier.value == "clinic-a-1"
    assert stress.code.coding[0].system == fhir.METRIC_SYSTEM and stress.valueQuantity.system is None


@pytest.mark.parametrize(
    ("code", "metrics"),
    [
        ("8867-4", ["heart_rate"]),
        ("http://loinc.org|29463-7", ["body_weight"]),
        ("urn:vitalstream:metric|stress_level", ["stress_level"]),
        ("urn:vitalstream:metric|heart_rate", []),  # a mapped metric is searched by its LOINC code
        ("http://snomed.info/sct|8867-4", []),
        ("55423-8", []),
    ],
)
def test_search_codes(code: str, metrics: list[str]) -> None:
    assert fhir.metrics_for_code(code) == metrics


def test_observation_ids_are_stable_per_subject_and_metric() -> None:
    assert fhir.observation_id("s", "heart_rate") == fhir.observation_id("s", "heart_rate")
    assert fhir.observation_id("s", "heart_rate") != fhir.observation_id("s", "body_weight")
