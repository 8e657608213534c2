"""Lifecycle, ops, ignored and invalid events; edge cases of values and times."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.records import RawWebhook
from streams.errors import (
    NormalizeError,
    PermanentError,
    SchemaInvalidError,
    TransientError,
    UndecodableError,
)
from streams.normalize import NormalizeResult, normalize, parse_body

DATA = Path(__file__).resolve().parent.parent / "data" / "terra"
RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
USER = {"user_id": "u-1", "provider": "WHOOP", "reference_id": "ref-1", "scopes": "read:recovery,read:sleep"}


def raw(**overrides: Any) -> RawWebhook:
    fields: dict[str, Any] = {
        "event_id": "evt-9",
        "source": "terra",
        "received_at": RECEIVED,
        "idempotency_key": "trace-9",
        "body": b"{}",
    }
    fields.update(overrides)
    return RawWebhook(**fields)


def norm(payload: object) -> NormalizeResult:
    return normalize(raw(), payload)


def body_event(*items: dict[str, Any], user: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "body", "version": "2022-03-16", "user": user or USER, "data": list(items)}


DAY_META = {"start_time": "2026-07-01T00:00:00+00:00", "end_time": "2026-07-02T00:00:00+00:00"}


def weighing(value: object, when: object = "2026-07-01T07:00:00+00:00") -> dict[str, Any]:
    return {
        "metadata": DAY_META,
        "measurements_data": {"measurements": [{"measurement_time": when, "weight_kg": value}]},
    }


# --- lifecycle ---------------------------------------------------------------------------
def test_auth_error_without_user() -> None:
    result = norm({"type": "auth", "status": "error", "message": "User denied", "reference_id": "ref-7"})
    (event,) = result.user_events
    assert (event.kind, event.user_id, event.reference_id, event.status) == ("auth_error", "", "ref-7", "error")
    assert event.message == "User denied"


def test_auth_cancelled() -> None:
    payload = {"type": "auth_cancelled", "status": "error", "reason": "cancelled", "reference_id": "ref-8"}
    (event,) = norm(payload).user_events
    assert (event.kind, event.user_id, event.reference_id, event.message) == (
        "auth_cancelled",
        "",
        "ref-8",
        "cancelled",
    )


def test_user_reauth() -> None:
    payload = {
        "type": "user_reauth",
        "status": "warning",
        "message": "User has reauthenticated",
        "new_user": {**USER, "user_id": "u-new"},
        "old_user": {**USER, "user_id": "u-old"},
        "version": "2022-03-16",
    }
    (event,) = norm(payload).user_events
    assert (event.kind, event.user_id, event.old_user_id, event.provider) == ("reauth", "u-new", "u-old", "WHOOP")
    payload["old_user"] = None
    assert norm(payload).user_events[0].old_user_id is None


def test_access_revoked_and_permission_change() -> None:
    revoked = norm({"type": "access_revoked", "status": "warning", "message": "revoked", "user": USER})
    assert [(e.kind, e.user_id) for e in revoked.user_events] == [("revoked", "u-1")]
    change = {
        "type": "permission_change",
        "status": "warning",
        "message": "scopes changed",
        "version": "2022-03-16",
        "scopes_added": "read:sleep",
        "scopes_removed": "read:workout",
        "user": USER,
    }
    (event,) = norm(change).user_events
    assert (event.kind, event.scopes) == ("permission_change", "read:recovery,read:sleep")


@pytest.mark.parametrize("kind", ["deauth", "access_revoked", "permission_change", "auth"])
def test_lifecycle_without_user_is_schema_invalid(kind: str) -> None:
    with pytest.raises(SchemaInvalidError, match=f"{kind} event without user"):
        norm({"type": kind, "status": "success"})


def test_reauth_without_new_user_is_schema_invalid() -> None:
    with pytest.raises(SchemaInvalidError, match=r"user_reauth event without new_user\.user_id"):
        norm({"type": "user_reauth", "new_user": {"provider": "X"}})


# --- ops -----------------------------------------------------------------------------------
def test_ops_events() -> None:
    payload = {
        "type": "large_request_sending",
        "user": USER,
        "reference": "req-1",
        "message": "sending",
        "expected_payloads": 3,
        "retry": True,
        "email": "someone@example.com",
        "nested": {"x": 1},
    }
    (event,) = norm(payload).ops_events
    assert (event.type, event.provider, event.user_id, event.message) == (
        "large_request_sending",
        "WHOOP",
        "u-1",
        "sending",
    )
    assert event.details == {"reference": "req-1", "expected_payloads": "3", "retry": "true"}
    assert event.source == "terra" and event.occurred_at == RECEIVED and event.event_id == "evt-9"
    for kind in ("healthcheck", "processing", "rate_limit_hit", "connection_error", "google_no_datasource"):
        (notice,) = norm({"type": kind, "status": "warning"}).ops_events
        assert (notice.type, notice.status, notice.user_id) == (kind, "warning", None)


# --- ignored, ping mode ------------------------------------------------------------------------
def test_lab_report_and_unknown_types_are_ignored() -> None:
    lab = norm({"type": "lab_report.completed", "event_id": "x", "occurred_at": "2026-07-01T00:00:00Z", "data": {}})
    assert lab.ignored is not None and "lab_report.completed" in lab.ignored
    assert lab.observations == [] and lab.user_events == [] and lab.ops_events == []
    for kind in ("planned_workout", "hormone", "health_observation", "something_new"):
        assert norm({"type": kind, "user": USER, "data": []}).ignored is not None


def test_s3_payload_returns_url() -> None:
    url = "https://terra-payloads.s3.amazonaws.com/abc?X-Amz-Signature=1"
    result = norm({"type": "s3_payload", "status": "success", "url": url, "expires_in": 600})
    assert result.s3_url == url and result.observations == []
    with pytest.raises(SchemaInvalidError):
        norm({"type": "s3_payload", "status": "success", "url": "file:///etc/passwd"})
    with pytest.raises(SchemaInvalidError):
        norm({"type": "s3_payload", "status": "success"})


# --- personal data --------------------------------------------------------------------------
def test_personal_data_never_appears_in_any_output() -> None:
    secrets = (
        "Jane",
        "Doe",
        "jane.doe@example.com",
        "1990-04-17",
        "04-17",
        "Springfield",
        "Illinois",
        "FB-778",
        "woman",
    )
    for path in sorted(DATA.glob("full_*.json")):
        result = normalize(raw(), orjson.loads(path.read_bytes()))
        text = repr(result)
        for secret in secrets:
            assert secret not in text, (path.name, secret)


def test_athlete_sex_is_coarsened_and_missing_athlete_ignored() -> None:
    base = {"type": "athlete", "user": USER, "version": "2022-03-16"}
    (event,) = norm({**base, "athlete": {"sex": "Prefer to describe: Jane", "date_of_birth": "garbage"}}).user_events
    assert (event.sex, event.birth_year) == ("other", None)
    assert norm({**base, "athlete": None}).ignored is not None
    with pytest.raises(SchemaInvalidError):
        norm({"type": "athlete", "athlete": {"sex": "male"}})


# --- invalid payloads -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ([], "payload is a JSON array, not an object"),
        (None, "payload is a JSON null, not an object"),
        ("body", "payload is a JSON string, not an object"),
        (3.5, "payload is a JSON number, not an object"),
        ({"data": []}, "payload without type"),
        ({"type": 5}, "payload type is a JSON number, not a non-empty string"),
        ({"type": ""}, "payload type is a JSON string, not a non-empty string"),
        ({"type": "body", "data": []}, "body event without user"),
        ({"type": "sleep", "user": {"provider": "OURA"}}, "sleep event without user.user_id"),
        ({"type": "daily", "user": {"user_id": " "}}, "daily event without user.user_id"),
        ({"type": "daily", "user": {"user_id": "u"}}, "daily event without user.provider"),
        ({"type": "body", "user": USER, "data": "x"}, "body event data is a JSON string, not an array"),
    ],
)
def test_schema_invalid(payload: object, reason: str) -> None:
    with pytest.raises(SchemaInvalidError) as info:
        norm(payload)
    assert info.value.reason == reason
    assert info.value.error_class == "SchemaInvalidError"


def test_data_null_or_junk_items_give_empty_result() -> None:
    assert norm({"type": "body", "user": USER, "data": None}) == NormalizeResult()
    assert norm({"type": "body", "user": USER, "data": [1, "x", None, [], {}]}) == NormalizeResult()


def test_parse_body() -> None:
    assert parse_body(b'{"type": "body"}') == {"type": "body"}
    for bad in (b"", b"{", b"\xff\xfe", b"NaN", b'{"a": Infinity}', "{}".encode("utf-16")):
        with pytest.raises(UndecodableError) as info:
            parse_body(bad)
        assert info.value.error_class == "UndecodableError"


def test_error_hierarchy() -> None:
    for cls in (UndecodableError, SchemaInvalidError, NormalizeError):
        error = cls("why")
        assert isinstance(error, PermanentError) and error.reason == "why" and error.error_class == cls.__name__
    assert not issubclass(TransientError, PermanentError)
    assert TransientError("later").reason == "later"


def test_unexpected_exception_becomes_normalize_error() -> None:
    broken = raw(received_at="not a datetime")  # a caller bug the normalizer must not crash on
    with pytest.raises(NormalizeError):
        normalize(broken, body_event(weighing(70.0)))


# --- subject, values, times --------------------------------------------------------------------
def test_subject_falls_back_to_terra_user_id() -> None:
    for reference in (None, "", "   ", 7):
        result = norm(body_event(weighing(70.0), user={**USER, "reference_id": reference}))
        assert result.observations[0].subject == "terra:u-1"


@pytest.mark.parametrize("value", [True, False, "70", None, [], {}, math.nan, math.inf, -math.inf, 10**400])
def test_wrong_types_are_skipped(value: object) -> None:
    result = norm(body_event(weighing(value)))
    assert result.observations == [] and result.rejections == []


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        ("2026-07-01T07:00:00Z", datetime(2026, 7, 1, 7, tzinfo=UTC)),
        ("2026-07-01T07:00:00.123456+02:00", datetime(2026, 7, 1, 5, 0, 0, 123456, tzinfo=UTC)),
        ("2026-07-01T07:00:00-09:30", datetime(2026, 7, 1, 16, 30, tzinfo=UTC)),
        ("2026-07-01T07:00:00", datetime(2026, 7, 1, 7, tzinfo=UTC)),  # naive: UTC
        ("2026-07-01 07:00:00+00:00", datetime(2026, 7, 1, 7, tzinfo=UTC)),
    ],
)
def test_times_become_utc(when: str, expected: datetime) -> None:
    (obs,) = norm(body_event(weighing(70.0, when))).observations
    assert obs.measured_at == expected and obs.measured_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "when", ["yesterday", "", "2026-13-01T00:00:00Z", 1719800000, None, "2026-07-01T07:00:00+25:00"]
)
def test_garbage_times_skip_the_value(when: object) -> None:
    assert norm(body_event(weighing(70.0, when))).observations == []


def test_hard_bounds_reject_soft_bounds_keep() -> None:
    result = norm(body_event(weighing(0.5, "2026-07-01T07:00:00Z"), weighing(300.0, "2026-07-01T08:00:00Z")))
    assert [o.value for o in result.observations] == [300.0]  # unusual, not impossible
    (rejection,) = result.rejections
    assert (rejection.metric, rejection.value) == ("body_weight", 0.5)
    assert "hard bounds" in rejection.reason


def test_future_and_ancient_times_are_rejected() -> None:
    result = norm(body_event(weighing(70.0, "2030-01-01T00:00:00Z"), weighing(70.0, "1950-01-01T00:00:00Z")))
    assert result.observations == [] and len(result.rejections) == 2


def test_duplicates_inside_a_payload_last_wins() -> None:
    result = norm(body_event(weighing(70.0), weighing(71.0), weighing(72.0, "2026-07-01T09:00:00Z")))
    assert [(o.value, o.measured_at.hour) for o in result.observations] == [(71.0, 7), (72.0, 9)]


def test_day_averages_are_their_own_metrics() -> None:
    item = {"metadata": DAY_META, "measurements_data": {"day_avg_weight_kg": 70.5, "day_avg_bone_mass_g": 2900}}
    result = norm(body_event(item))
    # bone mass day average: the composition long tail is not mapped (terra_coverage.json says why)
    assert [(o.metric, o.value, o.measured_until is not None) for o in result.observations] == [
        ("daily_avg_body_weight", 70.5, True)
    ]


@pytest.mark.parametrize(
    ("end", "completeness"),
    [
        ("2026-07-01T12:00:00+00:00", 0.5),
        ("2026-07-01T06:00:00+00:00", 0.25),
        ("2026-07-02T00:00:00+00:00", 1.0),
        ("2026-07-03T00:00:00+00:00", 1.0),  # clamped
        ("2026-06-30T00:00:00+00:00", 0.0),  # clamped
    ],
)
def test_daily_completeness(end: str, completeness: float) -> None:
    payload = {
        "type": "daily",
        "user": USER,
        "data": [
            {"metadata": {"start_time": "2026-07-01T00:00:00+00:00", "end_time": end}, "distance_data": {"steps": 5000}}
        ],
    }
    (obs,) = norm(payload).observations
    assert obs.completeness == pytest.approx(completeness)


def test_dst_day_is_complete() -> None:
    # Europe/Berlin, 29 March 2026: a 23-hour day from local midnight to local midnight.
    meta = {"start_time": "2026-03-29T00:00:00+01:00", "end_time": "2026-03-30T00:00:00+02:00"}
    payload = {"type": "daily", "user": USER, "data": [{"metadata": meta, "distance_data": {"steps": 5000}}]}
    assert norm(payload).observations[0].completeness == 1.0


def test_ordering_ts_defaults_to_received_at() -> None:
    assert norm(body_event(weighing(70.0))).observations[0].ordering_ts == RECEIVED


def test_sleep_nap_keeps_samples_only() -> None:
    item = {
        "metadata": {
            "start_time": "2026-07-01T13:00:00Z",
            "end_time": "2026-07-01T13:30:00Z",
            "upload_type": 2,
            "is_nap": True,
        },
        "sleep_durations_data": {"asleep": {"duration_asleep_state_seconds": 1500}},
        "heart_rate_data": {"detailed": {"hr_samples": [{"timestamp": "2026-07-01T13:10:00Z", "bpm": 55}]}},
    }
    result = norm({"type": "sleep", "user": USER, "data": [item]})
    assert [o.metric for o in result.observations] == ["heart_rate"]


def test_sleep_duration_from_stages() -> None:
    asleep = {
        "duration_deep_sleep_state_seconds": 3600,
        "duration_REM_sleep_state_seconds": 5400,
        "duration_light_sleep_state_seconds": 14400,
    }
    item = {
        "metadata": {"start_time": "2026-07-01T22:00:00Z", "end_time": "2026-07-02T06:00:00Z", "upload_type": 0},
        "sleep_durations_data": {"asleep": asleep},
    }
    by_metric = {o.metric: o.value for o in norm({"type": "sleep", "user": USER, "data": [item]}).observations}
    assert by_metric["sleep_duration"] == 23400.0


@pytest.mark.parametrize(
    ("code", "name", "provenance"),
    [
        (1.0, "AUTOMATIC", "sensed"),
        ("manual", "MANUAL", "self_reported"),
        (True, None, "unknown"),
        (99, None, "unknown"),
    ],
)
def test_upload_type_variants(code: object, name: str | None, provenance: str) -> None:
    payload = {
        "type": "daily",
        "user": USER,
        "data": [{"metadata": {**DAY_META, "upload_type": code}, "distance_data": {"steps": 1}}],
    }
    (obs,) = norm(payload).observations
    assert (obs.upload_type, obs.provenance) == (name, provenance)
