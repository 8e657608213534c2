"""The ``vitalstream`` command line (click). Services are imported lazily, per command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vitalstream.bench import CHOICES as BENCH_CHOICES
from vitalstream.platform import __version__
from vitalstream.stack.errors import StackError


def _settings() -> Any:
    """Settings from the environment, falling back to the running local stack's ``stack.env``."""
    from pydantic import ValidationError

    from vitalstream.platform.settings import Settings
    from vitalstream.stack.launcher import StackPaths, stack_dir

    env_file = StackPaths(stack_dir()).env
    try:
        return Settings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = "VITALSTREAM_" + str(first["loc"][0]).upper() if first["loc"] else "a VITALSTREAM_* variable"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise click.ClickException(f"{field}: {message}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vitalstream")
def main() -> None:
    """vitalstream: wearable-health webhooks to always-current, quality-scored metrics."""


# --- local stack -------------------------------------------------------------------------


@main.command()
@click.option("--detach", is_flag=True, help="Start in the background and return.")
@click.option(
    "--secure", is_flag=True, help="Kafka on SASL_SSL with ACLs, one principal per service (.vitalstream/principals/)."
)
def up(detach: bool, secure: bool) -> None:
    """Run Kafka, PostgreSQL, gateway, worker and sink locally (writes .vitalstream/stack.env)."""
    from vitalstream.stack import launcher

    sys.exit(launcher.up(detach, secure=secure))


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
    """Run the webhook gateway (HTTP), its /health document and the admin port."""
    from vitalstream.gateway_process import run

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


@main.command()
def console() -> None:
    """Run the ops console (web): overview, dead letters and replay, recompute, quality, accounts, audit."""
    from vitalstream.console.app import run as run_console

    run_console(_settings())


@main.group()
def accounts() -> None:
    """Ops console accounts (roles: admin, operator, viewer)."""


@accounts.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "viewer"]))
@click.option(
    "--password-file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Else read from stdin."
)
def accounts_add(name: str, role: str, password_file: Path | None) -> None:
    """Create an account, or set an existing one's role and password (its sessions end)."""
    from vitalstream.console.accounts_cli import add

    add(_settings(), name, role, password_file)


@accounts.command("ls")
def accounts_ls() -> None:
    """List the console accounts and their roles."""
    from vitalstream.console.accounts_cli import ls

    ls(_settings())


@accounts.command("remove")
@click.argument("name")
def accounts_remove(name: str) -> None:
    """Remove an account (its sessions end at once)."""
    from vitalstream.console.accounts_cli import remove

    remove(_settings(), name)


@main.command()
def api() -> None:
    """Run the read API for apps (latest metrics, history, quality, live stream, FHIR)."""
    from vitalstream.api.serve import run

    run(_settings())


@main.group("api-keys")
def api_keys() -> None:
    """Keys for the read API (stored as SHA-256 digests; the key is shown once)."""


@api_keys.command("create")
@click.argument("name")
@click.option("--subjects", "subjects", multiple=True, help="Glob of subjects the key may see; repeatable.")
@click.option("--scopes", default="read,stream,fhir", show_default=True, help="Comma-separated: read, stream, fhir.")
def api_keys_create(name: str, subjects: tuple[str, ...], scopes: str) -> None:
    """Create a key; its value is printed alone on the last line (store it: it is not kept)."""
    from vitalstream.api import keystore
    from vitalstream.api.keys import InvalidKeySpec, parse_scopes

    try:
        key = keystore.create(_dsn(), name, subjects or ("*",), parse_scopes(scopes))
    except InvalidKeySpec as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"created API key {name!r} (prefix {key.prefix}); it is shown once, keep it:")
    click.echo(key.token)


@api_keys.command("ls")
def api_keys_ls() -> None:
    """Every key: name, prefix, subjects, scopes, created, revoked."""
    from vitalstream.api import keystore

    for row in keystore.list_keys(_dsn()):
        revoked = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(
            f"{row.name:20} {row.prefix}…  subjects={','.join(row.subjects)}  scopes={','.join(row.scopes)}  "
            f"created {row.created_at:%Y-%m-%d %H:%M}  {revoked}"
        )


@api_keys.command("revoke")
@click.argument("name")
def api_keys_revoke(name: str) -> None:
    """Revoke a key (the API refuses it within VITALSTREAM_API_KEY_CACHE_S seconds)."""
    from vitalstream.api import keystore

    if not keystore.revoke(_dsn(), name):
        raise click.ClickException(f"no active key named {name!r} (see `vitalstream api-keys ls`)")
    click.echo(f"revoked {name}")


@main.command()
@click.option("--url", default=None, help="Gateway base URL (default: from settings).")
def health(url: str | None) -> None:
    """Print the health document; exit 0 healthy/degraded, 1 unhealthy."""
    from vitalstream.health_cli import print_health

    sys.exit(print_health(_settings(), url))


# --- topics and database -----------------------------------------------------------------


@main.group()
def topics() -> None:
    """Kafka topic catalogue."""


