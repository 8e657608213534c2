"""The gateway's view of the settings, with defaults for knobs the shared Settings may not have yet.

Knobs read with ``getattr`` (defaults below) are proposed ``Settings`` fields; once they
exist in ``vitalstream/platform/settings.py`` the environment variables take effect without code
changes here.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.signatures import split_secrets
from vitalstream.platform.settings import Settings

# proposed Settings fields (VITALSTREAM_<NAME>) and their defaults
DEFAULT_TRUSTED_PROXY_HOPS = 0  # gateway_trusted_proxy_hops: honour X-Forwarded-For only when > 0
DEFAULT_RETRY_AFTER_S = 5  # gateway_retry_after_s: Retry-After of 503 answers
DEFAULT_READY_TIMEOUT_S = 1.0  # gateway_ready_timeout_s: broker metadata timeout of /readyz
DEFAULT_READY_CACHE_S = 1.0  # gateway_ready_cache_s: how long a /readyz verdict is reused
DEFAULT_SHUTDOWN_TIMEOUT_S = 15.0  # gateway_shutdown_timeout_s: wait for in-flight requests on stop
DEFAULT_FLUSH_TIMEOUT_S = 10.0  # gateway_flush_timeout_s: producer flush on stop
DEFAULT_ACCESS_LOG_SAMPLE = 1.0  # gateway_access_log_sample: share of successful webhook requests logged
DEFAULT_PROBE_LOG_SAMPLE = 0.01  # gateway_probe_log_sample: share of health/metrics requests logged
RATE_WINDOW_S = 60.0


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    raw_topic: str
    terra_secrets: tuple[str, ...]
    webhook_secrets: dict[str, tuple[str, ...]]
    tolerance_s: int
    max_body_bytes: int
    produce_timeout_s: float
    idempotency_ttl_s: float
    idempotency_max_entries: int
    limit_per_ip: int
    limit_per_source: int
    limit_per_user: int
    trusted_proxy_hops: int = DEFAULT_TRUSTED_PROXY_HOPS
    retry_after_s: int = DEFAULT_RETRY_AFTER_S
    ready_timeout_s: float = DEFAULT_READY_TIMEOUT_S
    ready_cache_s: float = DEFAULT_READY_CACHE_S
    shutdown_timeout_s: float = DEFAULT_SHUTDOWN_TIMEOUT_S
    flush_timeout_s: float = DEFAULT_FLUSH_TIMEOUT_S
    access_log_sample: float = DEFAULT_ACCESS_LOG_SAMPLE
    probe_log_sample: float = DEFAULT_PROBE_LOG_SAMPLE
    rate_window_s: float = RATE_WINDOW_S

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayConfig:
        tolerance = settings.signature_tolerance_s
        return cls(
            raw_topic=settings.topic("webhooks.raw"),
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
            trusted_proxy_hops=int(getattr(settings, "gateway_trusted_proxy_hops", DEFAULT_TRUSTED_PROXY_HOPS)),
            retry_after_s=int(getattr(settings, "gateway_retry_after_s", DEFAULT_RETRY_AFTER_S)),
            ready_timeout_s=float(getattr(settings, "gateway_ready_timeout_s", DEFAULT_READY_TIMEOUT_S)),
            ready_cache_s=float(getattr(settings, "gateway_ready_cache_s", DEFAULT_READY_CACHE_S)),
            shutdown_timeout_s=float(getattr(settings, "gateway_shutdown_timeout_s", DEFAULT_SHUTDOWN_TIMEOUT_S)),
            flush_timeout_s=float(getattr(settings, "gateway_flush_timeout_s", DEFAULT_FLUSH_TIMEOUT_S)),
            access_log_sample=float(getattr(settings, "gateway_access_log_sample", DEFAULT_ACCESS_LOG_SAMPLE)),
            probe_log_sample=float(getattr(settings, "gateway_probe_log_sample", DEFAULT_PROBE_LOG_SAMPLE)),
        )
