"""Reconciliation with Terra, pure parts: finding the latest healthcheck, the gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.records import OpsEvent
from sinks.reconcile import Healthcheck, Reconciliation, healthcheck_of, latest_healthcheck

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def ops(type_: str = "healthcheck", source: str = "terra", at: datetime = AT, **details: str) -> OpsEvent:
    return OpsEvent(event_id=f"e-{at.minute}", source=source, type=type_, occurred_at=at, details=details)


def test_a_healthcheck_carries_terras_count() -> None:
    assert healthcheck_of(ops(sent_webhooks_last_hour="120", trend_percentage="3.5")) == Healthcheck("terra", AT, 120)
    assert healthcheck_of(ops(sent_webhooks_last_hour="120.0")) == Healthcheck("terra", AT, 120)


def test_other_notices_and_unusable_counts_are_not_healthchecks() -> None:
    assert healthcheck_of(ops("processing", sent_webhooks_last_hour="5")) is None
    assert healthcheck_of(ops()) is None
    assert healthcheck_of(ops(sent_webhooks_last_hour="many")) is None
    assert healthcheck_of(ops(sent_webhooks_last_hour="-1")) is None


def test_the_latest_healthcheck_of_the_source_wins() -> None:
    events = [
        ops(at=AT, sent_webhooks_last_hour="10"),
        ops(at=AT + timedelta(hours=1), sent_webhooks_last_hour="20"),
        ops(at=AT + timedelta(hours=2), source="acme", sent_webhooks_last_hour="30"),
        ops("rate_limit_hit", at=AT + timedelta(hours=3)),
    ]
    assert latest_healthcheck(events) == Healthcheck("terra", AT + timedelta(hours=1), 20)
    assert latest_healthcheck(events[3:]) is None


def test_the_gap_is_the_share_that_did_not_arrive() -> None:
    check = Healthcheck("terra", AT, 200)
    assert Reconciliation(check, 150).gap == 0.25
    assert Reconciliation(check, 200).gap == 0.0
    assert Reconciliation(check, 220).gap == -0.1
    assert Reconciliation(Healthcheck("terra", AT, 0), 3).gap == 0.0
