"""Our single-object records against the Avro specification's reference implementation (Java).

``tests/java/ReadSingleObject.java`` resolves each record's writer schema by fingerprint with
Apache Avro's own ``BinaryMessageDecoder`` and ``SchemaStore`` (from the ``.avsc`` files alone),
decodes it, and encodes it again with ``BinaryMessageEncoder``. Our codec must read what Java
writes, and Java must write the header we write (same Parsing Canonical Form, same fingerprint).
The jars come from Maven Central once per user (``tests/java/pom.xml``).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from schemas.codec import SINGLE_OBJECT_HEADER, Codec
from tests.unit.test_codec import samples

ROOT = Path(__file__).resolve().parents[2]
JAVA = ROOT / "tests" / "java"
AVRO_JAVA = "1.12.2"


@pytest.fixture(scope="session")
def avro_java_classpath() -> str:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vitalstream" / f"avro-java-{AVRO_JAVA}"
    libs, done = root / "libs", root / ".complete"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            mvn = shutil.which("mvn")
            assert mvn is not None, "Maven (mvn) not found: apt-get install maven"
            shutil.rmtree(libs, ignore_errors=True)
            fetch = [mvn, "-q", "-B", "-f", str(JAVA / "pom.xml"), "dependency:copy-dependencies"]
            subprocess.run(
                [*fetch, "-DincludeScope=runtime", f"-DoutputDirectory={libs}"],
                check=True,
                timeout=300,
            )
            done.write_text(AVRO_JAVA)
    return f"{libs}/*"


def test_the_java_reference_implementation_reads_and_writes_our_records(avro_java_classpath: str) -> None:
    codec = Codec()
    records = samples()
    lines = "".join(f"{r.SCHEMA} {codec.encode(r).hex()}\n" for r in records)
    done = subprocess.run(
        ["java", "-cp", avro_java_classpath, str(JAVA / "ReadSingleObject.java"), str(ROOT / "schemas" / "avro")],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    outputs = done.stdout.splitlines()
    assert len(outputs) == len(records)
    for record, output in zip(records, outputs, strict=True):
        java_bytes = bytes.fromhex(output.split("\t", 1)[0])
        assert java_bytes[:SINGLE_OBJECT_HEADER] == codec.encode(record)[:SINGLE_OBJECT_HEADER], record.SCHEMA
        assert codec.decode(java_bytes) == record
