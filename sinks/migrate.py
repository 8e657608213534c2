"""Apply the database migrations programmatically (``vitalstream db migrate``).

Alembic runs on a SQLAlchemy connection built from a plain libpq DSN (URL or key=value),
so no ``alembic.ini`` is needed. With ``schema``, the schema is created when missing and
every object, the ``alembic_version`` table included, is put in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from psycopg import sql
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Two processes migrating the same database at once (several sinks starting) take turns.
MIGRATION_LOCK_KEY = 0x76735F6D6967  # "vs_mig"


def alembic_config(schema: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["schema"] = schema
    return cfg


@contextmanager
def _connection(dsn: str, schema: str | None) -> Iterator[Connection]:
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool)
    try:
        with engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert isinstance(raw, psycopg.Connection)
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK_KEY,))
            if schema is not None:
                raw.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            yield conn
    finally:
        engine.dispose()


def upgrade(dsn: str, schema: str | None = None, revision: str = "head") -> None:
    """Bring the database (or ``schema`` in it) up to ``revision``. Idempotent."""
    cfg = alembic_config(schema)
    with _connection(dsn, schema) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(dsn: str, schema: str | None = None, revision: str = "base") -> None:
    """Undo migrations down to ``revision`` (``base`` removes every object; the cluster-wide role stays)."""
    cfg = alembic_config(schema)
    with _connection(dsn, schema) as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current(dsn: str, schema: str | None = None) -> str | None:
    """The applied revision, or None when the database (schema) has never been migrated."""
    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn), poolclass=NullPool)
    try:
        with engine.connect() as conn:
            if schema is not None:
                raw = conn.connection.driver_connection
                assert isinstance(raw, psycopg.Connection)
                raw.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            ctx = MigrationContext.configure(conn, opts={"version_table_schema": schema})
            return ctx.get_current_revision()
    finally:
        engine.dispose()


def head() -> str | None:
    """The newest revision the code knows."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
