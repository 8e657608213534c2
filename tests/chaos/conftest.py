"""Fixtures of the fault suite: a whole pipeline on a private Kafka and a private PostgreSQL.

Each test owns its broker(s) and database server, so it may stop, kill and restart them
without disturbing any other test (design §10.5).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaos.harness import Rig, private_rig


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    """gateway + worker + sink on a private single-node Kafka and a private PostgreSQL."""
    with private_rig(tmp_path, nodes=1) as r:
        yield r


@pytest.fixture
def cluster_rig(tmp_path: Path) -> Iterator[Rig]:
    """The same on a private three-node KRaft cluster (RF 3, min.insync.replicas=2)."""
    with private_rig(tmp_path, nodes=3) as r:
        yield r
