"""Secure-mode fixtures: ONE SASL_SSL broker with ACLs for the whole secure suite, and per-service DB logins.

The broker always comes from the local launcher (the secure setup is what is under test); every
test still gets its own topic prefix, with the catalogue created by the broker's super user and
every principal's ACLs applied for that prefix — as `vitalstream up --secure` does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from tests.fix_kafka import make_settings
from tests.fix_pg import with_search_path
from tests.fix_pipeline import SERVICES, Pipeline, pipeline_env
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics
from vitalstream.stack import secure
from vitalstream.stack.kafka import KafkaBroker, new_cluster_id
from vitalstream.stack.postgres import SERVICE_LOGINS, ensure_login_role


@dataclass
class SecureKafka:
    broker: KafkaBroker
    passwords: dict[str, str]

    @property
    def security(self) -> secure.BrokerSecurity:
        assert self.broker.security is not None
        return self.broker.security

    def env(self, principal: str) -> dict[str, str]:
        """``VITALSTREAM_KAFKA_*`` of ``principal`` (a service name, or ``broker`` for the super user)."""
        return {
            "VITALSTREAM_KAFKA_BOOTSTRAP": self.broker.bootstrap,
            **self.security.client_env(principal, self.passwords[principal]),
        }

    def as_principal(self, settings: Settings, principal: str, password: str | None = None) -> Settings:
        """``settings`` (its prefixes, its database) on ``principal``'s credentials."""
        return settings.model_copy(
            update={
                "kafka_security_protocol": "SASL_SSL",
                "kafka_username": principal,
                "kafka_password": SecretStr(password or self.passwords[principal]),
                "kafka_ca_file": str(self.security.tls.ca_file),
            }
        )

    def prepare(self, **overrides: object) -> Settings:
        """Super-user settings with a fresh prefix: catalogue created, every principal's ACLs applied."""
        admin_settings = self.broker.admin_settings()
        settings = make_settings(self.broker.bootstrap, **overrides)
        settings = self.as_principal(settings, secure.BROKER_USER)
        report = ensure_topics(settings)
        assert not report.problems, report.problems
        secure.apply_acls(kafka.admin(admin_settings, "test-acls"), settings.topic_prefix, settings.group_prefix)
        return settings


@pytest.fixture(scope="session")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    workdir = Path(tmp_path_factory.mktemp("secure-kafka"))
    passwords = secure.new_passwords()
    security = secure.BrokerSecurity(secure.ensure_tls(workdir / "tls"), passwords[secure.BROKER_USER])
    broker = KafkaBroker(workdir / "kafka", security=security)
    broker.format(new_cluster_id())
    broker.start(timeout_s=90)
    try:
        admin = kafka.admin(broker.admin_settings(), "test-users")
        secure.upsert_users(admin, {p: passwords[p] for p in secure.PRINCIPALS})
        yield SecureKafka(broker, passwords)
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def db_logins(database_url: str) -> dict[str, tuple[str, str]]:
    """``{service: (login, password)}`` for the service roles of migrations 0007 and 0009 (created once per server).

    The group roles exist once any schema is migrated: this fixture migrates a throwaway schema first.
    """
    import psycopg

    from sinks.migrate import upgrade

    upgrade(database_url, schema="t_roles")
    out: dict[str, tuple[str, str]] = {}
    for name in SERVICE_LOGINS:
        password = secrets.token_hex(16)
        ensure_login_role(database_url, name, password)
        out[name] = (f"vs_{name}", password)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA t_roles CASCADE")
    return out


def login_url(database_url: str, schema: str, login: tuple[str, str]) -> str:
    """The service login's URL on the test's schema."""
    from vitalstream.stack.postgres import with_credentials

    return with_search_path(with_credentials(database_url, *login), schema)


@pytest.fixture
def secure_pipeline(
    secure_kafka: SecureKafka,
    database_url: str,
    db_schema: str,
    db_logins: dict[str, tuple[str, str]],
    tmp_path: Path,
) -> Iterator[Pipeline]:
    """Gateway, worker and sink each on its own Kafka principal, the sink on its own database login.

    ``p.settings`` (what a test checks with) is the broker's super user and the schema's owner."""
    settings = secure_kafka.prepare(database_url=SecretStr(with_search_path(database_url, db_schema)))
    env = pipeline_env(settings, tmp_path)
    without_db = {k: v for k, v in env.items() if k != "VITALSTREAM_DATABASE_URL"}
    p = Pipeline(settings, tmp_path, env)
    p.service_env = {name: {**without_db, **secure_kafka.env(name)} for name in SERVICES}
    p.service_env["sink"]["VITALSTREAM_DATABASE_URL"] = login_url(database_url, db_schema, db_logins["sink"])
    for service in SERVICES:
        p.start(service)
    yield p
    for service in list(p.pids):
        p.stop(service)
