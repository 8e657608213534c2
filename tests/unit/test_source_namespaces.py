"""Per-source namespaces (design §4): a source's events name only that source's users."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from schemas.identity import FORMATS, Namespace, check_source_name, namespace
from schemas.records import RawWebhook, UserEvent
from sinks.plan import rekey
from sinks.rows import InvalidRecord, observation_row, validate_user_event
from sinks.sample import scored
from streams.normalize import NORMALIZERS, normalize, normalizer_for
from vitalstream.platform.settings import Settings

RECEIVED = datetime(2026, 7, 5, 12, 0, tzinfo=UTC)
TERRA_USER = {"user_id": "40f7b0e1", "provider": "GARMIN", "reference_id": "alice"}


def raw(source: str) -> RawWebhook:
    return RawWebhook(event_id="e1", source=source, received_at=RECEIVED, idempotency_key="k", body=b"{}")


def body(user: dict[str, Any]) -> dict[str, Any]:
    item = {
        "metadata": {"start_time": "2026-07-01T00:00:00+00:00", "end_time": "2026-07-02T00:00:00+00:00"},
        "measurements_data": {"measurements": [{"measurement_time": "2026-07-01T07:00:00+00:00", "weight_kg": 80}]},
    }
    return {"type": "body", "user": user, "data": [item]}


def test_terra_keeps_its_ids_and_subjects() -> None:
    (obs,) = normalize(raw("terra"), body(TERRA_USER)).observations
    assert (obs.subject, obs.user_id, obs.source) == ("alice", "40f7b0e1", "terra")
    (obs,) = normalize(raw("terra"), body({**TERRA_USER, "reference_id": None})).observations
    assert obs.subject == "terra:40f7b0e1"


def test_another_source_lands_in_its_namespace_even_with_a_terra_users_ids() -> None:
    (obs,) = normalize(raw("acme"), body(TERRA_USER)).observations
    assert (obs.subject, obs.user_id, obs.source) == ("acme:alice", "acme:40f7b0e1", "acme")
    (obs,) = normalize(raw("acme"), body({**TERRA_USER, "reference_id": None})).observations
    assert obs.subject == "acme:40f7b0e1"


def test_lifecycle_events_of_another_source_name_only_its_users() -> None:
    (deauth,) = normalize(raw("acme"), {"type": "deauth", "user": TERRA_USER}).user_events
    assert (deauth.source, deauth.user_id, deauth.reference_id) == ("acme", "acme:40f7b0e1", "acme:alice")
    reauth_payload = {"type": "user_reauth", "old_user": {"user_id": "old"}, "new_user": TERRA_USER}
    (reauth,) = normalize(raw("acme"), reauth_payload).user_events
    assert (reauth.user_id, reauth.old_user_id) == ("acme:40f7b0e1", "acme:old")
    (failed,) = normalize(raw("acme"), {"type": "auth", "status": "error", "reference_id": "alice"}).user_events
    assert (failed.user_id, failed.reference_id) == ("", "acme:alice")
    (ops,) = normalize(raw("acme"), {"type": "rate_limit_hit", "user": TERRA_USER}).ops_events
    assert ops.user_id == "acme:40f7b0e1"
    (profile,) = normalize(raw("acme"), {"type": "athlete", "user": TERRA_USER, "athlete": {"sex": "f"}}).user_events
    assert (profile.user_id, profile.source) == ("acme:40f7b0e1", "acme")


def test_the_sink_refuses_a_users_event_outside_its_sources_namespace() -> None:
    def event(**kw: Any) -> UserEvent:
        fields: dict[str, Any] = {
            "event_id": "e",
            "kind": "deauth",
            "user_id": "40f7b0e1",
            "occurred_at": RECEIVED,
            "ordering_ts": RECEIVED,
            "source": "acme",
        }
        return UserEvent(**{**fields, **kw})

    with pytest.raises(InvalidRecord, match="namespace"):
        validate_user_event(event())
    with pytest.raises(InvalidRecord, match="namespace"):
        validate_user_event(event(kind="reauth", user_id="acme:new", old_user_id="40f7b0e1"))
    assert validate_user_event(event(user_id="acme:40f7b0e1")).user_id == "acme:40f7b0e1"
    assert validate_user_event(event(source="terra")).user_id == "40f7b0e1"


def test_rekey_moves_a_user_subject_within_its_namespace() -> None:
    row = observation_row(scored("acme:old", "step_count", 1.0, source="acme", user_id="acme:old"))
    assert rekey(row, "acme:new")[:1] == ("acme:new",)
    terra = observation_row(scored("terra:old", "step_count", 1.0, user_id="old"))
    assert rekey(terra, "new").subject == "terra:new"


def test_namespace_rules() -> None:
    assert Namespace("acme").owns_user("acme:x") and not Namespace("acme").owns_user("acme:")
    assert not Namespace("acme").owns_user("x") and not Namespace("acme").owns_user("beta:x")
    assert namespace(None).is_terra and Namespace("acme").user_id("") == ""
    for bad in ("ac:me", "Acme", "", "-x", "a" * 65):
        with pytest.raises(ValueError, match="not allowed"):
            check_source_name(bad)


def test_source_formats_are_configuration() -> None:
    assert set(NORMALIZERS) == FORMATS
    assert normalizer_for("acme", {}) is normalize
    settings = Settings(source_formats="acme=terra, beta=terra")  # type: ignore[arg-type]
    assert settings.source_formats == {"acme": "terra", "beta": "terra"}
    with pytest.raises(ValidationError, match="unknown payload format"):
        Settings(source_formats="acme=fhir")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="not allowed"):
        Settings(webhook_secrets="ac:me=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Terra's own source"):
        Settings(webhook_secrets="terra=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # type: ignore[arg-type]
