"""Terminal side of ``vitalstream recompute``: progress bar and report (the work is in :mod:`streams.recompute`)."""

from __future__ import annotations

from datetime import datetime

import click

from vitalstream.platform.settings import Settings
from vitalstream.progress import progress_bar
from vitalstream.stack.launcher import stack_dir
from vitalstream.stack.secure import stack_principal


def run_recompute(settings: Settings, since: datetime | None, max_lag: int, wait_s: float) -> None:
    from streams.recompute import recompute

    settings = stack_principal(settings, stack_dir(), "recompute")
    start = "earliest retained offset" if since is None else f"first record at or after {since.isoformat()}"
    logfile = stack_dir() / "logs" / "recompute.log"  # the rebuild's Faust log: not for the terminal
    logfile.parent.mkdir(parents=True, exist_ok=True)
    click.echo(f"rebuilding scoring state from {settings.topic('metrics.normalized')} ({start}) …", err=True)
    click.echo(f"rebuild log: {logfile}", err=True)
    with progress_bar("rebuilding", "records") as progress:
        report = recompute(
            settings, since=since, max_lag=max_lag, switch_wait_s=wait_s, progress=progress, logfile=str(logfile)
        )
    click.echo(
        f"generation {report.generation}: rebuilt {report.records:,} records in {report.seconds:.1f}s; "
        f"published {report.latest:,} current values and {report.quality_windows:,} daily windows"
    )
    if report.switched:
        click.echo(f"switched: the live worker now runs {report.app_id} (was {report.previous_app_id})")
    else:
        click.echo(
            f"no worker has joined {report.app_id} within {wait_s:.0f}s; the control topic names it, so every "
            "worker switches to it when it next starts (check `vitalstream status` / `vitalstream health`)",
            err=True,
        )
