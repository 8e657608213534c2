"""A scratch place for a benchmark run: a fresh PostgreSQL schema (migrated) and a fresh topic prefix.

Uses ``VITALSTREAM_KAFKA_BOOTSTRAP`` and ``VITALSTREAM_DATABASE_URL`` from the given settings;
drops the schema and deletes the topics afterwards unless ``keep``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg
from pydantic import SecretStr

from schemas.topics import CATALOGUE
from sinks.migrate import upgrade
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings
from vitalstream.platform.topics import ensure_topics


def with_search_path(url: str, schema: str) -> str:
    """``url`` with libpq ``options`` setting the search path (URL form only)."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def scratch(base: Settings, *, keep: bool = False) -> Iterator[Settings]:
    run = uuid.uuid4().hex[:8]
    schema, prefix = f"bench_{run}", f"bench-{run}."
    dsn = base.database_dsn()
    upgrade(dsn, schema=schema)
    settings = base.model_copy(
        update={
            "topic_prefix": prefix,
            "group_prefix": prefix,
            "database_url": SecretStr(with_search_path(dsn, schema)),
        }
    )
    report = ensure_topics(settings)
    if report.problems:
        raise RuntimeError(f"bench topics: {report.problems[0]}")
    topics = [settings.topic(spec.name) for spec in CATALOGUE]
    try:
        yield settings
    finally:
        if not keep:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            for fut in kafka.admin(settings).delete_topics(topics, request_timeout=30).values():
                fut.result()
