"""Terminal output for ``vitalstream dlq``: tables, masked records, a replay progress bar."""

from __future__ import annotations

import getpass
import json
import sys
import urllib.error
import urllib.request
from dataclasses import asdict
from typing import Any

import click
import orjson
from rich.console import Console
from rich.table import Table

from vitalstream import dlq as dlq_mod
from vitalstream.platform.codec import codec_for
from vitalstream.platform.settings import Settings
from vitalstream.progress import progress_bar


def _iso(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


def print_groups(groups: list[dlq_mod.Group], as_json: bool) -> None:
    if as_json:
        rows = [{**asdict(g), "first_seen": _iso(g.first_seen), "last_seen": _iso(g.last_seen)} for g in groups]
        click.echo(json.dumps(rows, indent=2))
        return
    if not groups:
        click.echo("the dead-letter topic is empty")
        return
    table = Table(title="dead letters")
    for col in ("stage", "error class", "count", "pending", "replayed", "first seen", "last seen", "message"):
        table.add_column(col, overflow="fold")
    for g in groups:
        table.add_row(
            g.stage,
            g.error_class,
            str(g.count),
            str(g.pending),
            str(g.replayed),
            _iso(g.first_seen),
            _iso(g.last_seen),
            g.sample_message,
        )
    Console().print(table)


def show(settings: Settings, ref: str | None, event_id: str | None) -> None:
    codec = codec_for(settings)
    letters = [
        lt
        for lt in dlq_mod.read_dead_letters(settings)
        if (ref and lt.ref == ref) or (event_id and lt.event_id == event_id)
    ]
    if not letters:
        raise click.ClickException(f"no dead letter {ref or event_id} (see `vitalstream dlq ls --json`)")
    for letter in letters:
        sys.stdout.write(json.dumps(dlq_mod.describe(letter, codec), indent=2, default=str) + "\n")


def print_plan(rows: list[dict[str, str | None]]) -> None:
    """The dry run's table: which records would go back, and why each was dead-lettered."""
    table = Table(title="would replay")
    for col in dlq_mod.PLAN_COLUMNS:
        table.add_column("first failure (UTC)" if col == "first_failure" else col.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*(row.get(col) or "-" for col in dlq_mod.PLAN_COLUMNS))
    Console(width=None if sys.stdout.isatty() else 200).print(table)  # piped: one line per record


def _print_report(report: dlq_mod.ReplayReport) -> None:
    verb = "would replay" if report.dry_run else "replayed"
    click.echo(
        f"matched {report.matched}; {verb} {len(report.replayed)}; "
        f"already replayed (use --force) {len(report.skipped_already)}; failed {len(report.failed)}"
    )
    if report.planned:
        print_plan(report.planned)
    for line in report.failed:
        click.echo(f"  FAILED {line}", err=True)
    if report.failed:
        sys.exit(1)


def replay_local(
    settings: Settings, filters: dlq_mod.Filters, limit: int | None, dry_run: bool, rate: float | None, force: bool
) -> None:
    with progress_bar("replaying") as progress:
        report = dlq_mod.replay(
            settings,
            filters,
            limit=limit,
            dry_run=dry_run,
            rate=rate,
            force=force,
            actor=f"cli:{getpass.getuser()}",
            on_progress=progress,
        )
    _print_report(report)


def replay_remote(
    settings: Settings, admin_url: str, filters: dlq_mod.Filters, limit: int | None, dry_run: bool, force: bool
) -> None:
    if settings.admin_token is None:
        raise click.ClickException("VITALSTREAM_ADMIN_TOKEN is not set: the admin endpoint requires it")
    body = {
        "stage": filters.stage,
        "error_class": filters.error_class,
        "provider": filters.provider,
        "since": _iso(filters.since) if filters.since else None,
        "until": _iso(filters.until) if filters.until else None,
        "event_id": filters.event_id,
        "refs": sorted(filters.refs),
        "limit": limit,
        "dry_run": dry_run,
        "force": force,
    }
    req = urllib.request.Request(
        admin_url.rstrip("/") + "/admin/dlq/replay",
        data=orjson.dumps(body),
        method="POST",
        headers={
            "Authorization": f"Bearer {settings.admin_token.get_secret_value()}",
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=300) as resp:
            result = json.load(resp)
    except urllib.error.HTTPError as exc:
        with exc:
            raise click.ClickException(f"admin endpoint answered {exc.code}: {exc.read().decode()[:200]}") from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach {admin_url}: {exc.reason}") from None
    _print_report(dlq_mod.ReplayReport(**result))
