"""Apache Kafka (KRaft) for the local stack and the tests, without Docker.

The broker's jars come from Maven Central through ``deploy/kafka/pom.xml``
(``mvn dependency:copy-dependencies``), fetched once per user and version into
``~/.cache/vitalstream/kafka-<version>/libs``; ``KAFKA_HOME`` (an unpacked Apache
Kafka distribution) is used instead when set. Each broker is one JVM running
``kafka.Kafka`` as a combined broker+controller; several form a KRaft cluster.
"""

from __future__ import annotations

import base64
import fcntl
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vitalstream.stack import proc
from vitalstream.stack.errors import StackError
from vitalstream.stack.ports import free_port, port_in_use
from vitalstream.stack.secure import BrokerSecurity

if TYPE_CHECKING:
    from vitalstream.platform.settings import Settings

DEPLOY_KAFKA = Path(__file__).resolve().parents[2] / "deploy" / "kafka"
POM = DEPLOY_KAFKA / "pom.xml"
LOG4J = DEPLOY_KAFKA / "log4j2.properties"


def kafka_version() -> str:
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text())
    if not match:
        raise StackError(f"{POM} has no <kafka.version>: restore it from git")
    return match.group(1)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vitalstream"


def java_major() -> int:
    java = shutil.which("java")
    if java is None:
        raise StackError("Java 17+ not found: install it (apt-get install openjdk-17-jre-headless) or put java on PATH")
    out = proc.run([java, "-version"])
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        raise StackError(f"cannot tell the Java version from `java -version`: {out.stderr.strip()[:200]}")
    major = int(match.group(1))
    if major == 1 and match.group(2):
        major = int(match.group(2))
    if major < 17:
        raise StackError(f"Java {major} found, Kafka 4 needs Java 17+: install openjdk-17-jre-headless")
    return major


def ensure_jars() -> Path:
    """Directory holding the broker's jars (fetched from Maven Central on first use)."""
    kafka_home = os.environ.get("KAFKA_HOME")
    if kafka_home:
        libs = Path(kafka_home) / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise StackError(f"KAFKA_HOME={kafka_home} has no libs/kafka_2.13-*.jar: point it at an unpacked Kafka")
        return libs
    version = kafka_version()
    root = cache_root() / f"kafka-{version}"
    libs = root / "libs"
    done = root / ".complete"
    if done.exists():
        return libs
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise StackError(
                "Maven (mvn) not found: install it (apt-get install maven) or set KAFKA_HOME to an unpacked Kafka"
            )
        tmp = root / "libs.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        print(f"fetching Apache Kafka {version} jars from Maven Central (once) …", flush=True)
        out = proc.run(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={tmp}",
            ]
        )
        if out.returncode != 0 or not any(tmp.glob("kafka_2.13-*.jar")):
            lines = [ln for ln in (out.stdout + out.stderr).splitlines() if "ERROR" in ln] or [out.stderr.strip()]
            raise StackError(
                f"fetching Kafka {version} jars from Maven Central failed ({lines[0][:300]}): "
                "check access to Maven Central, or set KAFKA_HOME to an unpacked Apache Kafka"
            )
        shutil.rmtree(libs, ignore_errors=True)
        tmp.rename(libs)
        done.write_text(version)
    return libs


def new_cluster_id() -> str:
    """A Kafka cluster id: base64url of a random UUID, never starting with '-' (as Kafka's own Uuid)."""
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