@topics.command("create")
def topics_create() -> None:
    """Create/verify every catalogue topic (idempotent)."""
    from vitalstream.platform.topics import ensure_topics

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


@topics.command("repair-keys")
def topics_repair_keys() -> None:
    """Delete stale copies of keys that an older version wrote into the wrong partition of a compacted topic."""
    from vitalstream.platform.partitioning import repair_compacted

    report = repair_compacted(_settings())
    for name, n in report.tombstones.items():
        click.echo(f"{'repaired' if n else 'ok':<9} {name}" + (f" ({n} stale copies tombstoned)" if n else ""))


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


@main.group()
def connections() -> None:
    """Provider connections (PostgreSQL's provider_connections)."""


@connections.command("silent")
@click.option("--days", default=7, show_default=True, type=click.IntRange(1), help="Days without data.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
def connections_silent(days: int, as_json: bool) -> None:
    """Connected users with no data for --days days (the newest of their latest metrics is older)."""
    from vitalstream.connections import print_silent

    print_silent(_settings(), days, as_json)


def _dsn() -> str:
    settings = _settings()
    try:
        return str(settings.database_dsn())
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


# --- load ------------------------------------------------------------------------------


@main.command()
@click.option(
    "--type",
    "data_type",
    default="all",
    show_default=True,
    help="body|daily|sleep|activity|nutrition|menstruation|athlete|all",
)
@click.option("--provider", default=None, help="Force one provider (e.g. WHOOP); default: a realistic mix.")
@click.option("--users", default=10, show_default=True, type=click.IntRange(1))
@click.option("--rate", default=50.0, show_default=True, type=click.FloatRange(0.1), help="Webhooks per second.")
@click.option("--count", default=1000, show_default=True, type=click.IntRange(1))
@click.option("--duplicates", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share re-sent.")
@click.option("--late", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share of older data.")
@click.option("--poison", default=0.0, show_default=True, type=click.FloatRange(0, 1), help="Share malformed.")
@click.option("--seed", default=7, show_default=True)
@click.option("--url", default=None, help="Gateway URL (default: from VITALSTREAM_GATEWAY_HOST/PORT).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
def simulate(**options: Any) -> None:
    """Send correctly signed, realistic Terra webhooks to a gateway."""
    from vitalstream.simulate_cli import SimulationOptions, run_simulation

    run_simulation(_settings(), SimulationOptions(**options))


@main.command()
@click.option(
    "--since",
    default=None,
    help="Rebuild from the first metrics.normalized record at or after this time (ISO time or age like 2d); "
    "default: the earliest retained.",
)
@click.option(
    "--max-lag", default=1000, show_default=True, help="Switch over once the rebuild is this close to the head."
)
@click.option("--wait", "wait_s", default=120.0, show_default=True, help="Seconds to wait for a worker to switch.")
def recompute(since: str | None, max_lag: int, wait_s: float) -> None:
    """Rebuild the confidence state and Postgres from metrics.normalized beside the live pipeline, then switch over."""
    from vitalstream.recompute_cli import run_recompute

    run_recompute(_settings(), _when(since), max_lag, wait_s)


# --- Terra large requests ----------------------------------------------------------------


@main.group()
def backfill() -> None:
    """Terra large requests (historical backfills) by terra-reference: chunks and status."""


@backfill.command("ls")
@click.option(
    "--status", type=click.Choice(["processing", "sending", "complete", "incomplete"]), default=None, help="Only these."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backfill_ls(status: str | None, as_json: bool) -> None:
    """Large requests, newest first: user, status, chunks received of expected, age."""
    from vitalstream.backfill_cli import ls

    ls(_settings(), status, as_json)


@backfill.command("show")
@click.argument("reference")
def backfill_show(reference: str) -> None:
    """One large request as JSON, with the chunk numbers still missing."""
    from vitalstream.backfill_cli import show

    show(_settings(), reference)


# --- dead letters ------------------------------------------------------------------------


@main.group()
def dlq() -> None:
    """Inspect and replay the dead-letter topic."""


def _when(text: str | None) -> Any:
    from datetime import UTC, datetime, timedelta

    if text is None:
        return None
    if text[:-1].isdigit() and text[-1] in "smhd":
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[text[-1]]
        return datetime.now(UTC) - timedelta(**{unit: int(text[:-1])})
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: use an ISO time (2026-11-23T10:00Z) or an age like 2h / 7d") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dlq.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def dlq_ls(as_json: bool) -> None:
    """Dead letters grouped by stage and error class: counts, first/last seen, pending vs replayed."""
    from vitalstream import dlq as dlq_mod
    from vitalstream.dlq_cli import print_groups

    settings = _settings()
    groups = dlq_mod.summarize(dlq_mod.read_dead_letters(settings), dlq_mod.read_replayed(settings))
    print_groups(groups, as_json)


@dlq.command("show")
@click.argument("ref", required=False)
@click.option("--event-id", default=None, help="Show the dead letters of this event id.")
def dlq_show(ref: str | None, event_id: str | None) -> None:
    """One dead letter (REF is PARTITION:OFFSET as `dlq ls --json` / `tail dlq` print it)."""
    from vitalstream.dlq_cli import show

    if not ref and not event_id:
        raise click.UsageError("give a PARTITION:OFFSET or --event-id")
    show(_settings(), ref, event_id)


@dlq.command("replay")
@click.option("--stage", default=None)
@click.option("--error-class", default=None)
@click.option("--provider", default=None)
@click.option("--since", default=None, help="ISO time or age (2h, 7d).")
@click.option("--until", default=None, help="ISO time or age.")
@click.option("--event-id", default=None)
@click.option("--ref", "refs", multiple=True, help="PARTITION:OFFSET; repeatable.")
@click.option("--limit", type=click.IntRange(1), default=None)
@click.option("--rate", type=click.FloatRange(0.1), default=None, help="Records per second.")
@click.option("--dry-run", is_flag=True, help="List what would be replayed.")
@click.option("--force", is_flag=True, help="Replay records that were replayed before.")
@click.option("--admin-url", default=None, help="Replay through a remote gateway's admin endpoint.")
def dlq_replay(
    stage: str | None,
    error_class: str | None,
    provider: str | None,
    since: str | None,
    until: str | None,
    event_id: str | None,
    refs: tuple[str, ...],
    limit: int | None,
    rate: float | None,
    dry_run: bool,
    force: bool,
    admin_url: str | None,
) -> None:
    """Re-publish chosen dead letters to their original topic (each replay recorded in dlq.replays)."""
    from vitalstream.dlq import Filters
    from vitalstream.dlq_cli import replay_local, replay_remote

    filters = Filters(stage, error_class, provider, _when(since), _when(until), event_id, frozenset(refs))
    settings = _settings()
    if admin_url:
        replay_remote(settings, admin_url, filters, limit, dry_run, force)
    else:
        replay_local(settings, filters, limit, dry_run, rate, force)


# --- analyst tools -----------------------------------------------------------------------


@main.command()
@click.argument("topic")
@click.option("--from-beginning", is_flag=True, help="Start at the earliest offset instead of the end.")
@click.option("--max", "max_records", type=int, default=None, help="Stop after N records.")
@click.option("--filter", "filters", multiple=True, help="field=value (e.g. subject=abc); repeatable.")
@click.option("--timeout", type=float, default=None, help="Stop after this many idle seconds.")
@click.option("--unmasked", is_flag=True, help="Show personal fields (admins: needs VITALSTREAM_ADMIN_TOKEN).")
def tail(
    topic: str,
    from_beginning: bool,
    max_records: int | None,
    filters: tuple[str, ...],
    timeout: float | None,
    unmasked: bool,
) -> None:
    """Print decoded records of a catalogue topic as JSON lines (personal fields masked)."""
    from vitalstream.tail import tail_topic

    try:
        parsed = dict(f.split("=", 1) for f in filters)
    except ValueError:
        raise click.ClickException("--filter takes field=value") from None
    settings = _settings()
    if unmasked:
        if settings.admin_token is None or not settings.admin_token.get_secret_value():
            raise click.ClickException("--unmasked is for admins: set VITALSTREAM_ADMIN_TOKEN (or drop --unmasked)")
        click.echo("tail --unmasked: personal fields are shown as received", err=True)
    try:
        tail_topic(settings, topic, from_beginning, max_records, parsed, timeout, unmasked=unmasked)
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None


# --- benchmarks --------------------------------------------------------------------------


@main.command()
@click.argument("what", default="all", type=click.Choice(BENCH_CHOICES))
@click.option("--quick", is_flag=True, help="Short runs (the whole of `all` in under 5 minutes).")
@click.option("--rates", default=None, metavar="R,R,…", help="e2e only: sweep these webhook rates and report the knee.")
def bench(what: str, quick: bool, rates: str | None) -> None:
    """Run benchmarks on a private stack; write tests/bench/results.json, BENCHMARKS.md and plots."""
    from vitalstream.bench.runner import run as run_bench
    from vitalstream.bench.sweep import RatesError, parse_rates

    swept: tuple[int, ...] | None = None
    if rates is not None:
        if what != "e2e":
            raise click.ClickException(f"--rates sweeps the e2e bench: run `vitalstream bench e2e --rates {rates}`")
        try:
            swept = parse_rates(rates)
        except RatesError as exc:
            raise click.ClickException(str(exc)) from None
    command = "vitalstream bench " + what + (" --quick" if quick else "") + (f" --rates {rates}" if rates else "")
    run_bench(what, quick, command, rates=swept)


def run() -> None:
    """Console entry point: every failure is one line that says what went wrong, never a traceback
    (set VITALSTREAM_DEBUG=1 to see it)."""
    import os

    try:
        main(standalone_mode=True)
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except Exception as exc:
        if os.environ.get("VITALSTREAM_DEBUG"):
            raise
        click.echo(f"error: {type(exc).__name__}: {exc} (VITALSTREAM_DEBUG=1 shows the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    run()
