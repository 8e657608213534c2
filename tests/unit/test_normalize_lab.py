"""Lab reports (issue 18): results to ``lab.*`` observations, failures to ops notices."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from schemas.records import RawWebhook
from schemas.vocabulary import spec_for
from streams.normalize import normalize

RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)


def raw() -> RawWebhook:
    return RawWebhook(event_id="evt-lab", source="terra", received_at=RECEIVED, idempotency_key="k", body=b"{}")


def result(key: str | None, measurement: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "source": {"name": "HbA1c", "value": "5.4", "collection_date": "2026-06-30", "collection_time": "08:15"},
        "biomarker": {"key": key, "display_name": "x", **extra.pop("biomarker", {})},
        "measurement": measurement,
        "interpretation": extra.pop("interpretation", {"flag": None, "source": "none"}),
        **extra,
    }


def completed(*results: dict[str, Any], reference_id: str | None = "subject-7") -> dict[str, Any]:
    data: dict[str, Any] = {"session_id": "297405620317847552", "results_count": len(results), "results": list(results)}
    if reference_id is not None:
        data["reference_id"] = reference_id
    data["report_date"] = "2026-07-01"
    return {"type": "lab_report.completed", "event_id": "evt_1", "occurred_at": "2026-07-01T10:00:00Z", "data": data}


def test_numeric_result_with_loinc_range_and_flag() -> None:
    hba1c = result(
        "hba1c",
        {"type": "numeric", "numeric": 6.1, "units": "%", "ucum_code": "%"},
        biomarker={"loinc_code": "4548-4"},
        interpretation={"flag": "high", "source": "report", "applied_range": {"lower": 4.0, "upper": 5.6}},
    )
    out = normalize(raw(), completed(hba1c))
    (obs,) = out.observations
    assert (obs.subject, obs.metric, obs.value, obs.unit) == ("subject-7", "lab.hba1c[%]", 6.1, "%")
    assert obs.measured_at == datetime(2026, 6, 30, 8, 15, tzinfo=UTC)  # the collection, not the report
    assert (obs.code, obs.reference_low, obs.reference_high, obs.interpretation) == ("4548-4", 4.0, 5.6, "high")
    assert (obs.value_operator, obs.provider, obs.user_id, obs.event_id) == (None, "LAB_REPORT", None, "evt-lab")
    assert out.rejections == [] and out.ignored is None
    spec = spec_for(obs.metric)
    assert spec is not None and spec.unit == "%"


def test_bounded_result_is_a_censored_value() -> None:
    crp = result("crp", {"type": "bounded", "bounded": {"operator": "lt", "value": 0.5}, "ucum_code": "mg/L"})
    (obs,) = normalize(raw(), completed(crp)).observations
    assert (obs.metric, obs.value, obs.value_operator) == ("lab.crp[mg/L]", 0.5, "<")


def test_qualitative_text_and_unmatched_are_counted_skips() -> None:
    out = normalize(
        raw(),
        completed(
            result("hiv", {"type": "qualitative", "qualitative": {"text": "negative"}}),
            result("note", {"type": "text", "text": "see comment"}),
            result(None, {"type": "numeric", "numeric": 3.0, "ucum_code": "mmol/L"}),
            result("ldl", {"type": "numeric", "numeric": 2.9, "ucum_code": "mmol/L"}),
        ),
    )
    assert [o.metric for o in out.observations] == ["lab.ldl[mmol/L]"]
    assert [r.reason for r in out.rejections] == [
        "lab result skipped: qualitative value, not a number",
        "lab result skipped: text value, not a number",
        "lab result skipped: unmatched biomarker",
    ]
    assert all(math.isnan(r.value) for r in out.rejections)


def test_report_date_stands_in_for_a_missing_collection_date() -> None:
    glucose = result("glucose", {"type": "numeric", "numeric": 92, "ucum_code": "mg/dL"})
    glucose["source"] = {"name": "Glucose"}
    (obs,) = normalize(raw(), completed(glucose)).observations
    assert obs.measured_at == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)  # report date, noon


def test_without_reference_id_there_is_no_subject() -> None:
    out = normalize(raw(), completed(result("ldl", {"type": "numeric", "numeric": 2.9}), reference_id=None))
    assert out.observations == [] and out.ignored is not None and "reference_id" in out.ignored


def test_failed_report_is_an_ops_notice() -> None:
    payload = {
        "type": "lab_report.failed",
        "event_id": "evt_2",
        "occurred_at": "2026-07-01T10:00:00Z",
        "upload_id": "up-1",
        "data": {
            "session_id": "s-1",
            "reference_id": "subject-7",
            "error": {"code": "file_unreadable", "message": "The file could not be read", "retriable": False},
        },
    }
    (ops,) = normalize(raw(), payload).ops_events
    assert (ops.type, ops.status, ops.message) == ("lab_report.failed", "error", "The file could not be read")
    assert ops.details == {"code": "file_unreadable", "session_id": "s-1", "upload_id": "up-1", "retriable": "false"}


def test_health_observation_is_ignored_with_its_reason() -> None:
    payload = {"type": "health_observation", "version": "1", "user": {"user_id": "u", "provider": "APPLE"}, "data": []}
    ignored = normalize(raw(), payload).ignored
    assert ignored is not None and ignored.startswith("health_observation:")
