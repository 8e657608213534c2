"""PostgreSQL fixtures: env-given server, else testcontainers, else initdb/pg_ctl (design §12).

Each test that asks for ``db_settings`` gets a fresh schema with the migrations applied
and a URL whose ``search_path`` points at it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from pydantic import SecretStr

from tests.fix_docker import docker_answers
from tests.fix_kafka import make_settings
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics
from vitalstream.stack.postgres import PostgresServer


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer | None]:
    """The locally launched server (None when the database is env-given or a container)."""
    if os.environ.get("VITALSTREAM_DATABASE_URL") or docker_answers():
        yield None
        return
    server = PostgresServer(Path(tmp_path_factory.mktemp("pg")), fast=True)
    server.init()
    server.start()
    yield server
    server.stop(mode="immediate")


@pytest.fixture(scope="session")
def database_url(pg_server: PostgresServer | None) -> Iterator[str]:
    given = os.environ.get("VITALSTREAM_DATABASE_URL")
    if given:
        yield given
        return
    if pg_server is not None:
        yield pg_server.url
        return
    from testcontainers.postgres import PostgresContainer  # type: ignore[import-untyped]

    with PostgresContainer("postgres:16", driver=None) as container:
        yield container.get_connection_url()


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture
def db_schema(database_url: str) -> Iterator[str]:
    """A fresh schema with the migrations applied; dropped after the test."""
    from sinks.migrate import upgrade

    schema = f"t_{uuid.uuid4().hex[:12]}"
    upgrade(database_url, schema=schema)
    yield schema
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def db_settings(kafka_bootstrap: str, database_url: str, db_schema: str) -> Settings:
    s = make_settings(kafka_bootstrap, database_url=SecretStr(with_search_path(database_url, db_schema)))
    report = ensure_topics(s)
    assert not report.problems, report.problems
    return s
