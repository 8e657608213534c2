"""Structure of the deployment assets: Dockerfile, docker-compose.yml, deploy/{compose,prometheus,grafana,k8s}.

No Docker engine or Kubernetes API is needed: the files are parsed and held against what the
code defines (Settings fields, CLI commands, HTTP routes) and against each other (selectors,
ports, volumes, mounts, datasource uids).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import yaml

from vitalstream.cli import main as cli_main
from vitalstream.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = DEPLOY / "compose" / "env.example"
PROMETHEUS_DIR = DEPLOY / "prometheus"
GRAFANA_DIR = DEPLOY / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "vitalstream.json"
K8S = DEPLOY / "k8s"
SECRET_EXAMPLE = K8S / "examples" / "secret.yaml"

MOUNTED_SECRETS = ("vitalstream-kafka-", "vitalstream-db-")
"""Secrets mounted as files or read by ``secretKeyRef`` (examples/kafka-principals.yaml), not ``envFrom``."""
SETTINGS_ENV = {"VITALSTREAM_" + name.upper() for name in Settings.model_fields}
# design §3: the gateway's HTTP interface.
GATEWAY_HTTP_PATHS = {"/healthz", "/readyz", "/health", "/metrics", "/openapi.json"}
SERVICES = ("gateway", "worker", "sink")
METRICS_PORTS = {"gateway": 8080, "worker": 6066, "sink": 9102}

# Metric names the alerts and the dashboard rely on (to be reconciled with the code's metrics).
ALERT_METRICS = {
    "vitalstream_dlq_records_total",
    "vitalstream_consumer_lag",
    "vitalstream_gateway_requests_total",
    "vitalstream_health_status",
    "vitalstream_sink_rows_written_total",
    "vitalstream_stage_stuck",
    "vitalstream_terra_delivery_gap",
    "vitalstream_worker_fetch_outcomes_total",
    "vitalstream_backfill_jobs",
    "vitalstream_end_to_end_latency_seconds_bucket",
}
DASHBOARD_PANELS = {
    # title: metrics its queries must use
    "Ingest rate by status": {"vitalstream_gateway_requests_total"},
    "Accept latency p50 / p95 / p99": {"vitalstream_gateway_accept_latency_seconds_bucket"},
    "Rejections by reason": {"vitalstream_gateway_rejections_total"},
    "Consumer lag per stage": {"vitalstream_consumer_lag"},
    "Retries by error class": {"vitalstream_retries_total"},
    "Dead letters by error class": {"vitalstream_dlq_records_total"},
    "Confidence distribution": {"vitalstream_confidence_bucket"},
    "High-confidence rate": {"vitalstream_confidence_bucket"},
    "Sink rows/s": {"vitalstream_sink_rows_written_total"},
    "Sink commit latency": {"vitalstream_sink_commit_seconds_bucket"},
}

K8S_KINDS = {
    ("v1", "Namespace"),
    ("v1", "ConfigMap"),
    ("v1", "Secret"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
    ("apps/v1", "StatefulSet"),
    ("batch/v1", "Job"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("policy/v1", "PodDisruptionBudget"),
}
# io.k8s.api.core.v1.Container fields: a typo (readinesProbe) is caught here, not by a cluster.
CONTAINER_FIELDS = {
    "name",
    "image",
    "imagePullPolicy",
    "command",
    "args",
    "workingDir",
    "ports",
    "env",
    "envFrom",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
}
PROBE_FIELDS = {
    "httpGet",
    "tcpSocket",
    "exec",
    "grpc",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "successThreshold",
    "failureThreshold",
    "terminationGracePeriodSeconds",
}
POD_SPEC_FIELDS = {
    "containers",
    "initContainers",
    "volumes",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "automountServiceAccountToken",
    "serviceAccountName",
    "securityContext",
    "topologySpreadConstraints",
    "affinity",
    "nodeSelector",
    "tolerations",
    "priorityClassName",
    "imagePullSecrets",
    "dnsPolicy",
    "enableServiceLinks",
}
COMPOSE_SERVICE_FIELDS = {
    "image",
    "build",
    "command",
    "entrypoint",
    "environment",
    "env_file",
    "ports",
    "expose",
    "volumes",
    "depends_on",
    "healthcheck",
    "restart",
    "profiles",
    "hostname",
    "stop_grace_period",
    "init",
    "user",
    "working_dir",
    "labels",
    "networks",
    "deploy",
    "ulimits",
    "logging",
    "pull_policy",
}


# --- helpers ------------------------------------------------------------------------------


def load_yaml_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as f:
        return [doc for doc in yaml.safe_load_all(f) if doc is not None]


def load_yaml(path: Path) -> Any:
    docs = load_yaml_docs(path)
    assert len(docs) == 1, f"{path} should hold exactly one YAML document"
    return docs[0]


def deploy_files(*suffixes: str) -> list[Path]:
    files = [p for p in DEPLOY.rglob("*") if p.is_file() and p.suffix in suffixes and "kafka" not in p.parts]
    return sorted(files)


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def resolve_cli(args: list[str]) -> click.Command:
    """The click command that ``vitalstream ARGS`` runs; fails for an unknown command."""
    command: click.Command = cli_main
    for word in args:
        if word.startswith("-") or not isinstance(command, click.Group):
            break
        assert word in command.commands, f"`vitalstream {' '.join(args)}`: no command {word!r}"
        command = command.commands[word]
    assert not isinstance(command, click.Group), f"`vitalstream {' '.join(args)}` names a group, not a command"
    return command


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc = load_yaml(COMPOSE_FILE)
    assert isinstance(doc, dict)
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    svcs = compose["services"]
    assert isinstance(svcs, dict)
    return svcs


def env_mapping(service: dict[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    assert isinstance(env, dict)
    return env


@pytest.fixture(scope="module")
def k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in load_yaml_docs(path):
            out.append((path, doc))
    assert out
    return out


def pod_templates(docs: list[tuple[Path, dict[str, Any]]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for _path, doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            yield f"{doc['kind']}/{doc['metadata']['name']}", doc["spec"]["template"]


def all_containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = template["spec"]
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@pytest.fixture(scope="module")
def alert_rules() -> list[dict[str, Any]]:
    doc = load_yaml(PROMETHEUS_DIR / "alerts.yml")
    rules = [rule for group in doc["groups"] for rule in group["rules"]]
    assert rules
    return rules


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(doc, dict)
    return doc


def dashboard_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # collapsed rows keep their panels inside
    return out


def balanced(expr: str) -> bool:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs and (not stack or stack.pop() != pairs[ch]):
            return False
    return not stack and not in_string


# --- every file parses --------------------------------------------------------------------


def test_every_yaml_and_json_file_parses() -> None:
    yaml_files = [COMPOSE_FILE, *deploy_files(".yml", ".yaml")]
    json_files = deploy_files(".json")
    assert len(yaml_files) >= 12 and json_files
    for path in yaml_files:
        assert load_yaml_docs(path), f"{rel(path)} is empty"
    for path in json_files:
        json.loads(path.read_text(encoding="utf-8"))


# --- Dockerfile ---------------------------------------------------------------------------


def test_dockerfile() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    instructions = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.M)
    assert sum(1 for line in instructions if line.startswith("FROM ${PYTHON_IMAGE}")) == 2
    assert "pip install --no-deps ." in text
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert users[-1].split(":")[0].isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"
    entrypoints = [line for line in instructions if line.startswith("ENTRYPOINT")]
    assert entrypoints and json.loads(entrypoints[-1].removeprefix("ENTRYPOINT").strip()) == ["vitalstream"]
    # every package the project installs is copied into the build
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[([^\]]*)\]", pyproject)
    assert include
    packages = {p.strip().strip('"').rstrip("*") for p in include.group(1).split(",") if p.strip()}
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", text, re.M), f"Dockerfile does not copy {package}/"
        assert (ROOT / package).is_dir()
    # ports documented by EXPOSE are the settings' defaults
    exposed = {int(p) for line in instructions if line.startswith("EXPOSE") for p in line.split()[1:]}
    defaults = Settings()
    assert exposed == {
        defaults.gateway_port,
        defaults.admin_port,
        defaults.worker_web_port,
        defaults.sink_metrics_port,
        defaults.api_port,
    }


def test_dockerignore_keeps_secrets_and_venv_out() -> None:
    entries = {
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".env", ".venv", ".git", ".vitalstream"} <= entries
    for needed in ("pyproject.toml", "schemas", "gateway", "streams", "sinks", "vitalstream"):
        assert needed not in entries


# --- docker-compose.yml -------------------------------------------------------------------


def test_compose_services(services: dict[str, dict[str, Any]]) -> None:
    assert {"kafka", "postgres", "init", "gateway", "worker", "sink", "prometheus", "grafana"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"service {name} has neither image nor build"
        unknown = set(svc) - COMPOSE_SERVICE_FIELDS
        assert not unknown, f"service {name}: unknown keys {unknown}"
        if "restart" in svc:
            assert svc["restart"] in {"no", "always", "on-failure", "unless-stopped"}, name
    assert services["kafka"]["image"] == "apache/kafka:4.1.1"
    assert services["postgres"]["image"] == "postgres:16"
    for name in ("init", *SERVICES):
        assert services[name]["build"]["context"] == "."
        assert (ROOT / services[name]["build"]["dockerfile"]).is_file()


def test_compose_long_running_services_have_healthchecks(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if name == "init":
            continue
        check = svc.get("healthcheck")
        assert check and check.get("test"), f"service {name} has no healthcheck"
        assert check["test"][0] in {"CMD", "CMD-SHELL"}, name
    assert services["kafka"]["healthcheck"]["test"][1:] == [
        "/opt/kafka/bin/kafka-broker-api-versions.sh",
        "--bootstrap-server",
        "localhost:9092",
    ]
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    gateway_check = " ".join(services["gateway"]["healthcheck"]["test"])
    assert "urllib" in gateway_check and ":8080/healthz" in gateway_check


def test_compose_depends_on(services: dict[str, dict[str, Any]]) -> None:
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, spec in deps.items():
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name
            assert spec["condition"] in conditions
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep} to be healthy, it has no healthcheck"
            if spec["condition"] == "service_completed_successfully":
                assert services[dep].get("restart") == "no", f"{dep} must be one-shot"
    assert services["init"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
    }
    for name in SERVICES:
        assert services[name]["depends_on"]["init"] == {"condition": "service_completed_successfully"}


def test_compose_commands_are_real_cli_commands(services: dict[str, dict[str, Any]]) -> None:
    for name in SERVICES:
        assert services[name]["command"] == [name]
        resolve_cli(services[name]["command"])
    init = services["init"]
    assert init["entrypoint"] == ["/bin/sh", "-c"]
    steps = [shlex.split(step) for step in init["command"][0].split("&&")]
    assert [step[1:] for step in steps] == [["topics", "create"], ["db", "migrate"]]
    for step in steps:
        assert step[0] == "vitalstream"
        resolve_cli(step[1:])


def test_compose_volumes_declared(compose: dict[str, Any], services: dict[str, dict[str, Any]]) -> None:
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume["source"]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"
                used.add(source)
    assert declared == used
    assert {"kafka-data", "postgres-data"} <= declared


def test_compose_kafka_kraft(services: dict[str, dict[str, Any]]) -> None:
    env = env_mapping(services["kafka"])
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert str(env["KAFKA_NODE_ID"]) == "1"
    assert env["KAFKA_CONTROLLER_QUORUM_VOTERS"] == "1@kafka:9093"
    advertised = dict(item.split("://") for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    assert advertised == {"INTERNAL": "kafka:19092", "EXTERNAL": "localhost:9092"}
    listeners = {item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")}
    protocols = {item.split(":")[0] for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")}
    assert listeners == protocols == {"INTERNAL", "EXTERNAL", "CONTROLLER"}
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners
    for key, value in env.items():
        if key.endswith(("REPLICATION_FACTOR", "MIN_ISR")):
            assert str(value) == "1", key
    assert len(env["CLUSTER_ID"]) == 22  # base64url of a 16-byte UUID
    assert any(str(p).endswith("9092:9092") for p in services["kafka"]["ports"])


def test_compose_vitalstream_environment(services: dict[str, dict[str, Any]]) -> None:
    for name in ("init", *SERVICES):
        env = env_mapping(services[name])
        assert env["VITALSTREAM_KAFKA_BOOTSTRAP"] == "kafka:19092"
        assert env["VITALSTREAM_GATEWAY_HOST"] == "0.0.0.0"
        assert re.fullmatch(r"postgresql://[^@]+@postgres:5432/vitalstream", env["VITALSTREAM_DATABASE_URL"])
        assert env["VITALSTREAM_TERRA_SECRETS"].startswith("${VITALSTREAM_TERRA_SECRETS:?")
        assert env["VITALSTREAM_ADMIN_TOKEN"].startswith("${VITALSTREAM_ADMIN_TOKEN:?")
    gw = env_mapping(services["gateway"])
    published = {str(p).rsplit(":", 1)[-1] for p in services["gateway"]["ports"]}
    assert {str(gw["VITALSTREAM_GATEWAY_PORT"]), str(gw["VITALSTREAM_ADMIN_PORT"])} == published == {"8080", "8081"}
    assert str(env_mapping(services["worker"])["VITALSTREAM_WORKER_WEB_PORT"]) == "6066"
    assert str(env_mapping(services["sink"])["VITALSTREAM_SINK_METRICS_PORT"]) == "9102"


def test_compose_env_values_are_strings(services: dict[str, dict[str, Any]]) -> None:
    # compose rejects booleans; YAML 1.1 turns yes/no/on/off into booleans silently
    for name, svc in services.items():
        for key, value in env_mapping(svc).items():
            assert value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)), f"{name}.{key}"


def test_compose_interpolations_are_well_formed() -> None:
    lines = COMPOSE_FILE.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))  # compose reads no comments
    example = ENV_EXAMPLE.read_text(encoding="utf-8")
    refs = re.findall(r"\$\{([^}]*)\}", text)
    assert refs
    for ref in refs:
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)(?:(:?[-?])(.*))?", ref, re.S)
        assert match, f"malformed interpolation ${{{ref}}}"
        if match.group(2) == ":?":
            assert re.search(rf"^{match.group(1)}=", example, re.M), f"{match.group(1)} missing from env.example"
    assert "$" not in re.sub(r"\$\{[^}]*\}", "", text), "bare $VAR or stray $ in docker-compose.yml"


def test_every_vitalstream_variable_is_a_setting(
    services: dict[str, dict[str, Any]], k8s_docs: list[tuple[Path, dict[str, Any]]]
) -> None:
    used: dict[str, str] = {}
    for name, svc in services.items():
        used.update({key: f"compose {name}" for key in env_mapping(svc) if key.startswith("VITALSTREAM_")})
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        key = line.lstrip("# ").split("=", 1)[0]
        if key.startswith("VITALSTREAM_") and "=" in line and key != "VITALSTREAM_IMAGE_TAG":
            used[key] = "env.example"
    for path, doc in k8s_docs:
        if doc["kind"] in {"ConfigMap", "Secret"}:
            for key in {**doc.get("data", {}), **doc.get("stringData", {})}:
                if not doc["metadata"]["name"].startswith(MOUNTED_SECRETS):  # files, not variables
                    used[key] = rel(path)
    for where, template in pod_templates(k8s_docs):
        for container in all_containers(template):
            used.update({e["name"]: where for e in container.get("env", []) if e["name"].startswith("VITALSTREAM_")})
    assert len(used) > 10
    unknown = {key: where for key, where in used.items() if key not in SETTINGS_ENV}
    assert not unknown, f"not fields of vitalstream.platform.settings.Settings: {unknown}"


# --- Prometheus ---------------------------------------------------------------------------


def test_prometheus_scrapes_every_service(services: dict[str, dict[str, Any]]) -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    for rule_file in config["rule_files"]:
        assert (PROMETHEUS_DIR / rule_file).is_file()
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name, port in METRICS_PORTS.items():
        job = jobs[name]
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets = {t for sc in job.get("static_configs", []) for t in sc["targets"]}
        targets |= {f"{n}:{sd['port']}" for sd in job.get("dns_sd_configs", []) for n in sd["names"]}
        assert targets == {f"{name}:{port}"}, name
        assert name in services
    mounts = services["prometheus"]["volumes"]
    assert "./deploy/prometheus:/etc/prometheus:ro" in mounts
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]


def test_alert_rules(alert_rules: list[dict[str, Any]]) -> None:
    names = [rule["alert"] for rule in alert_rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    for rule in alert_rules:
        assert rule["expr"].strip() and balanced(rule["expr"]), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}, rule["alert"]
        assert rule["annotations"]["summary"].strip(), rule["alert"]
        assert rule["annotations"]["runbook_url"].startswith("README.md#"), rule["alert"]
        if "for" in rule:
            assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
    used = " ".join(rule["expr"] for rule in alert_rules)
    for metric in ALERT_METRICS:
        assert re.search(rf"\b{metric}\b", used), f"no alert uses {metric}"


def test_alert_thresholds(alert_rules: list[dict[str, Any]]) -> None:
    by_name = {rule["alert"]: rule for rule in alert_rules}
    dlq = by_name["VitalstreamDeadLettersGrowing"]
    assert "increase(vitalstream_dlq_records_total[15m])" in dlq["expr"] and dlq["expr"].rstrip().endswith("> 0")
    lag = by_name["VitalstreamConsumerLagHigh"]
    assert lag["expr"].rstrip().endswith("> 10000") and lag["for"] == "10m"
    errors = by_name["VitalstreamGatewayErrorRateHigh"]
    assert 'status=~"5.."' in errors["expr"] and "> 0.01" in errors["expr"] and errors["for"] == "5m"
    quiet = by_name["VitalstreamNoWebhooks"]
    assert "[30m]" in quiet["expr"] and 'route="/webhooks/terra"' in quiet["expr"] and "== 0" in quiet["expr"]
    assert "vitalstream_health_status" in by_name["VitalstreamUnhealthy"]["expr"]
    assert "vitalstream_sink_rows_written_total" in by_name["VitalstreamSinkNotWriting"]["expr"]
    fresh = by_name["VitalstreamLiveFreshnessSlow"]["expr"]
    assert 'lane="live"' in fresh and fresh.rstrip().endswith("> 1"), "a backfill must never fire it"


# --- Grafana ------------------------------------------------------------------------------


def test_grafana_provisioning(services: dict[str, dict[str, Any]], dashboard: dict[str, Any]) -> None:
    datasources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    uids = {ds["uid"] for ds in datasources if ds["type"] == "prometheus"}
    assert uids == {"prometheus"}
    assert datasources[0]["url"] == "http://prometheus:9090"
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "vitalstream.yml")["providers"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in services["grafana"]["volumes"] if v.startswith("./"))
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_dir = mounts["./deploy/grafana/dashboards"]
    assert [p["options"]["path"] for p in providers] == [dashboards_dir]
    assert any(str(p).endswith("3000:3000") for p in services["grafana"]["ports"])
    for panel in dashboard_panels(dashboard):
        for tgt in panel.get("targets", []):
            assert tgt["datasource"]["uid"] in uids


def test_grafana_dashboard(dashboard: dict[str, Any]) -> None:
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    by_title = {p["title"]: p for p in panels}
    for panel in panels:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"])
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"panel {panel['title']!r} has no queries"
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for tgt in panel["targets"]:
            assert tgt["expr"].strip() and balanced(tgt["expr"]), panel["title"]
    for title, metrics in DASHBOARD_PANELS.items():
        assert title in by_title, f"dashboard lacks panel {title!r}"
        exprs = " ".join(t["expr"] for t in by_title[title]["targets"])
        for metric in metrics:
            assert re.search(rf"\b{metric}\b", exprs), f"panel {title!r} does not query {metric}"
    latency = " ".join(t["expr"] for t in by_title["Accept latency p50 / p95 / p99"]["targets"])
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}," in latency
    for title in ("Retries by error class", "Dead letters by error class"):
        assert "error_class" in by_title[title]["targets"][0]["expr"]


# --- Kubernetes ---------------------------------------------------------------------------


def test_k8s_documents(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    seen = set()
    for path, doc in k8s_docs:
        where = rel(path)
        assert (doc.get("apiVersion"), doc.get("kind")) in K8S_KINDS, (
            f"{where}: {doc.get('apiVersion')}/{doc.get('kind')}"
        )
        meta = doc["metadata"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", meta["name"]) and len(meta["name"]) <= 63, where
        assert meta["labels"]["app.kubernetes.io/part-of"] == "vitalstream", where
        if doc["kind"] != "Namespace":
            assert meta["namespace"] == "vitalstream", where
        key = (doc["kind"], meta["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        for field in ("labels", "annotations"):
            for k, v in (meta.get(field) or {}).items():
                assert isinstance(v, str), f"{where}: {field}.{k} must be a string"
        if doc["kind"] == "ConfigMap":
            assert all(isinstance(v, str) for v in doc["data"].values()), f"{where}: ConfigMap values must be strings"
    kinds = {k for k, _ in seen}
    assert "Secret" not in kinds, "the kustomization must never apply a Secret (placeholders would go live)"
    assert {
        "Namespace",
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
    } <= kinds


def test_k8s_workloads(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    config_maps = {d["metadata"]["name"] for _, d in k8s_docs if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in load_yaml_docs(SECRET_EXAMPLE) if d["kind"] == "Secret"}
    for _path, doc in k8s_docs:
        if doc["kind"] in {"Deployment", "StatefulSet"}:
            selector = doc["spec"]["selector"]["matchLabels"]
            assert labels_match(selector, doc["spec"]["template"]["metadata"]["labels"]), doc["metadata"]["name"]
    for where, template in pod_templates(k8s_docs):
        spec = template["spec"]
        assert set(spec) <= POD_SPEC_FIELDS, f"{where}: unknown pod spec keys {set(spec) - POD_SPEC_FIELDS}"
        assert spec["securityContext"]["runAsNonRoot"] is True, where
        assert spec["securityContext"]["runAsUser"] != 0, where
        volumes = {v["name"] for v in spec.get("volumes", [])}
        volumes |= {
            c["metadata"]["name"]
            for _, d in k8s_docs
            if f"{d['kind']}/{d['metadata']['name']}" == where
            for c in d["spec"].get("volumeClaimTemplates", [])
        }
        for container in all_containers(template):
            name = f"{where}/{container['name']}"
            assert set(container) <= CONTAINER_FIELDS, f"{name}: unknown keys {set(container) - CONTAINER_FIELDS}"
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name
            sc = container["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], name
            resolve_cli(container["args"])
            assert "command" not in container, f"{name}: the image's ENTRYPOINT is the vitalstream CLI"
            for ref in container.get("envFrom", []):
                if "configMapRef" in ref:
                    assert ref["configMapRef"]["name"] in config_maps, name
                if "secretRef" in ref:
                    assert ref["secretRef"]["name"] in secrets, name
            for mount in container.get("volumeMounts", []):
                assert mount["name"] in volumes, f"{name}: volume {mount['name']} not defined"
            port_names = {p["name"] for p in container.get("ports", [])}
            port_numbers = {p["containerPort"] for p in container.get("ports", [])}
            for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                probe = container.get(kind)
                if probe is None:
                    continue
                assert set(probe) <= PROBE_FIELDS, f"{name}.{kind}: unknown keys"
                handler = probe.get("httpGet") or probe.get("tcpSocket")
                assert handler, f"{name}.{kind}: httpGet or tcpSocket expected"
                assert handler["port"] in port_names | port_numbers, f"{name}.{kind}: port {handler['port']}"
                if "httpGet" in probe:
                    assert probe["httpGet"]["path"] in GATEWAY_HTTP_PATHS, f"{name}.{kind}: {probe['httpGet']['path']}"
        if template["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true":
            port = int(template["metadata"]["annotations"]["prometheus.io/port"])
            assert any(p["containerPort"] == port for c in spec["containers"] for p in c.get("ports", [])), where


def test_k8s_gateway(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for _, d in k8s_docs}
    gateway = docs[("Deployment", "vitalstream-gateway")]
    assert gateway["spec"]["replicas"] == 3
    container = gateway["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    sleep = container["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) < gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    hpa = docs[("HorizontalPodAutoscaler", "vitalstream-gateway")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "vitalstream-gateway",
    }
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    cpu = hpa["spec"]["metrics"][0]
    assert cpu["type"] == "Resource" and cpu["resource"]["name"] == "cpu"
    assert cpu["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    job = docs[("Job", "vitalstream-init")]
    steps = [c["args"] for c in all_containers(job["spec"]["template"])]
    assert steps == [["topics", "create"], ["db", "migrate"]]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in {"Never", "OnFailure"}
    config = docs[("ConfigMap", "vitalstream-config")]["data"]
    assert config["VITALSTREAM_GATEWAY_HOST"] == "0.0.0.0"
    assert int(config["VITALSTREAM_REPLICATION_FACTOR"]) == 3 and int(config["VITALSTREAM_MIN_INSYNC_REPLICAS"]) == 2
    (secret,) = load_yaml_docs(SECRET_EXAMPLE)
    assert secret["metadata"]["name"] == "vitalstream-secrets"
    assert "VITALSTREAM_TERRA_SECRETS" in secret["stringData"]
    assert not set(secret["stringData"]) & set(config), "a setting in both the ConfigMap and the Secret"


def test_k8s_selectors_resolve(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    pods = {where: t["metadata"]["labels"] for where, t in pod_templates(k8s_docs)}
    ports = {
        where: {p["name"] for c in t["spec"]["containers"] for p in c.get("ports", [])}
        for where, t in pod_templates(k8s_docs)
    }
    services = {d["metadata"]["name"]: d for _, d in k8s_docs if d["kind"] == "Service"}
    for name, svc in services.items():
        matched = [w for w, labels in pods.items() if labels_match(svc["spec"]["selector"], labels)]
        assert matched, f"Service {name} selects no pods"
        for port in svc["spec"]["ports"]:
            assert all(port["targetPort"] in ports[w] for w in matched), (
                f"Service {name}: targetPort {port['targetPort']}"
            )
    for _, doc in k8s_docs:
        if doc["kind"] == "PodDisruptionBudget":
            selector = doc["spec"]["selector"]["matchLabels"]
            assert sum(labels_match(selector, labels) for labels in pods.values()) == 1, doc["metadata"]["name"]
            assert ("minAvailable" in doc["spec"]) != ("maxUnavailable" in doc["spec"])
        if doc["kind"] == "StatefulSet":
            governing = services[doc["spec"]["serviceName"]]
            assert governing["spec"]["clusterIP"] == "None"
    covered = {
        w
        for _, d in k8s_docs
        if d["kind"] == "PodDisruptionBudget"
        for w, labels in pods.items()
        if labels_match(d["spec"]["selector"]["matchLabels"], labels)
    }
    assert covered == {w for w in pods if not w.startswith("Job/")}, "every long-running workload has a PDB"


def test_kustomization_lists_every_manifest(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    for resource in resources:
        assert (K8S / resource).is_file(), f"kustomization lists missing {resource}"
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(resources) == manifests
    images = {c["image"].split(":")[0] for _, t in pod_templates(k8s_docs) for c in all_containers(t)}
    assert images == {img["name"] for img in kustomization["images"]}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_kustomize_builds() -> None:
    """`kubectl kustomize` (offline) renders every resource with the image and namespace set."""
    result = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    expected = sum(len(load_yaml_docs(p)) for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert len(docs) == expected
    kustomization = load_yaml(K8S / "kustomization.yaml")
    image = kustomization["images"][0]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "vitalstream"
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            for container in all_containers(doc["spec"]["template"]):
                assert container["image"] == f"{image['newName']}:{image['newTag']}"


def test_the_example_secret_cannot_go_live() -> None:
    """Every placeholder of the example Secret is refused when settings are read."""
    from pydantic import ValidationError

    (secret,) = load_yaml_docs(SECRET_EXAMPLE)
    for variable in ("VITALSTREAM_TERRA_SECRETS", "VITALSTREAM_WEBHOOK_SECRETS", "VITALSTREAM_ADMIN_TOKEN"):
        field = variable.removeprefix("VITALSTREAM_").lower()
        with pytest.raises(ValidationError):
            Settings(**{field: secret["stringData"][variable]})
    env_example = dict(
        line.split("=", 1) for line in (DEPLOY / "compose" / "env.example").read_text().splitlines() if "=" in line
    )
    for variable in ("VITALSTREAM_TERRA_SECRETS", "VITALSTREAM_ADMIN_TOKEN"):
        with pytest.raises(ValidationError):
            Settings(**{variable.removeprefix("VITALSTREAM_").lower(): env_example[variable]})


def test_dotenv_files_are_git_ignored() -> None:
    for name in (".env", ".env.local", "deploy/compose/.env"):
        out = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
        assert out.returncode == 0, f"{name} is not git-ignored"


def test_k8s_every_workload_is_its_own_kafka_principal(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    """Issue 14: SASL_SSL for everyone; each workload its own username, password file and the CA."""
    from vitalstream.stack.secure import PRINCIPALS

    config = next(d for _, d in k8s_docs if d["kind"] == "ConfigMap")["data"]
    assert config["VITALSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    password_dir = str(Path(config["VITALSTREAM_KAFKA_PASSWORD_FILE"]).parent)
    assert str(Path(config["VITALSTREAM_KAFKA_CA_FILE"]).parent) == password_dir
    secrets = {d["metadata"]["name"] for d in load_yaml_docs(K8S / "examples" / "kafka-principals.yaml")}
    seen: set[str] = set()
    for _where, template in pod_templates(k8s_docs):
        volumes = {v["name"]: v for v in template["spec"].get("volumes", [])}
        for container in all_containers(template):
            env = {e["name"]: e for e in container.get("env", [])}
            user = env["VITALSTREAM_KAFKA_USERNAME"]["value"]
            assert user in (*PRINCIPALS, "admin"), user
            seen.add(user)
            mount = next(m for m in container["volumeMounts"] if m["mountPath"] == password_dir)
            sources = [s["secret"]["name"] for s in volumes[mount["name"]]["projected"]["sources"]]
            assert sources == [f"vitalstream-kafka-{user}", "vitalstream-kafka-ca"]
            assert set(sources) <= secrets
    assert {"gateway", "worker", "sink", "api"} <= seen


DB_LOGINS = {
    "gateway": ("VITALSTREAM_DATABASE_URL", "vitalstream-db-health"),
    "sink": ("VITALSTREAM_DATABASE_URL", "vitalstream-db-sink"),
    "api": ("VITALSTREAM_API_DATABASE_URL", "vitalstream-db-reader"),
    "db-migrate": ("VITALSTREAM_DATABASE_URL", "vitalstream-db-owner"),
}
"""Issue 14 on Kubernetes: the containers that reach PostgreSQL, each with its own login's Secret."""


