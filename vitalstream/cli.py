"""The ``vitalstream`` command line (click). Services are imported lazily, per command."""

from __future__ import annotations

import sys
from typing import Any

import click

from vitalstream import __version__
from vitalstream.stack.errors import StackError


def _settings() -> Any:
    from pydantic import ValidationError

    from vitalstream.settings import Settings

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "VITALSTREAM_" + str(first["loc"][0]).upper() if first["loc"] else "a VITALSTREAM_* variable"
        raise click.ClickException(f"{field}: {first['msg']}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vitalstream")
def main() -> None:
    """vitalstream: wearable-health webhooks to always-current, quality-scored metrics."""


# --- local stack -------------------------------------------------------------------------


@main.command()
@click.option("--detach", is_flag=True, help="Start in the background and return.")
def up(detach: bool) -> None:
    """Run Kafka, PostgreSQL, gateway, worker and sink locally (writes .vitalstream/stack.env)."""
    from vitalstream.stack import launcher

    sys.exit(launcher.up(detach))


@main.command()
def down() -> None:
    """Stop every process `vitalstream up` started (safe to run twice)."""
    from vitalstream.stack import launcher

    sys.exit(launcher.down())


@main.command()
def status() -> None:
    """Describe the local stack; exit 0 only when everything is up."""
    from vitalstream.stack import launcher

    sys.exit(launcher.status())


# --- services ----------------------------------------------------------------------------


@main.command()
def gateway() -> None:
    """Run the webhook gateway (HTTP)."""
    from gateway.main import run

    run(_settings())


@main.command()
def worker() -> None:
    """Run the stream worker (normalize, score, retry, quality)."""
    from streams.main import run

    run(_settings())


@main.command()
def sink() -> None:
    """Run the PostgreSQL sink."""
    from sinks.service import run

    run(_settings())


# --- topics and database -----------------------------------------------------------------


@main.group()
def topics() -> None:
    """Kafka topic catalogue."""


@topics.command("create")
def topics_create() -> None:
    """Create/verify every catalogue topic (idempotent)."""
    from vitalstream.kafka_admin import ensure_topics

    settings = _settings()
    try:
        report = ensure_topics(settings)
    except ConnectionError as exc:
        raise click.ClickException(str(exc)) from None
    for name in report.created:
        click.echo(f"created   {name}")
    for name in report.verified:
        click.echo(f"ok        {name}")
    for line in report.fixed:
        click.echo(f"fixed     {line}")
    for line in report.problems:
        click.echo(f"PROBLEM   {line}", err=True)
    sys.exit(1 if report.problems else 0)


@main.group()
def db() -> None:
    """PostgreSQL schema and retention."""


@db.command("migrate")
def db_migrate() -> None:
    """Apply database migrations (alembic)."""
    from sinks.migrate import current, upgrade

    dsn = _dsn()
    upgrade(dsn)
    click.echo(f"database at revision {current(dsn)}")


@db.command("retention")
@click.option("--older-than", "older_than", default="400d", show_default=True, help="Age like 400d.")
def db_retention(older_than: str) -> None:
    """Drop whole monthly partitions of observations older than the given age; create future ones."""
    from sinks.retention import drop_partitions_older_than, ensure_future_partitions

    if not older_than.endswith("d") or not older_than[:-1].isdigit():
        raise click.ClickException("--older-than takes days, like 400d")
    dsn = _dsn()
    dropped = drop_partitions_older_than(dsn, int(older_than[:-1]))
    ensure_future_partitions(dsn)
    click.echo("dropped: " + (", ".join(dropped) if dropped else "nothing"))


def _dsn() -> str:
    settings = _settings()
    try:
        return str(settings.database_dsn())
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


# --- analyst tools -----------------------------------------------------------------------


@main.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset instead of the end.")
@click.option("--max", "max_records", type=int, default=None, help="Stop after N records.")
@click.option("--filter", "filters", multiple=True, help="field=value (e.g. subject=abc); repeatable.")
@click.option("--timeout", type=float, default=None, help="Stop after this many idle seconds.")
def tail(topic: str, from_beginning: bool, max_records: int | None, filters: tuple[str, ...], timeout: float | None) -> None:
    """Print decoded records of a catalogue topic as JSON lines."""
    from vitalstream.tail import tail_topic

    try:
        parsed = dict(f.split("=", 1) for f in filters)
    except ValueError:
        raise click.ClickException("--filter takes field=value") from None
    try:
        tail_topic(_settings(), topic, from_beginning, max_records, parsed, timeout)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None


def run() -> None:
    try:
        main(standalone_mode=True)
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
