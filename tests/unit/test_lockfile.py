"""requirements.lock pins every dependency of pyproject.toml, each with hashes (supply chain)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def normalized(name: str) -> str:
    """PEP 503: case-insensitive, runs of ``-``, ``_`` and ``.`` are one ``-``."""
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


def locked(path: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    out: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in path.read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line):
            current = normalized(m.group(1))
            out[current] = (m.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, hashes = out[current]
            out[current] = (version, hashes + 1)
    return out


def pins(requirements: list[str]) -> dict[str, str]:
    out = {}
    for req in requirements:
        name, version = re.split(r"==", req.split(";")[0])
        out[normalized(re.sub(r"\[.*\]", "", name))] = version.strip()
    return out


def test_every_pin_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime, dev = pins(project["dependencies"]), pins(project["optional-dependencies"]["dev"])
    for lock, wanted in (("requirements.lock", {**runtime, **dev}), ("requirements-runtime.lock", runtime)):
        entries = locked(ROOT / lock)
        assert entries, lock
        assert {n: v for n, v in wanted.items() if entries.get(n, ("", 0))[0] != v} == {}, f"{lock}: run make lock"
        assert [n for n, (_, hashes) in entries.items() if hashes == 0] == [], f"{lock}: entries without a hash"
    assert "pytest" not in locked(ROOT / "requirements-runtime.lock")
