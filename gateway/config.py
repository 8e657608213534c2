"""The gateway's view of the settings: the plain values the intake and the routes need."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.signatures import split_secrets
from vitalstream.platform.settings import Settings

RATE_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    raw_topic: str
    backfill_topic: str
    terra_secrets: tuple[str, ...]
    webhook_secrets: dict[str, tuple[str, ...]]
    tolerance_s: int
    max_body_bytes: int
    produce_timeout_s: float
    idempotency_ttl_s: float
    idempotency_max_entries: int
    limit_per_ip: int
    """Requests per address and minute that fail authentication (verified ones are never counted)."""
    limit_per_source: int
    """Verified deliveries per source and minute on the live lane; past it they are shed to the backfill lane."""
    limit_per_user: int
    """The same per provider user (never a 429: a verified delivery is always accepted)."""
    backfill_sources: frozenset[str] = frozenset()
    trusted_proxies: tuple[str, ...] = ()
    body_timeout_s: float = 10.0
    max_body_reads: int = 64
    max_large_body_reads: int = 2
    large_body_bytes: int = 256 * 1024
    read_slot_wait_s: float = 1.0
    accept_content_encoding: bool = False
    retry_after_s: int = 5
    ready_timeout_s: float = 1.0
    ready_cache_s: float = 1.0
    shutdown_timeout_s: float = 15.0
    flush_timeout_s: float = 10.0
    access_log_sample: float = 1.0
    probe_log_sample: float = 0.01
    rate_window_s: float = RATE_WINDOW_S

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        tolerance = settings.signature_tolerance_s
        return cls(
            raw_topic=settings.topic("webhooks.raw"),
            backfill_topic=settings.topic("webhooks.backfill"),
            terra_secrets=tuple(s.get_secret_value() for s in settings.terra_secrets),
            webhook_secrets={
                source: tuple(split_secrets(secret.get_secret_value()))
                for source, secret in settings.webhook_secrets.items()
            },
            tolerance_s=tolerance,
            max_body_bytes=settings.max_body_bytes,
            produce_timeout_s=settings.produce_timeout_s,
            # a signature stays valid for 2 × tolerance (clock skew both ways): remember at least that long
            idempotency_ttl_s=max(float(settings.idempotency_ttl_s), 2.0 * tolerance),
            idempotency_max_entries=settings.idempotency_max_entries,
            limit_per_ip=settings.rate_limit_per_ip_per_min,
            limit_per_source=settings.rate_limit_per_source_per_min,
            limit_per_user=settings.rate_limit_per_user_per_min,
            backfill_sources=frozenset(settings.backfill_sources),
            trusted_proxies=tuple(settings.gateway_trusted_proxies),
            body_timeout_s=settings.gateway_body_timeout_s,
            max_body_reads=settings.gateway_max_body_reads,
            max_large_body_reads=settings.gateway_max_large_body_reads,
            large_body_bytes=settings.gateway_large_body_bytes,
            read_slot_wait_s=settings.gateway_read_slot_wait_s,
            accept_content_encoding=settings.gateway_accept_content_encoding,
            retry_after_s=settings.gateway_retry_after_s,
            ready_timeout_s=settings.gateway_ready_timeout_s,
            ready_cache_s=settings.gateway_ready_cache_s,
            shutdown_timeout_s=settings.gateway_shutdown_timeout_s,
            flush_timeout_s=settings.gateway_flush_timeout_s,
            access_log_sample=settings.gateway_access_log_sample,
            probe_log_sample=settings.gateway_probe_log_sample,
        )
