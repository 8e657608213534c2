"""One settings object per process, read from ``VITALSTREAM_*`` environment variables.

Secrets are ``SecretStr`` so they never appear in reprs or logs. Services import this
leaf module; nothing here imports a service.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.confidence_model import ConfidenceModel, load_model


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_csv(value: object) -> object:
    return _csv(value) if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VITALSTREAM_", extra="ignore", frozen=True)

    # --- infrastructure ---
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: SecretStr | None = None
    schema_registry_url: str | None = None
    topic_prefix: str = "vitalstream."
    group_prefix: str = "vitalstream."
    replication_factor: int = Field(1, ge=1, description="RF for topics we create (3 in production).")
    min_insync_replicas: int = Field(1, ge=1)

    # --- gateway ---
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    admin_port: int = 8081
    terra_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    webhook_secrets: Annotated[dict[str, SecretStr], NoDecode] = Field(default_factory=dict)
    admin_token: SecretStr | None = None
    signature_tolerance_s: int = 300
    max_body_bytes: int = 10 * 1024 * 1024
    produce_timeout_s: float = 5.0
    idempotency_ttl_s: int = 900
    idempotency_max_entries: int = 200_000
    rate_limit_per_ip_per_min: int = 1000
    rate_limit_per_user_per_min: int = 1000
    rate_limit_per_source_per_min: int = 60_000
    producer_linger_ms: int = Field(
        2, description="librdkafka linger: batches records; adds up to this to accept latency."
    )
    gateway_trusted_proxy_hops: int = Field(0, ge=0, description="X-Forwarded-For hops to trust (0: ignore it).")
    gateway_retry_after_s: int = 5
    gateway_ready_timeout_s: float = 1.0
    gateway_ready_cache_s: float = 1.0
    gateway_shutdown_timeout_s: float = 15.0
    gateway_flush_timeout_s: float = 10.0
    gateway_access_log_sample: float = Field(1.0, ge=0, le=1, description="Share of webhook requests logged.")
    gateway_probe_log_sample: float = Field(0.01, ge=0, le=1, description="Share of health/metrics requests logged.")

    # --- worker ---
    worker_web_port: int = 6066
    worker_datadir: str = ".vitalstream/worker"
    worker_store: str = "rocksdb://"
    worker_bulk_restore: bool = Field(True, description="Restore tables from changelogs in bulk before Faust starts.")
    retry_delays_s: Annotated[list[float], NoDecode] = Field(default_factory=lambda: [5.0, 60.0, 600.0])
    s3_fetch_timeout_s: float = 10.0
    s3_max_bytes: int = 50 * 1024 * 1024
    dedup_window_s: int = Field(
        7 * 24 * 3600, ge=60, description="How long normalize remembers a finished event id (as long as webhooks.raw)."
    )

    # --- sink ---
    sink_metrics_port: int = 9102
    sink_batch_size: int = 5000
    sink_batch_max_wait_ms: int = 200
    purge_on_deauth: bool = True
    db_statement_timeout_ms: int = 30_000
    db_lock_timeout_ms: int = 5_000
    db_idle_in_tx_timeout_ms: int = 60_000
    db_pool_max: int = 4

    # --- read API (vitalstream api) ---
    api_host: str = "127.0.0.1"
    api_port: int = 8090
    api_database_url: SecretStr | None = Field(
        None, description="The API's own least-privilege login (vitalstream_reader); else VITALSTREAM_DATABASE_URL."
    )
    api_pool_min: int = Field(2, ge=1)
    api_pool_max: int = Field(8, ge=1)
    api_connect_timeout_s: float = Field(3.0, gt=0)
    api_pool_timeout_s: float = Field(2.0, gt=0, description="Longest wait for a free pooled connection.")
    api_statement_timeout_ms: int = Field(2_000, ge=1)
    api_rate_per_s: float = Field(100.0, gt=0, description="Sustained requests per second per API key.")
    api_rate_burst: int = Field(200, ge=1, description="Requests a key may send at once before it is limited.")
    api_key_cache_s: float = Field(5.0, ge=0, description="How long a looked-up key is trusted (revocation delay).")
    api_observations_max_limit: int = Field(1000, ge=1)
    api_sse_heartbeat_s: float = Field(15.0, gt=0)
    api_sse_queue_max: int = Field(1000, ge=1, description="Events buffered per stream; a slower client is dropped.")
    api_sse_max_subjects: int = Field(100, ge=1, description="Subjects one stream may follow.")
    api_stream_ready_timeout_s: float = Field(30.0, gt=0)

    # --- health ---
    health_cache_s: float = 2.0
    health_check_timeout_s: float = 2.0
    health_lag_degraded: int = 10_000
    health_lag_unhealthy: int = 1_000_000
    health_dlq_degraded: int = 1
    health_webhook_success_degraded: float = 95.0

    log_level: str = "INFO"
    confidence_model: str | None = None
    """JSON file overriding the built-in confidence model (``schemas.confidence_model``)."""

    @field_validator("terra_secrets", mode="before")
    @classmethod
    def _terra(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("retry_delays_s", mode="before")
    @classmethod
    def _delays(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _webhook(cls, value: object) -> object:
        """``source=whsec_...`` pairs, comma separated; a source may appear twice during a rotation."""
        if not isinstance(value, str):
            return value
        out: dict[str, str] = {}
        for pair in _csv(value):
            source, sep, secret = pair.partition("=")
            if not sep or not source.strip() or not secret.strip():
                raise ValueError("VITALSTREAM_WEBHOOK_SECRETS must be comma-separated source=whsec_... pairs")
            key = source.strip()
            out[key] = f"{out[key]} {secret.strip()}" if key in out else secret.strip()
        return out

    def topic(self, name: str) -> str:
        """Full topic name for a catalogue short name (``dlq`` → ``vitalstream.dlq``)."""
        return self.topic_prefix + name

    def scoring_model(self) -> ConfidenceModel:
        """The confidence model this process scores, levels and reports with (one source for the threshold)."""
        return load_model(self.confidence_model)

    def database_dsn(self) -> str:
        if self.database_url is None:
            raise RuntimeError(
                "VITALSTREAM_DATABASE_URL is not set: run `vitalstream up` (it writes .vitalstream/stack.env) "
                "or export a postgresql:// URL"
            )
        return self.database_url.get_secret_value()

    def api_database_dsn(self) -> str:
        """The read API's login; the owner's URL only when no reader login is configured."""
        if self.api_database_url is not None:
            return self.api_database_url.get_secret_value()
        return self.database_dsn()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
