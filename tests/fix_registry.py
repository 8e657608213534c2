"""A real schema registry: Apicurio Registry, built from Maven Central, its Confluent-compatible API.

``VITALSTREAM_TEST_SCHEMA_REGISTRY_URL`` names one to use instead. Otherwise the Quarkus build of
``deploy/apicurio/pom.xml`` runs once per user (``~/.cache/vitalstream/apicurio-registry-<v>``)
and the session starts it with in-memory storage on a free loopback port.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from vitalstream.stack import proc
from vitalstream.stack.ports import free_port

POM = Path(__file__).resolve().parents[1] / "deploy" / "apicurio" / "pom.xml"
VERSION = "2.4.2.Final"
RUNNER = "target/apicurio-registry-runner-1-runner.jar"
CCOMPAT = "/apis/ccompat/v7"


def _built() -> Path:
    """The registry's runner jar (built on first use)."""
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vitalstream" / f"apicurio-{VERSION}"
    root.mkdir(parents=True, exist_ok=True)
    done = root / ".complete"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists() or done.read_text() != POM.read_text():
            mvn = shutil.which("mvn")
            assert mvn is not None, "Maven (mvn) not found: apt-get install maven"
            shutil.rmtree(root / "target", ignore_errors=True)
            shutil.copy(POM, root / "pom.xml")
            print(f"building Apicurio Registry {VERSION} from Maven Central (once) …", flush=True)
            subprocess.run([mvn, "-q", "-B", "-DskipTests", "package"], cwd=root, check=True, timeout=900)
            done.write_text(POM.read_text())
    return root / RUNNER


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/subjects", timeout=2) as resp:
            return bool(resp.status == 200)
    except urllib.error.HTTPError as exc:  # up but not ready yet
        exc.close()
        return False
    except OSError:
        return False


@pytest.fixture(scope="session")
def schema_registry_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    given = os.environ.get("VITALSTREAM_TEST_SCHEMA_REGISTRY_URL")
    if given:
        yield given
        return
    runner = _built()
    port = free_port()
    log = tmp_path_factory.mktemp("apicurio") / "registry.log"
    argv = ["java", "-Xmx512m", f"-Dquarkus.http.port={port}", "-Dquarkus.http.host=127.0.0.1", "-jar", str(runner)]
    pid = proc.spawn(argv, log)
    url = f"http://127.0.0.1:{port}{CCOMPAT}"
    try:
        deadline = time.monotonic() + 180
        while not _answers(url):
            assert proc.alive(pid), f"Apicurio Registry exited; see {log}:\n{log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"Apicurio Registry did not answer in 180 s; see {log}"
            time.sleep(0.5)
        yield url
    finally:
        proc.stop(pid)
