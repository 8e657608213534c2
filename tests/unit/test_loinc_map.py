"""``schemas/loinc.json``: every vocabulary metric has a LOINC code and UCUM unit, or a reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

from schemas.vocabulary import VOCABULARY

TABLE = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "loinc.json").read_text())["metrics"]


def test_every_metric_is_in_the_table_and_nothing_else() -> None:
    assert set(TABLE) == set(VOCABULARY)


def test_each_entry_is_a_code_with_a_unit_or_a_reason() -> None:
    for metric, entry in TABLE.items():
        if "loinc" in entry:
            assert re.fullmatch(r"\d{1,7}-\d", entry["loinc"]), metric
            assert entry["ucum"] and entry["display"], metric
            assert "none" not in entry, metric
        else:
            assert set(entry) == {"none"} and entry["none"].strip(), metric


def test_the_fhir_core_codes() -> None:
    assert TABLE["heart_rate"]["loinc"] == "8867-4"
    assert TABLE["body_weight"] == {"loinc": "29463-7", "ucum": "kg", "display": "Body weight"}
    assert TABLE["step_count"]["loinc"] == "41950-7"
    assert len({e["loinc"] for e in TABLE.values() if "loinc" in e}) == sum("loinc" in e for e in TABLE.values())