def test_k8s_database_logins_are_per_workload(k8s_docs: list[tuple[Path, dict[str, Any]]]) -> None:
    """No shared Secret carries a database URL (the owner's would reach every pod); each container
    that needs one names its own login's Secret, and only the migration job has the owner's."""
    shared = load_yaml(SECRET_EXAMPLE)["stringData"]
    assert not [k for k in shared if "DATABASE_URL" in k], "a database URL in vitalstream-secrets reaches every pod"
    examples = {d["metadata"]["name"] for d in load_yaml_docs(K8S / "examples" / "kafka-principals.yaml")}
    seen: dict[str, str] = {}
    for _where, template in pod_templates(k8s_docs):
        for container in all_containers(template):
            for var in container.get("env", []):
                if "DATABASE_URL" in var["name"]:
                    seen[container["name"]] = var["valueFrom"]["secretKeyRef"]["name"]
                    assert (var["name"], seen[container["name"]]) == DB_LOGINS[container["name"]]
    assert {name: secret for name, (_, secret) in DB_LOGINS.items()} == seen
    assert set(seen.values()) <= examples


def test_k8s_recompute_job_example_runs_as_the_recompute_principal() -> None:
    job = load_yaml(K8S / "examples" / "recompute-job.yaml")
    template = job["spec"]["template"]
    (container,) = template["spec"]["containers"]
    assert container["args"][0] == "recompute"
    env = {e["name"]: e for e in container["env"]}
    assert env["VITALSTREAM_KAFKA_USERNAME"]["value"] == "recompute"
    assert not any("DATABASE_URL" in name for name in env)
    assert [r.get("secretRef") for r in container["envFrom"] if "secretRef" in r] == []
    (credentials,) = [v for v in template["spec"]["volumes"] if v["name"] == "kafka-credentials"]
    sources = [s["secret"]["name"] for s in credentials["projected"]["sources"]]
    examples = {d["metadata"]["name"] for d in load_yaml_docs(K8S / "examples" / "kafka-principals.yaml")}
    assert sources == ["vitalstream-kafka-recompute", "vitalstream-kafka-ca"] and set(sources) <= examples


