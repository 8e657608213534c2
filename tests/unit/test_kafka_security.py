"""Kafka client security settings: one place builds them for librdkafka and Faust; secrets stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.stack import secure


def _sasl(tmp_path: Path, **extra: object) -> Settings:
    secret = tmp_path / "pw"
    secret.write_text("s3cret-from-file\n")
    values: dict[str, object] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_username": "sink",
        "kafka_password_file": str(secret),
        **extra,
    }
    return Settings(**values)  # type: ignore[arg-type]


def test_plaintext_adds_nothing_but_the_protocol() -> None:
    config = kafka.client_config(Settings(), "t")
    assert config["security.protocol"] == "PLAINTEXT"
    assert not [k for k in config if k.startswith(("sasl.", "ssl."))]
    assert kafka.faust_credentials(Settings()) is None


def test_sasl_ssl_reaches_every_client_kind_and_the_password_file_is_read(tmp_path: Path) -> None:
    s = _sasl(tmp_path, kafka_ca_file="/etc/ca.pem")
    for config in (
        kafka.producer_config(s, "p"),
        kafka.consumer_config(s, "c"),
        kafka.client_config(s, "admin"),
    ):
        assert config["security.protocol"] == "SASL_SSL"
        assert config["sasl.mechanism"] == "SCRAM-SHA-512"
        assert config["sasl.username"] == "sink"
        assert config["sasl.password"] == "s3cret-from-file"
        assert config["ssl.ca.location"] == "/etc/ca.pem"
    assert "s3cret" not in repr(s) and "s3cret" not in str(s.model_dump())


def test_faust_gets_sasl_over_ssl_never_sasl_plaintext(tmp_path: Path) -> None:
    creds = kafka.faust_credentials(_sasl(tmp_path))
    assert creds is not None
    assert creds.protocol.value == "SASL_SSL"  # Faust falls back to SASL_PLAINTEXT without an SSL context
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert "s3cret" not in repr(creds)


def test_half_configured_clients_are_refused_without_echoing_secrets(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="VITALSTREAM_KAFKA_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL", kafka_password="leaky-value")  # type: ignore[arg-type]
    try:
        Settings(kafka_security_protocol="SASL_SSL", kafka_password="leaky-value")  # type: ignore[arg-type]
    except ValidationError as exc:
        assert "leaky-value" not in str(exc)
    with pytest.raises(ValidationError, match="cannot be read"):
        Settings(kafka_password_file=str(tmp_path / "missing"))  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="go together"):
        Settings(kafka_cert_file="/c.pem")  # type: ignore[arg-type]


def test_ephemeral_groups_live_under_the_principal(tmp_path: Path) -> None:
    assert kafka.ephemeral_group(Settings(), "tail").startswith("vitalstream.tail-")
    assert kafka.ephemeral_group(_sasl(tmp_path), "tail").startswith("vitalstream.sink.tail-")


def test_acl_table_keeps_the_analyst_to_reading_metrics_and_the_gateway_to_writing_webhooks() -> None:
    analyst = secure.acl_bindings("analyst", "vitalstream.", "vitalstream.")
    assert {b.operation.name for b in analyst} == {"READ", "DESCRIBE"}
    assert {b.name for b in analyst if b.restype.name == "TOPIC"} == {"vitalstream.metrics."}
    gateway = secure.acl_bindings("gateway", "vitalstream.", "vitalstream.")
    assert not [b for b in gateway if b.operation.name == "READ"]
    assert {b.name for b in gateway if b.operation.name == "WRITE"} == {
        "vitalstream.webhooks.",
        "vitalstream.backfill.jobs",
    }
    for principal in secure.PRINCIPALS:
        bindings = secure.acl_bindings(principal, "p.", "p.")
        assert all(b.principal == f"User:{principal}" for b in bindings)
        assert len(bindings) == len(set(bindings))


def test_compose_setup_keeps_the_broker_secrets_out_of_the_services_volume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vitalstream.stack import compose_secure

    monkeypatch.setenv("KAFKA_BROKER_PASSWORD", "b" * 48)
    compose_secure.setup(tmp_path / "broker", tmp_path / "ca")
    assert [p.name for p in (tmp_path / "ca").iterdir()] == ["ca.pem"]
    assert (tmp_path / "ca" / "ca.pem").read_bytes() == (tmp_path / "broker" / "tls" / "ca.pem").read_bytes()
    assert "b" * 48 in (tmp_path / "broker" / "server.properties").read_text()
    for path in (tmp_path / "broker").rglob("*"):
        assert path.stat().st_mode & 0o077 == 0, path
    monkeypatch.delenv("KAFKA_BROKER_PASSWORD")
    with pytest.raises(SystemExit, match="KAFKA_BROKER_PASSWORD"):
        compose_secure.setup(tmp_path / "again", tmp_path / "ca2")


def test_the_stack_cli_acts_as_recompute_only_where_it_would_act_as_ops(tmp_path: Path) -> None:
    stack = secure.SecureStack(tmp_path)
    security = secure.BrokerSecurity(secure.Tls(tmp_path / "tls"), "pw")
    stack.write_env_files({"recompute": {"VITALSTREAM_DATABASE_URL": "x", **security.client_env("recompute", "r-pw")}})
    ops = _sasl(tmp_path, kafka_username="ops")
    as_recompute = secure.stack_principal(ops, tmp_path, "recompute")
    assert as_recompute.kafka_username == "recompute"
    assert as_recompute.kafka_password is not None and as_recompute.kafka_password.get_secret_value() == "r-pw"
    assert as_recompute.database_url == ops.database_url  # the Kafka identity only
    analyst = _sasl(tmp_path, kafka_username="analyst")
    assert secure.stack_principal(analyst, tmp_path, "recompute") is analyst  # chosen on purpose: kept
    assert secure.stack_principal(ops, tmp_path / "plaintext", "recompute") is ops  # no principals/ here


def test_recompute_may_switch_generations_but_not_read_webhooks_or_users() -> None:
    bindings = secure.acl_bindings("recompute", "p.", "p.")
    writes = {b.name for b in bindings if b.operation.name == "WRITE"}
    reads = {b.name for b in bindings if b.operation.name == "READ"}
    assert "p.control" in writes and "p.control" in reads
    assert not {"p.webhooks.", "p.users", "p.webhooks.raw"} & (writes | reads)
