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
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic
from pydantic import SecretStr

from schemas.topics import CATALOGUE
from sinks.migrate import upgrade
from vitalstream.platform.settings import Settings


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
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap})
    topics = [settings.topic(spec.name) for spec in CATALOGUE]
    new = [
        NewTopic(
            settings.topic(spec.name),
            num_partitions=spec.partitions,
            replication_factor=settings.replication_factor,
            config=spec.config(),
        )
        for spec in CATALOGUE
    ]
    for fut in admin.create_topics(new, request_timeout=30).values():
        fut.result()
    try:
        yield settings
    finally:
        if not keep:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            for fut in admin.delete_topics(topics, request_timeout=30).values():
                fut.result()