SECURE_COMPOSE = DEPLOY / "compose" / "secure.yml"


def test_compose_secure_override_gives_each_service_its_own_principal() -> None:
    """deploy/compose/secure.yml: the services see the CA only, never the broker's key or password."""
    from vitalstream.stack import compose_secure, secure

    override = yaml.safe_load(SECURE_COMPOSE.read_text())
    services = override["services"]
    password_vars: set[str] = set()
    for name in SERVICES:
        env = services[name]["environment"]
        assert env["VITALSTREAM_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["VITALSTREAM_KAFKA_USERNAME"] == name
        password_vars.add(re.findall(r"\$\{(\w+)", env["VITALSTREAM_KAFKA_PASSWORD"])[0])
        assert services[name]["volumes"] == ["secure-ca:/secure-ca:ro"]
        assert {k for k in env if k.startswith("VITALSTREAM_")} <= SETTINGS_ENV
    assert len(password_vars) == len(SERVICES)
    assert services["sink"]["environment"]["VITALSTREAM_DATABASE_URL"].startswith("postgresql://vs_sink:")
    init_env = services["init"]["environment"]
    assert {f"KAFKA_{p.upper()}_PASSWORD" for p in secure.PRINCIPALS} <= set(init_env)
    assert "compose_secure provision" in services["init"]["command"][0]
    assert services["kafka"]["volumes"] == ["secure-broker:/secure:ro"]
    for var in {*password_vars, "KAFKA_BROKER_PASSWORD", "SINK_DB_PASSWORD"}:
        assert f"# {var}=" in ENV_EXAMPLE.read_text(), var
    props = compose_secure.broker_properties(secure.BrokerSecurity(secure.Tls(Path("/x")), "pw"))
    assert "CONTROLLER://localhost:9093" in props and "INTERNAL:SASL_SSL,EXTERNAL:SASL_SSL" in props
    assert "allow.everyone.if.no.acl.found=false" in props
    assert "ssl.keystore.location=/secure/tls/broker.pem" in props
