"""Alembic migrations (raw SQL). Run through :mod:`sinks.migrate`, no ``alembic.ini`` needed."""
