"""The terminal side of ``vitalstream simulate``: argument checks, dry run, live progress line."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from typing import Any

import click
import orjson

from vitalstream.platform.settings import Settings
from vitalstream.simulate import DATA_TYPES, SendStats, deliveries, send_all

PROGRESS_EVERY_S = 5.0


@dataclass(frozen=True)
class SimulationOptions:
    """The options of ``vitalstream simulate`` (one field per command-line option)."""

    data_type: str = "all"
    provider: str | None = None
    users: int = 10
    rate: float = 50.0
    count: int = 1000
    duplicates: float = 0.0
    late: float = 0.0
    poison: float = 0.0
    seed: int = 7
    url: str | None = None
    dry_run: bool = False


def run_simulation(settings: Settings, options: SimulationOptions) -> None:
    o = options
    types = DATA_TYPES if o.data_type == "all" else (o.data_type,)
    if any(t not in DATA_TYPES for t in types):
        raise click.ClickException(f"--type must be one of {', '.join(DATA_TYPES)} or all")
    items = list(
        deliveries(
            o.count, o.users, types, o.provider.upper() if o.provider else None, o.duplicates, o.late, o.poison, o.seed
        )
    )
    if o.dry_run:
        for d in items:
            sys.stdout.buffer.write(
                orjson.dumps(
                    {
                        "type": d.data_type,
                        "provider": d.provider,
                        "subject": d.subject,
                        "trace_id": d.trace_id,
                        "bytes": len(d.body),
                        "duplicate": d.duplicate_of is not None,
                        "late": d.late,
                    }
                )
                + b"\n"
            )
        click.echo(f"dry run: {len(items)} webhooks would be sent at {o.rate:g}/s", err=True)
        return
    if not settings.terra_secrets:
        raise click.ClickException(
            "VITALSTREAM_TERRA_SECRETS is not set: start the stack (`vitalstream up`) or export the signing secret"
        )
    secret = settings.terra_secrets[0].get_secret_value()
    target = o.url or f"http://{settings.gateway_host}:{settings.gateway_port}/webhooks/terra"

    live = sys.stderr.isatty()
    last_line = [0.0]

    def progress(stats: SendStats) -> None:
        """One line rewritten in place on a terminal; elsewhere (a log, CI) a line every 5 s."""
        line = (
            f"sent {stats.sent}/{o.count}  accepted {stats.accepted}  duplicate {stats.duplicates}  "
            f"rejected {stats.rejected}  errors {stats.errors}  p99 {stats.percentile(99):.1f} ms"
        )
        if live:
            click.echo(f"\r{line}   ", nl=False, err=True)
        elif time.monotonic() - last_line[0] >= PROGRESS_EVERY_S or stats.sent == o.count:
            last_line[0] = time.monotonic()
            click.echo(line, err=True)

    try:
        stats = asyncio.run(send_all(target, secret, items, o.rate, on_progress=progress))
    except KeyboardInterrupt:
        raise click.ClickException("interrupted") from None
    if live:
        click.echo("", err=True)
    summary: dict[str, Any] = {
        "sent": stats.sent,
        "accepted": stats.accepted,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "errors": stats.errors,
        "by_status": stats.by_status,
        "p50_ms": round(stats.percentile(50), 2),
        "p99_ms": round(stats.percentile(99), 2),
    }
    click.echo(orjson.dumps(summary, option=orjson.OPT_NON_STR_KEYS).decode())
    if stats.errors == stats.sent:
        raise click.ClickException(f"no answer from {target}: is the gateway up? (`vitalstream status`)")
