"""Terra lab reports: ``lab_report.completed`` results become ``lab.*`` observations.

One observation per numeric (or bounded) result, keyed by Terra's biomarker slug and the
unit as reported: ``lab.<key>[<ucum>]`` (:func:`schemas.vocabulary.lab_metric`), with the
LOINC code, the reference range the flag was judged against and the flag itself. A bounded
result ("< 0.5") keeps its bound as the value and ``value_operator`` ``<``. Qualitative,
text and absent results, and unmatched biomarkers, are skipped as counted rejections with
their reason. ``lab_report.failed`` is an operational notice. The events carry no ``user``:
the subject is the report's ``reference_id``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Final

from schemas.records import Observation, OpsEvent, RawWebhook
from schemas.vocabulary import lab_metric

from ._emit import FUTURE_SLACK, Rejection
from ._values import EPOCH, JsonObject, number, obj, objects, text

PROVIDER: Final = "LAB_REPORT"
"""The provider of every lab observation (Terra's lab-report pipeline; the lab's name is not kept)."""
_OPERATORS: Final = {"lt": "<", "gt": ">"}
_UNITLESS: Final = "1"
"""UCUM's unit for a pure number (INR, a ratio) when the report prints none."""


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _collected_at(date_text: str | None, time_text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (+ ``HH:MM``) as UTC; the report gives no zone, so noon stands in for a
    missing time (at most half a day off, never a day early)."""
    if date_text is None:
        return None
    try:
        return datetime.fromisoformat(f"{date_text}T{time_text or '12:00'}").replace(tzinfo=UTC)
    except ValueError:
        return None


def completed(raw: RawWebhook, payload: JsonObject) -> tuple[list[Observation], list[Rejection], str | None]:
    """(observations, skipped results, why nothing at all) of a ``lab_report.completed``."""
    data = obj(payload, "data")
    if data is None:
        return [], [], "lab_report.completed without data"
    subject = text(data.get("reference_id"), 1000)
    if subject is None:
        return [], [], "lab_report.completed without reference_id: no subject to attach it to"
    report_at = _collected_at(text(data.get("report_date"), 10), text(data.get("report_time"), 5))
    received = _aware(raw.received_at)
    ordering = received if raw.ordering_ts is None else _aware(raw.ordering_ts)
    observations: list[Observation] = []
    skipped: list[Rejection] = []
    for result in objects(data, "results"):
        built = _result(raw, result, subject, report_at, ordering, received)
        if isinstance(built, Observation):
            observations.append(built)
        else:
            skipped.append(built)
    return observations, skipped, None


def _result(
    raw: RawWebhook,
    result: JsonObject,
    subject: str,
    report_at: datetime | None,
    ordering: datetime,
    received: datetime,
) -> Observation | Rejection:
    biomarker = obj(result, "biomarker") or {}
    measurement = obj(result, "measurement") or {}
    key = text(biomarker.get("key"), 64)
    if key is None:
        return Rejection("lab", math.nan, "lab result skipped: unmatched biomarker")
    unit = text(measurement.get("ucum_code"), 32) or text(measurement.get("units"), 32) or _UNITLESS
    metric = lab_metric(key.lower(), unit)
    kind = text(measurement.get("type"), 32) or "absent"
    operator = None
    if kind == "numeric":
        value = number(measurement.get("numeric"))
    elif kind == "bounded":
        bounded = obj(measurement, "bounded") or {}
        value = number(bounded.get("value"))
        operator = _OPERATORS.get(str(bounded.get("operator")))
        if operator is None:
            value = None
    else:
        return Rejection(metric, math.nan, f"lab result skipped: {kind[:20]} value, not a number")
    if value is None:
        return Rejection(metric, math.nan, f"lab result skipped: {kind} without a usable value")
    source = obj(result, "source") or {}
    at = _collected_at(text(source.get("collection_date"), 10), text(source.get("collection_time"), 5)) or report_at
    if at is None or at < EPOCH or at > received + FUTURE_SLACK:
        return Rejection(metric, value, "lab result skipped: no plausible collection or report date")
    interpretation = obj(result, "interpretation") or {}
    applied = obj(interpretation, "applied_range") or {}
    return Observation(
        subject=subject,
        metric=metric,
        value=value,
        unit=unit,
        measured_at=at,
        provider=PROVIDER,
        event_id=raw.event_id,
        ordering_ts=ordering,
        provenance="sensed",
        source=raw.source,
        value_operator=operator,
        reference_low=number(applied.get("lower")),
        reference_high=number(applied.get("upper")),
        interpretation=text(interpretation.get("flag"), 32),
        code=text(biomarker.get("loinc_code"), 32),
    )


def failed(raw: RawWebhook, payload: JsonObject) -> OpsEvent:
    """``lab_report.failed``: the error code, whether a retry could help, the session."""
    data = obj(payload, "data") or {}
    error = obj(data, "error") or {}
    details = {
        key: value
        for key, value in (
            ("code", text(error.get("code"), 64)),
            ("session_id", text(data.get("session_id"), 64)),
            ("upload_id", text(payload.get("upload_id"), 64)),
        )
        if value is not None
    }
    if isinstance(error.get("retriable"), bool):
        details["retriable"] = "true" if error["retriable"] else "false"
    return OpsEvent(
        event_id=raw.event_id,
        source=raw.source,
        type="lab_report.failed",
        occurred_at=_aware(raw.received_at),
        status="error",
        message=text(error.get("message"), 500),
        details=details,
    )
