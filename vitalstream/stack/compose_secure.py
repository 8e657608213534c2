"""Secure mode for docker compose (``deploy/compose/secure.yml``): the same setup as ``up --secure``.

``python -m vitalstream.stack.compose_secure setup BROKER_DIR CA_DIR`` (one-shot, before Kafka): the CA and the
certificate of host ``kafka`` (and localhost, for the host port), the broker's ``server.properties``
and the client file of its health check. ``… provision`` (in ``init``, after ``topics create``
and ``db migrate``): SCRAM users and ACLs of every principal, and the sink's database login.
Passwords come from the environment (``.env``): ``KAFKA_BROKER_PASSWORD``, ``KAFKA_<PRINCIPAL>_PASSWORD``,
``SINK_DB_PASSWORD``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vitalstream.stack import secure

MOUNT = Path("/secure")
"""Where the kafka container and the services see the setup's volume."""
LISTENERS = (
    "listeners=INTERNAL://:19092,EXTERNAL://:9092,CONTROLLER://localhost:9093",
    "advertised.listeners=INTERNAL://kafka:19092,EXTERNAL://localhost:9092",
    "listener.security.protocol.map=INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT",
    "inter.broker.listener.name=INTERNAL",
    "controller.listener.names=CONTROLLER",
    "controller.quorum.voters=1@localhost:9093",
)
"""The controller listens on the container's loopback only (its PLAINTEXT principal is a super user)."""
BROKER = (
    "process.roles=broker,controller",
    "node.id=1",
    "log.dirs=/var/lib/kafka/data",
    "auto.create.topics.enable=false",
    "num.partitions=3",
    "default.replication.factor=1",
    "min.insync.replicas=1",
    "offsets.topic.replication.factor=1",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
)


def _password(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise SystemExit(f"error: {name} is not set: put it in .env (see deploy/compose/env.example)")
    return value


def broker_properties(security: secure.BrokerSecurity) -> str:
    return "\n".join([*BROKER, *LISTENERS, *security.security_properties(("INTERNAL", "EXTERNAL"), MOUNT / "tls"), ""])


def health_client_properties(security: secure.BrokerSecurity) -> str:
    """For ``kafka-broker-api-versions.sh --command-config`` inside the kafka container."""
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{secure.BROKER_USER}" password="{security.broker_password}";'
    )
    return "\n".join(
        [
            "security.protocol=SASL_SSL",
            f"sasl.mechanism={secure.MECHANISM}",
            f"sasl.jaas.config={jaas}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={MOUNT / 'tls' / 'ca.pem'}",
            "",
        ]
    )


def setup(directory: Path, ca_dir: Path) -> None:
    """Broker files in ``directory`` (the kafka container's volume, private to it); the CA alone in
    ``ca_dir`` (the services' volume: they must never see the broker's key or password)."""
    security = secure.BrokerSecurity(
        secure.ensure_tls(directory / "tls", hosts=("kafka", "localhost")), _password("KAFKA_BROKER_PASSWORD")
    )
    (directory / "server.properties").write_text(broker_properties(security))
    (directory / "client.properties").write_text(health_client_properties(security))
    uid = int(os.environ.get("KAFKA_CONTAINER_UID", "1000"))  # apache/kafka runs as appuser
    for path in [directory, *directory.rglob("*")]:
        if os.geteuid() == 0:
            os.chown(path, uid, uid)
        path.chmod(0o700 if path.is_dir() else 0o600)
    ca_dir.mkdir(parents=True, exist_ok=True)
    (ca_dir / "ca.pem").write_bytes(security.tls.ca_file.read_bytes())
    (ca_dir / "ca.pem").chmod(0o644)
    print(f"secure: broker TLS and configuration in {directory}, the CA in {ca_dir}")


def provision() -> None:
    from vitalstream.platform import kafka
    from vitalstream.platform.settings import Settings
    from vitalstream.stack.postgres import ensure_login_role

    settings = Settings()  # the init container runs as the broker's super user
    passwords = {p: _password(f"KAFKA_{p.upper()}_PASSWORD") for p in secure.PRINCIPALS}
    admin = kafka.admin(settings, "provision")
    secure.upsert_users(admin, passwords)
    count = secure.apply_acls(admin, settings.topic_prefix, settings.group_prefix)
    ensure_login_role(settings.database_dsn(), "sink", _password("SINK_DB_PASSWORD"))
    print(f"secure: {len(passwords)} Kafka users, {count} ACLs, database login vs_sink")


def main(argv: list[str]) -> None:
    if argv[:1] == ["setup"] and len(argv) == 3:
        setup(Path(argv[1]), Path(argv[2]))
    elif argv == ["provision"]:
        provision()
    else:
        raise SystemExit("usage: python -m vitalstream.stack.compose_secure setup BROKER_DIR CA_DIR | provision")


if __name__ == "__main__":
    main(sys.argv[1:])
