"""Least privilege on Kafka for the local stack and the tests (``vitalstream up --secure``).

A local CA and a certificate for 127.0.0.1/localhost (PEM files Kafka reads as they are),
SCRAM-SHA-512 users, the broker's own super-user principal, and one principal per role
with prefixed ACLs (:data:`ACL_TABLE`, also the table of the README's runbook). The same
functions serve an existing cluster: :func:`upsert_users` and :func:`apply_acls` only need
an admin client on a principal allowed to alter users and ACLs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialUpsertion,
)

from vitalstream.platform.settings import Settings

if TYPE_CHECKING:
    from cryptography import x509

    from vitalstream.stack.kafka import KafkaBroker

PRINCIPALS: tuple[str, ...] = ("gateway", "worker", "sink", "ops", "analyst", "api")
BROKER_USER = "broker"
MECHANISM = "SCRAM-SHA-512"
SCRAM_ITERATIONS = 8192
HOST = "127.0.0.1"


# --- the ACL table ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Grant:
    """Operations on one resource pattern. ``name`` is appended to the topic prefix (``kind`` topic)
    or the group prefix (``kind`` group, or ``internal``: topics named after the worker's app id)."""

    kind: str  # topic | internal | group | cluster
    name: str
    operations: tuple[str, ...]
    prefixed: bool = False


READ = ("READ", "DESCRIBE")
WRITE = ("WRITE", "DESCRIBE")
WORKER_INPUTS = ("metrics.normalized", "control")
SINK_INPUTS = ("metrics.scored", "users", "metrics.quality_daily", "events.ledger", "backfill.jobs")
REPLAY_TARGETS = ("metrics.normalized", "metrics.scored", "users", "metrics.quality_daily", "events.ledger")
"""Topics a dead letter can come from: ``dlq replay`` re-publishes it there."""

ACL_TABLE: dict[str, tuple[Grant, ...]] = {
    "gateway": (
        Grant("topic", "webhooks.", WRITE, prefixed=True),  # webhooks.raw, webhooks.backfill
        Grant("topic", "backfill.jobs", WRITE),
        # /health's lag and members: offsets and group metadata, never a record
        Grant("topic", "", ("DESCRIBE",), prefixed=True),
        Grant("internal", "", ("DESCRIBE",), prefixed=True),
        Grant("group", "", ("DESCRIBE",), prefixed=True),
        Grant("cluster", "", ("IDEMPOTENT_WRITE",)),
    ),
    "worker": (
        Grant("topic", "webhooks.", ("READ", "WRITE", "DESCRIBE"), prefixed=True),  # retries go back there
        Grant("topic", "retry.", ("READ", "WRITE", "DESCRIBE"), prefixed=True),
        *(Grant("topic", t, READ) for t in WORKER_INPUTS),
        Grant("topic", "metrics.", WRITE, prefixed=True),
        *(Grant("topic", t, WRITE) for t in ("users", "ops.events", "events.ledger", "dlq", "backfill.jobs")),
        Grant(
            "internal",
            "worker",
            ("READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS", "ALTER_CONFIGS"),
            prefixed=True,
        ),  # Faust's changelogs, the dedup changelog, quality deltas, the assignor topic; every generation
        Grant("group", "worker", READ, prefixed=True),  # its groups, every generation's, its ephemeral readers'
        Grant("group", "restore", READ),
        Grant("cluster", "", ("IDEMPOTENT_WRITE",)),
    ),
    "sink": (
        *(Grant("topic", t, READ) for t in SINK_INPUTS),
        Grant("topic", "ops.events", READ),  # Terra's healthcheck, for the reconciliation gauge
        Grant("topic", "metrics.latest", WRITE),  # tombstones after a purge
        Grant("topic", "dlq", WRITE),
        Grant("group", "sink", READ, prefixed=True),  # its group and its ephemeral readers' (sink.…)
        Grant("cluster", "", ("IDEMPOTENT_WRITE",)),
    ),
    "ops": (
        Grant("topic", "", ("READ", "DESCRIBE", "DESCRIBE_CONFIGS"), prefixed=True),  # health, tail, dlq ls
        *(Grant("topic", t, WRITE) for t in ("dlq", "dlq.replays", "control", *REPLAY_TARGETS)),
        Grant("topic", "webhooks.", WRITE, prefixed=True),
        Grant("internal", "", READ, prefixed=True),  # consumer lag of every group's topics
        Grant("group", "", READ, prefixed=True),
        Grant("cluster", "", ("IDEMPOTENT_WRITE", "DESCRIBE")),
    ),
    "analyst": (
        Grant("topic", "metrics.", READ, prefixed=True),
        Grant("group", "analyst", READ, prefixed=True),
    ),
    "api": (  # the read API's live feed (/v1/stream) follows the current values
        Grant("topic", "metrics.latest", READ),
        Grant("group", "api", READ, prefixed=True),
    ),
}
"""Who may do what (design §3, issue 14). Nothing here: denied (``allow.everyone.if.no.acl.found=false``)."""


def acl_bindings(principal: str, topic_prefix: str, group_prefix: str) -> list[AclBinding]:
    """The ACL bindings of ``principal`` (a key of :data:`ACL_TABLE`) for the given prefixes, each once
    (topic and group prefixes are often the same: ``internal`` grants then repeat ``topic`` ones)."""
    out: list[AclBinding] = []
    for grant in ACL_TABLE[principal]:
        if grant.kind == "cluster":
            rtype, name, pattern = ResourceType.BROKER, "kafka-cluster", ResourcePatternType.LITERAL
        else:
            rtype = ResourceType.GROUP if grant.kind == "group" else ResourceType.TOPIC
            name = (topic_prefix if grant.kind == "topic" else group_prefix) + grant.name
            pattern = ResourcePatternType.PREFIXED if grant.prefixed else ResourcePatternType.LITERAL
        for operation in grant.operations:
            out.append(
                AclBinding(
                    rtype,
                    name,
                    pattern,
                    f"User:{principal}",
                    "*",
                    AclOperation[operation],
                    AclPermissionType.ALLOW,
                )
            )
    return list(dict.fromkeys(out))


def apply_acls(admin: AdminClient, topic_prefix: str, group_prefix: str, timeout_s: float = 30.0) -> int:
    """Create every principal's ACLs for these prefixes (idempotent: Kafka keeps one copy); returns how many.

    Returns once the broker describes them all: the controller commits ACLs before a broker's
    authorizer has them, and a client arriving in between would be refused.
    """
    bindings = [b for p in PRINCIPALS for b in acl_bindings(p, topic_prefix, group_prefix)]
    for fut in admin.create_acls(bindings, request_timeout=timeout_s).values():
        fut.result()
    everything = AclBindingFilter(  # None matches any name, principal and host
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        None,  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    deadline = time.monotonic() + timeout_s
    while not set(bindings) <= set(admin.describe_acls(everything, request_timeout=timeout_s).result()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the broker did not show the new ACLs within {timeout_s:.0f}s")
        time.sleep(0.1)
    return len(bindings)


def upsert_users(admin: AdminClient, passwords: dict[str, str], timeout_s: float = 30.0) -> None:
    """Create or re-password SCRAM users (a rotation: the old password stops working at once)."""
    info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
    changes: list[UserScramCredentialAlteration] = [
        UserScramCredentialUpsertion(name, info, pw.encode()) for name, pw in passwords.items()
    ]
    for fut in admin.alter_user_scram_credentials(changes, request_timeout=timeout_s).values():
        fut.result()


def new_passwords(names: tuple[str, ...] = (BROKER_USER, *PRINCIPALS)) -> dict[str, str]:
    """Hex passwords: nothing to quote in JAAS or ``--add-scram``."""
    return {name: secrets.token_hex(24) for name in names}


def with_principal(settings: Settings, principal: Settings) -> Settings:
    """``settings`` (prefixes, database, …) with ``principal``'s Kafka identity and TLS settings."""
    return settings.model_copy(update={name: getattr(principal, name) for name in KAFKA_IDENTITY})


KAFKA_IDENTITY = (
    "kafka_security_protocol",
    "kafka_sasl_mechanism",
    "kafka_username",
    "kafka_password",
    "kafka_ca_file",
    "kafka_cert_file",
    "kafka_key_file",
)


def env_settings(env: dict[str, str]) -> Settings:
    """Settings from ``VITALSTREAM_*`` variables given here rather than in the process environment."""
    return Settings(**{k.removeprefix("VITALSTREAM_").lower(): v for k, v in env.items()})  # type: ignore[arg-type]


# --- certificates ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tls:
    directory: Path

    @property
    def ca_file(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def keystore_file(self) -> Path:
        """The broker's private key and certificate chain in one PEM file (``ssl.keystore.type=PEM``)."""
        return self.directory / "broker.pem"


def ensure_tls(directory: Path, hosts: tuple[str, ...] = ("localhost", HOST), days: int = 825) -> Tls:
    """A local CA and a broker certificate for ``hosts`` (names or IP addresses) signed by it (kept once made)."""
    tls = Tls(directory)
    if tls.ca_file.exists() and tls.keystore_file.exists():
        return tls
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vitalstream local CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    directory.mkdir(parents=True, exist_ok=True)
    _write_private(tls.keystore_file, key_pem + cert.public_bytes(pem) + ca.public_bytes(pem))
    tls.ca_file.write_bytes(ca.public_bytes(pem))
    return tls


def _san(host: str) -> x509.GeneralName:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def _write_private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(data)


# --- the broker's side ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BrokerSecurity:
    """What turns a :class:`~vitalstream.stack.kafka.KafkaBroker` into a SASL_SSL broker with ACLs."""

    tls: Tls
    broker_password: str

    def listener_properties(self, port: int, controller_port: int) -> list[str]:
        """Clients and brokers on SASL_SSL; the KRaft controller on loopback PLAINTEXT, where SCRAM cannot
        work (controllers would need the metadata log to verify a SCRAM user). Its principal, ANONYMOUS,
        is therefore a super user: keep that port unreachable from other hosts."""
        return [
            f"listeners=SASL_SSL://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
            f"advertised.listeners=SASL_SSL://{HOST}:{port}",
            "inter.broker.listener.name=SASL_SSL",
            "listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT",
            *self.security_properties(("SASL_SSL",)),
        ]

    def security_properties(self, sasl_listeners: tuple[str, ...], tls_dir: Path | None = None) -> list[str]:
        """SCRAM on ``sasl_listeners`` (the broker's own login on each), PEM TLS, the authorizer, super users.

        ``tls_dir`` is where the broker sees the TLS files when not where they were made (a container mount).
        """
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{BROKER_USER}" password="{self.broker_password}";'
        )
        tls = Tls(tls_dir) if tls_dir is not None else self.tls
        return [
            f"sasl.enabled.mechanisms={MECHANISM}",
            f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
            *(f"listener.name.{name.lower()}.{MECHANISM.lower()}.sasl.jaas.config={jaas}" for name in sasl_listeners),
            "ssl.keystore.type=PEM",
            f"ssl.keystore.location={tls.keystore_file}",
            "ssl.truststore.type=PEM",
            f"ssl.truststore.location={tls.ca_file}",
            "ssl.endpoint.identification.algorithm=https",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{BROKER_USER};User:ANONYMOUS",
        ]

    def format_args(self) -> list[str]:
        """``kafka-storage format`` arguments creating the broker's SCRAM user before the first start."""
        return ["--add-scram", f"{MECHANISM}=[name={BROKER_USER},password={self.broker_password}]"]

    def client_env(self, name: str, password: str) -> dict[str, str]:
        """The ``VITALSTREAM_KAFKA_*`` variables of principal ``name`` on this broker."""
        return {
            "VITALSTREAM_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "VITALSTREAM_KAFKA_SASL_MECHANISM": MECHANISM,
            "VITALSTREAM_KAFKA_USERNAME": name,
            "VITALSTREAM_KAFKA_PASSWORD": password,
            "VITALSTREAM_KAFKA_CA_FILE": str(self.tls.ca_file),
        }


# --- the local stack (`vitalstream up --secure`) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class SecureStack:
    """The secure parts of a stack directory: ``tls/``, ``principals/`` (env files, kept passwords)."""

    root: Path

    @property
    def principals(self) -> Path:
        return self.root / "principals"

    def passwords(self, names: tuple[str, ...] = (BROKER_USER, *PRINCIPALS)) -> dict[str, str]:
        """Passwords by name (SCRAM users; ``db:<login>`` for database logins), made once and kept (0600)."""
        path = self.principals / ".passwords.json"
        try:
            kept = dict(json.loads(path.read_text()))
        except (OSError, ValueError):
            kept = {}
        missing = tuple(n for n in names if n not in kept)
        if missing:
            kept |= new_passwords(missing)
            self.principals.mkdir(parents=True, exist_ok=True)
            _write_private(path, json.dumps(kept).encode())
        return kept

    def broker_security(self) -> BrokerSecurity:
        return BrokerSecurity(ensure_tls(self.root / "tls"), self.passwords()[BROKER_USER])

    def provision(self, security: BrokerSecurity, admin: AdminClient, settings: Settings) -> dict[str, dict[str, str]]:
        """SCRAM users and ACLs for every principal on the running broker; returns their Kafka env."""
        passwords = self.passwords()
        upsert_users(admin, {p: passwords[p] for p in PRINCIPALS})
        apply_acls(admin, settings.topic_prefix, settings.group_prefix)
        return {
            p: {"VITALSTREAM_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, **security.client_env(p, passwords[p])}
            for p in PRINCIPALS
        }

    def database_env(self, admin_url: str) -> dict[str, dict[str, str]]:
        """A login per service role on the local server (migrated first): the sink's and the analyst's URL;
        ops keeps the owner's URL (migrations, retention)."""
        from vitalstream.stack.postgres import SERVICE_LOGINS, ensure_login_role

        passwords = self.passwords(tuple(f"db:{n}" for n in SERVICE_LOGINS))
        urls = {n: ensure_login_role(admin_url, n, passwords[f"db:{n}"]) for n in SERVICE_LOGINS}
        return {
            "sink": {"VITALSTREAM_DATABASE_URL": urls["sink"]},
            "analyst": {"VITALSTREAM_DATABASE_URL": urls["analyst"]},
            "ops": {"VITALSTREAM_DATABASE_URL": admin_url},
        }

    def write_env_files(self, envs: dict[str, dict[str, str]]) -> None:
        """``principals/<name>.env``: what a process needs to act as that principal (``set -a; . file``)."""
        for name, env in envs.items():
            _write_private(self.principals / f"{name}.env", "".join(f"{k}={v}\n" for k, v in env.items()).encode())


def storage_mode(kafka_dir: Path, secure: bool) -> BrokerSecurity | None:
    """The local broker's security, refusing to flip the mode of storage formatted the other way
    (a plaintext-formatted log has no SCRAM user for the broker to authenticate itself with)."""
    from vitalstream.stack.errors import StackError

    marker = kafka_dir / "secure"
    if (kafka_dir / "data" / "meta.properties").exists() and marker.exists() != secure:
        was, now = ("secure", "plaintext") if marker.exists() else ("plaintext", "secure")
        raise StackError(
            f"the local Kafka in {kafka_dir} was formatted {was}; to start it {now}, `vitalstream down` and "
            f"remove that directory (its topics are lost) or use another VITALSTREAM_STACK_DIR"
        )
    if not secure:
        return None
    kafka_dir.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return SecureStack(kafka_dir.parent).broker_security()


def provision_stack(
    root: Path, broker: KafkaBroker | None, settings: Settings, local_db: bool
) -> dict[str, dict[str, str]]:
    """Users, ACLs and (on the local server) database logins for every principal; writes their env files.

    Returns each principal's variables: a service started by the stack gets its own on top of ``stack.env``.
    """
    from vitalstream.platform import kafka

    assert broker is not None and broker.security is not None, "--secure runs its own broker"
    stack = SecureStack(root)
    kafka_env = stack.provision(broker.security, kafka.admin(broker.admin_settings(), "stack-acls"), settings)
    db_env = stack.database_env(settings.database_dsn()) if local_db else {}
    if not local_db:
        print(
            "PostgreSQL: VITALSTREAM_DATABASE_URL given: create the service logins yourself (README 'Least privilege')"
        )
    envs = {name: {**kafka_env[name], **db_env.get(name, {})} for name in PRINCIPALS}
    stack.write_env_files(envs)
    print(f"Kafka: SASL_SSL principals {', '.join(PRINCIPALS)} with ACLs; env files in {stack.principals}/")
    return envs
