"""The terminal side of ``vitalstream simulate``: argument checks, dry run, live progress line."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click
import orjson

from vitalstream.settings import Settings
from vitalstream.simulate import DATA_TYPES, SendStats, deliveries, send_all


def run_simulation(
    settings: Settings,
    data_type: str,
    provider: str | None,
    users: int,
    rate: float,
    count: int,
    duplicates: float,
    late: float,
    poison: float,
    seed: int,
    url: str | None,
    dry_run: bool,
) -> None:
    types = DATA_TYPES if data_type == "all" else (data_type,)
    if any(t not in DATA_TYPES for t in types):
        raise click.ClickException(f"--type must be one of {', '.join(DATA_TYPES)} or all")
    items = list(
        deliveries(count, users, types, provider.upper() if provider else None, duplicates, late, poison, seed)
    )
    if dry_run:
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
        click.echo(f"dry run: {len(items)} webhooks would be sent at {rate:g}/s", err=True)
        return
    if not settings.terra_secrets:
        raise click.ClickException(
            "VITALSTREAM_TERRA_SECRETS is not set: start the stack (`vitalstream up`) or export the signing secret"
        )
    secret = settings.terra_secrets[0].get_secret_value()
    target = url or f"http://{settings.gateway_host}:{settings.gateway_port}/webhooks/terra"

    def progress(stats: SendStats) -> None:
        line = (
            f"\rsent {stats.sent}/{count}  accepted {stats.accepted}  duplicate {stats.duplicates}  "
            f"rejected {stats.rejected}  errors {stats.errors}  p99 {stats.percentile(99):.1f} ms   "
        )
        click.echo(line, nl=False, err=True)

    try:
        stats = asyncio.run(send_all(target, secret, items, rate, on_progress=progress))
    except KeyboardInterrupt:
        raise click.ClickException("interrupted") from None
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
