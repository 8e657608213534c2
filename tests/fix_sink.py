"""Sink fixtures shared by the sink integration tests: in-process sinks on the test's schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from sinks.service import Sink
from vitalstream.platform.settings import Settings

MakeSink = Callable[..., Sink]


@pytest.fixture
def make_sink(db_settings: Settings) -> Iterator[MakeSink]:
    """``make(settings=None, after_db_commit=None, **overrides)``: a new Sink; the previous one is closed
    first (one member per group at a time: no rebalance waits)."""
    made: list[Sink] = []

    def make(
        settings: Settings | None = None, after_db_commit: Callable[[], None] | None = None, **overrides: Any
    ) -> Sink:
        s = settings or db_settings
        if overrides:
            s = s.model_copy(update=overrides)
        for previous in made:
            previous.close()
        sink = Sink(s, after_db_commit=after_db_commit)
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()


def connect(settings: Settings) -> psycopg.Connection[Any]:
    return psycopg.connect(settings.database_dsn(), autocommit=True)
