"""Terminal side of ``vitalstream accounts add|ls|remove`` (each change also lands in the audit log)."""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path

import click
import psycopg

from vitalstream.console import accounts, audit
from vitalstream.platform.settings import Settings


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def read_password(password_file: Path | None) -> str:
    """The password from the file, or from stdin (a terminal is asked twice); trailing newline dropped."""
    if password_file is not None:
        try:
            return password_file.read_text().rstrip("\r\n")
        except OSError as exc:
            raise click.ClickException(f"cannot read {password_file}: {exc.strerror}") from None
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise click.ClickException("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


async def _add(dsn: str, name: str, role: str, password: str) -> bool:
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        created = await accounts.add_account(conn, name, role, password)
        await audit.record(
            conn,
            actor=_actor(),
            role=None,
            action="account.add",
            outcome="created" if created else "updated",
            target=name,
            detail={"role": role},
        )
        return created


def ensure_account(settings: Settings, name: str, role: str, password: str) -> bool:
    """Create or update an account (``vitalstream up`` uses it for ``admin``); True when created."""
    problem = accounts.check_new_account(name, role, password)
    if problem:
        raise click.ClickException(problem)
    return asyncio.run(_add(settings.database_dsn(), name, role, password))


def add(settings: Settings, name: str, role: str, password_file: Path | None) -> None:
    created = ensure_account(settings, name, role, read_password(password_file))
    click.echo(f"{'created' if created else 'updated'} {name} ({role})")


def ls(settings: Settings) -> None:
    async def listed() -> list[accounts.Account]:
        async with await psycopg.AsyncConnection.connect(settings.database_dsn(), autocommit=True) as conn:
            return await accounts.list_accounts(conn)

    rows = asyncio.run(listed())
    if not rows:
        click.echo("no accounts (add one with `vitalstream accounts add NAME --role admin`)")
    for a in rows:
        created = a.created_at.isoformat(timespec="seconds") if a.created_at else ""
        click.echo(f"{a.name:24} {a.role:9} {created}")


def remove(settings: Settings, name: str) -> None:
    async def removed() -> bool:
        async with await psycopg.AsyncConnection.connect(settings.database_dsn(), autocommit=True) as conn:
            done = await accounts.remove_account(conn, name)
            await audit.record(
                conn,
                actor=_actor(),
                role=None,
                action="account.remove",
                outcome="removed" if done else "not_found",
                target=name,
            )
            return done

    if not asyncio.run(removed()):
        raise click.ClickException(f"no account {name}")
    click.echo(f"removed {name}")
