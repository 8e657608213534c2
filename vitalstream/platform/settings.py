"""One settings object per process, read from ``VITALSTREAM_*`` environment variables.

Secrets are ``SecretStr`` so they never appear in reprs or logs. Services import this
leaf module; nothing here imports a service.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from schemas.confidence_model import ConfidenceModel, load_model
from schemas.identity import check_source_name, source_formats
from vitalstream.platform.secret_rules import check_opaque, check_whsec


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _split_csv(value: object) -> object:
    return _csv(value) if isinstance(value, str) else value


class Settings(BaseSettings):
    # hide_input_in_errors: a refused secret never appears in the validation error's text
    model_config = SettingsConfigDict(env_prefix="VITALSTREAM_", extra="ignore", frozen=True, hide_input_in_errors=True)

    # --- infrastructure ---
    kafka_bootstrap: str = "127.0.0.1:9092"
    database_url: SecretStr | None = None
    schema_registry_url: str | None = None
    topic_prefix: str = "vitalstream."
    group_prefix: str = "vitalstream."
    replication_factor: int = Field(1, ge=1, description="RF for topics we create (3 in production).")
    min_insync_replicas: int = Field(1, ge=1)
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_password_file: str | None = None
    """Read once at load into ``kafka_password`` (a mounted secret; the password itself stays off the env)."""
    kafka_ca_file: str | None = None
    kafka_cert_file: str | None = None
    """Client certificate (PEM) for mutual TLS; with ``kafka_key_file``."""
    kafka_key_file: str | None = None

    # --- gateway ---
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    admin_port: int = 8081
    admin_host: str = Field("127.0.0.1", description="Interface of the admin listener (never the public one).")
    admin_failures_per_min: int = Field(5, ge=1, description="Wrong admin tokens per address per minute, then 429.")
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
    backfill_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Sources whose every delivery is historical: routed to webhooks.backfill."
    )
    producer_linger_ms: int = Field(
        2, description="librdkafka linger: batches records; adds up to this to accept latency."
    )
    gateway_trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="CIDR ranges of proxies whose X-Forwarded-For entries are believed."
    )
    gateway_trusted_proxy_hops: int | None = Field(None, description="Replaced by gateway_trusted_proxies: refused.")
    gateway_body_timeout_s: float = Field(10.0, gt=0, description="Deadline for reading a body (then 408).")
    gateway_max_body_reads: int = Field(64, ge=1, description="Bodies read at once (beyond: wait, then 503).")
    gateway_max_large_body_reads: int = Field(2, ge=1, description="Of which larger than gateway_large_body_bytes.")
    gateway_large_body_bytes: int = Field(256 * 1024, ge=1, description="Above this (or unannounced) a body is large.")
    gateway_read_slot_wait_s: float = Field(1.0, ge=0, description="How long a small body waits for a read slot.")
    gateway_accept_content_encoding: bool = Field(
        False, description="Inflate gzip/deflate webhook bodies (the size cap applies to inflated bytes)."
    )
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
    s3_fetch_timeout_s: float = Field(10.0, gt=0, description="Longest download of one ping-mode payload.")
    s3_max_bytes: int = Field(50 * 1024 * 1024, ge=1, description="Largest ping-mode payload downloaded.")
    fetch_concurrency: int = Field(32, ge=1, description="Ping-mode downloads in flight at once (fetch stage).")
    fetch_allow_private: bool = Field(
        False,
        description="Let ping-mode URLs use plain http and private/loopback addresses (tests, the local stack).",
    )
    source_formats: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict, description="source=format pairs; a source not named speaks Terra's format."
    )
    dedup_window_s: int = Field(
        7 * 24 * 3600, ge=60, description="How long normalize remembers a finished event id (as long as webhooks.raw)."
    )
    backfill_incomplete_after_s: float = Field(
        6 * 3600,
        gt=0,
        description="A Terra large request with chunks missing and no news for this long is marked incomplete.",
    )

    backfill_pause_lag: int = Field(
        1000,
        ge=0,
        description="Live records (webhooks.raw + metrics.normalized) a worker may have unread before it pauses "
        "webhooks.backfill; resumed at or below it.",
    )
    backfill_target_delay_ms: int = Field(
        40,
        ge=0,
        description="The backfill lane holds its next slice while live records take this much longer from accept "
        "to scored than at their best in the last two minutes (0: off).",
    )

    # --- sink ---
    sink_metrics_port: int = 9102
    sink_batch_size: int = Field(
        10_000,
        ge=1,
        description="Records per database transaction at most (a backlog's batches; at low load they are smaller).",
    )
    sink_batch_max_wait_ms: int = Field(
        200, ge=0, description="How long an idle sink waits for a first record before it looks again."
    )
    sink_batch_linger_ms: int = Field(
        0,
        ge=0,
        description="After a batch's first record, how long to wait for more; 0: write what is ready at once.",
    )
    purge_on_deauth: bool = True
    db_statement_timeout_ms: int = 30_000
    db_lock_timeout_ms: int = 5_000
    db_idle_in_tx_timeout_ms: int = 60_000
    db_pool_max: int = 4

    # --- read API (vitalstream api) ---
    api_host: str = "127.0.0.1"
    api_port: int = 8090
    api_processes: int = Field(
        1, ge=1, le=64, description="Processes serving the API on its port (SO_REUSEPORT); about one per core."
    )
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
    api_sse_send_timeout_s: float = Field(
        10.0, gt=0, description="A stream write that cannot finish in this time means a stalled client: cut."
    )
    api_partition_refresh_s: float = Field(
        30.0, gt=0, description="How often the stream looks for partitions added to metrics.latest."
    )

    # --- health ---
    health_cache_s: float = 2.0
    health_check_timeout_s: float = 2.0
    health_lag_degraded: int = 10_000
    health_lag_unhealthy: int = 1_000_000
    health_dlq_degraded: int = 1
    health_webhook_success_degraded: float = 95.0
    consumer_stall_after_s: float = Field(
        60.0,
        gt=0,
        description="A group consumer (the sink's, the fetch stage's) that receives nothing while its partitions"
        " have lag and unmoving offsets for this long has lost its group: its loop replaces it.",
    )
    health_stuck_after_s: float = Field(
        300.0, gt=0, description="A stage with lag whose committed offset has not moved for this long is stuck."
    )

    # --- ops console ---
    console_host: str = "127.0.0.1"
    console_port: int = 8070
    console_tls_cert_file: str | None = Field(None, description="Serve the console over TLS (cookies get Secure).")
    console_tls_key_file: str | None = None
    console_session_ttl_s: int = Field(8 * 3600, ge=60)
    console_login_window_s: int = Field(900, ge=10, description="Failed logins are counted over this window.")
    console_login_max_failures_per_account: int = Field(5, ge=1)
    console_login_max_failures_per_address: int = Field(20, ge=1)
    console_live_interval_s: float = Field(2.0, gt=0, description="How often live pages' data is recomputed.")

    log_level: str = "INFO"
    confidence_model: str | None = None
    """JSON file overriding the built-in confidence model (``schemas.confidence_model``)."""

    @field_validator("terra_secrets", mode="before")
    @classmethod
    def _terra(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("terra_secrets")
    @classmethod
    def _terra_strong(cls, value: list[SecretStr]) -> list[SecretStr]:
        for secret in value:
            check_opaque(secret.get_secret_value(), "a Terra signing secret")
        return value

    @field_validator("admin_token", mode="before")
    @classmethod
    def _admin_empty(cls, value: object) -> object:
        """An empty token means "no admin API" (closed), like an unset one."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("admin_token")
    @classmethod
    def _admin_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_opaque(value.get_secret_value(), "the admin token")
        return value

    @field_validator("backfill_sources", mode="before")
    @classmethod
    def _backfill_sources_csv(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("gateway_trusted_proxies", mode="before")
    @classmethod
    def _proxies(cls, value: object) -> object:
        ranges = _split_csv(value)
        if isinstance(ranges, list):
            for text in ranges:
                try:
                    ipaddress.ip_network(str(text), strict=False)
                except ValueError:
                    raise ValueError(f"{text!r} is not an IP address or CIDR range (e.g. 10.0.0.0/8)") from None
        return ranges

    @field_validator("gateway_trusted_proxy_hops")
    @classmethod
    def _hops_replaced(cls, value: int | None) -> None:
        if value is not None:
            raise ValueError(
                "replaced by VITALSTREAM_GATEWAY_TRUSTED_PROXIES (the CIDR ranges of your proxies); unset it"
            )

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

    @model_validator(mode="after")
    def _kafka_security(self) -> Self:
        """Read the password file; refuse a half-configured client with the variable to set."""
        if self.kafka_password_file and self.kafka_password is None:
            try:
                text = Path(self.kafka_password_file).read_text().strip()
            except OSError as exc:
                raise ValueError(
                    f"VITALSTREAM_KAFKA_PASSWORD_FILE={self.kafka_password_file} cannot be read ({exc.strerror})"
                ) from None
            object.__setattr__(self, "kafka_password", SecretStr(text))
        if self.kafka_security_protocol == "SASL_SSL" and (not self.kafka_username or self.kafka_password is None):
            raise ValueError(
                "VITALSTREAM_KAFKA_SECURITY_PROTOCOL=SASL_SSL needs VITALSTREAM_KAFKA_USERNAME and "
                "VITALSTREAM_KAFKA_PASSWORD (or VITALSTREAM_KAFKA_PASSWORD_FILE)"
            )
        if bool(self.kafka_cert_file) != bool(self.kafka_key_file):
            raise ValueError("VITALSTREAM_KAFKA_CERT_FILE and VITALSTREAM_KAFKA_KEY_FILE go together (mutual TLS)")
        return self

    @field_validator("webhook_secrets")
    @classmethod
    def _webhook_strong(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for source, secret in value.items():
            for part in secret.get_secret_value().replace(",", " ").split():
                check_whsec(part, f"the secret of webhook source {source!r}")
        return value

    @field_validator("webhook_secrets", mode="after")
    @classmethod
    def _webhook_sources(cls, value: dict[str, SecretStr]) -> dict[str, SecretStr]:
        """Each source names a namespace (``<source>:…``, design §4): ``terra`` and ``:`` are not allowed."""
        for source in value:
            check_source_name(source)
            if source == "terra":
                raise ValueError("VITALSTREAM_WEBHOOK_SECRETS: 'terra' is Terra's own source; name the sender")
        return value

    @field_validator("source_formats", mode="before")
    @classmethod
    def _formats(cls, value: object) -> object:
        """``source=format`` pairs, comma separated (``acme=terra``)."""
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for pair in _csv(value):
            source, sep, fmt = pair.partition("=")
            if not sep or not source.strip() or not fmt.strip():
                raise ValueError("VITALSTREAM_SOURCE_FORMATS must be comma-separated source=format pairs (acme=terra)")
            pairs[source.strip()] = fmt.strip()
        return pairs

    @field_validator("source_formats", mode="after")
    @classmethod
    def _known_formats(cls, value: dict[str, str]) -> dict[str, str]:
        return source_formats(value)

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


def secret_values(settings: Settings) -> list[str]:
    """Every secret value of these settings (for the log scrubber), URL passwords included."""
    values: list[str] = []
    for name in type(settings).model_fields:
        field = getattr(settings, name)
        items = field.values() if isinstance(field, dict) else field if isinstance(field, list) else [field]
        for item in items:
            if isinstance(item, SecretStr):
                text = item.get_secret_value()
                parts = text.replace(",", " ").split()
                values += [text, *parts, *(p.removeprefix("whsec_") for p in parts if p.startswith("whsec_"))]
                password = urlsplit(text).password if "://" in text else None
                if password:
                    values += [password, unquote(password)]
    return [v for v in values if v]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