@dataclass
class KafkaBroker:
    """One KRaft node (broker + controller). ``voters`` lists every node of the cluster."""

    workdir: Path
    node_id: int = 1
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)
    heap: str = "512m"
    voters: list[tuple[int, int]] | None = None
    """(node_id, controller_port) of every node; None → a single standalone node."""
    replication_factor: int = 1
    min_insync_replicas: int = 1
    pid: int | None = None
    security: BrokerSecurity | None = None
    """SASL_SSL, SCRAM and ACLs (:mod:`vitalstream.stack.secure`); None: PLAINTEXT, no authorizer."""

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_dir(self) -> Path:
        return self.workdir / "logs"

    def properties(self) -> str:
        if self.voters:
            quorum = "controller.quorum.voters=" + ",".join(f"{n}@127.0.0.1:{p}" for n, p in self.voters)
        else:
            quorum = f"controller.quorum.bootstrap.servers=127.0.0.1:{self.controller_port}"
        rf = self.replication_factor
        if self.security is not None:
            listeners = self.security.listener_properties(self.port, self.controller_port)
        else:
            listeners = [
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            ]
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                quorum,
                *listeners,
                "controller.listener.names=CONTROLLER",
                f"log.dirs={self.data_dir}",
                "num.partitions=3",
                f"default.replication.factor={rf}",
                f"min.insync.replicas={self.min_insync_replicas}",
                f"offsets.topic.replication.factor={rf}",
                "offsets.topic.num.partitions=10",
                f"transaction.state.log.replication.factor={rf}",
                f"transaction.state.log.min.isr={min(rf, self.min_insync_replicas)}",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "log.segment.bytes=67108864",
                "log.retention.check.interval.ms=60000",
                # Fence a dead broker within ~4 s (default 9 s) so its partitions' leadership moves
                # while the gateway's produce timeout (5 s) can still succeed.
                "broker.heartbeat.interval.ms=1000",
                "broker.session.timeout.ms=4000",
                "share.coordinator.state.topic.replication.factor=" + str(rf),
                "share.coordinator.state.topic.min.isr=" + str(min(rf, self.min_insync_replicas)),
                "",
            ]
        )

    def _java(self, main: str, *args: str) -> list[str]:
        libs = ensure_jars()
        return [
            "java",
            "-Xms128m",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}",
            f"-Dkafka.logs.dir={self.log_dir}",
            "-cp",
            f"{libs}/*",
            main,
            *args,
        ]

    def format(self, cluster_id: str) -> None:
        """Write server.properties and format storage (only if not formatted yet)."""
        java_major()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        props = self.workdir / "server.properties"
        props.write_text(self.properties())
        if (self.data_dir / "meta.properties").exists():
            return
        args = ["format", f"--cluster-id={cluster_id}", "-c", str(props)]
        if not self.voters:
            args.append("--standalone")
        if self.security is not None:
            args += self.security.format_args()
        out = proc.run(self._java("kafka.tools.StorageTool", *args))
        if out.returncode != 0:
            raise StackError(f"formatting Kafka storage failed: {(out.stdout + out.stderr).strip()[-300:]}")

    def start(self, wait: bool = True, timeout_s: float = 60.0) -> None:
        if self.pid and proc.alive(self.pid):
            return
        for port in (self.port, self.controller_port):
            if port_in_use(port):
                raise StackError(f"port {port} is in use: stop what listens there or pick another port")
        self.workdir.joinpath("server.properties").write_text(self.properties())
        self.pid = proc.spawn(
            self._java("kafka.Kafka", str(self.workdir / "server.properties")), self.log_dir / "stdout.log"
        )
        (self.workdir / "broker.pid").write_text(str(self.pid))
        if wait:
            self.wait_ready(timeout_s)

    def admin_settings(self) -> Settings:
        """Settings of a client on this broker's own principal (the super user when secured)."""
        from vitalstream.stack.secure import BROKER_USER, env_settings

        env = {"VITALSTREAM_KAFKA_BOOTSTRAP": self.bootstrap}
        if self.security is not None:
            env |= self.security.client_env(BROKER_USER, self.security.broker_password)
        return env_settings(env)

    def wait_ready(self, timeout_s: float = 60.0, expect_brokers: int = 1) -> None:
        """Block until the broker answers a metadata request."""
        from vitalstream.platform import kafka

        deadline = time.monotonic() + timeout_s
        admin = kafka.admin(self.admin_settings(), "stack", socket_timeout_ms=2000)
        last = ""
        while time.monotonic() < deadline:
            if self.pid and not proc.alive(self.pid):
                raise StackError(f"Kafka exited during startup: see {self.log_dir / 'stdout.log'}")
            try:
                md = admin.list_topics(timeout=2)
                if len(md.brokers) >= expect_brokers:
                    return
            except Exception as exc:  # librdkafka KafkaException while the broker boots
                last = str(exc)
            time.sleep(0.2)
        raise StackError(f"Kafka did not answer within {timeout_s:.0f}s ({last}): see {self.log_dir}")

    def stop(self, timeout_s: float = 30.0) -> None:
        proc.stop(self.pid, timeout_s=timeout_s)
        self.pid = None

    def kill(self) -> None:
        proc.kill(self.pid)
        self.pid = None


def start_cluster(workdir: Path, nodes: int = 1, heap: str = "512m") -> list[KafkaBroker]:
    """Format and start ``nodes`` KRaft nodes on free ports; returns when all answer."""
    cluster_id = new_cluster_id()
    if nodes == 1:
        brokers = [KafkaBroker(workdir, heap=heap)]
    else:
        ports = [(i + 1, free_port()) for i in range(nodes)]
        rf = min(3, nodes)
        brokers = [
            KafkaBroker(
                workdir / f"node{n}",
                node_id=n,
                controller_port=cp,
                heap=heap,
                voters=ports,
                replication_factor=rf,
                min_insync_replicas=max(1, rf - 1),
            )
            for n, cp in ports
        ]
    for b in brokers:
        b.format(cluster_id)
    for b in brokers:
        b.start(wait=False)
    brokers[0].wait_ready(expect_brokers=nodes, timeout_s=90.0)
    return brokers
