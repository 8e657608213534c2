"""PostgreSQL for the local stack and the tests: ``initdb`` + ``pg_ctl`` into a directory.

PostgreSQL refuses to run as root, so when we are root the cluster is owned by and run
as the ``postgres`` OS user (created by Debian's package) or ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from vitalstream.stack import proc
from vitalstream.stack.errors import StackError
from vitalstream.stack.ports import free_port, port_in_use

SEARCH_DIRS = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/15/bin")


def pg_bin(name: str) -> str:
    for d in SEARCH_DIRS:
        candidate = Path(d) / name
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise StackError(
        f"PostgreSQL server binary `{name}` not found: install it (apt-get install postgresql) "
        "or set VITALSTREAM_DATABASE_URL to an existing server"
    )


def _run_as() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for user in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(user)
        except KeyError:
            continue
    raise StackError("running as root and no `postgres` or `nobody` user exists to own the database")


def _as_user(argv: list[str]) -> list[str]:
    user = _run_as()
    if user is None:
        return argv
    return ["runuser", "-u", user.pw_name, "--", *argv]


@dataclass
class PostgresServer:
    workdir: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    database: str = "vitalstream"
    fast: bool = False
    """For tests: ``fsync=off`` and ``full_page_writes=off`` (only an OS crash could lose data, and no
    test crashes the OS). ``synchronous_commit`` stays on: a PostgreSQL crash or immediate stop must
    not lose acknowledged commits, which the chaos suite checks."""

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{self.database}"

    def admin_url(self) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/postgres"

    def _make_reachable(self) -> None:
        """As root, the server runs as another user, who must be able to traverse every parent directory.

        Directories like ``/root`` or pytest's temp root are 0700: add only the search bit (o+x:
        enter, not list) where it is missing, so the ``postgres`` user can reach its data directory.
        """
        if _run_as() is None:
            return
        for parent in reversed(self.workdir.resolve().parents):
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)

    def _chown(self, path: Path) -> None:
        user = _run_as()
        if user is not None:
            for p in [path, *path.rglob("*")]:
                os.chown(p, user.pw_uid, user.pw_gid)

    def init(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._make_reachable()
        pwfile = self.workdir / "pwfile"
        pwfile.write_text(self.password + "\n")
        self.data_dir.mkdir(exist_ok=True)
        self._chown(self.workdir)
        pwfile.chmod(0o600)
        out = proc.run(
            _as_user(
                [
                    pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    "postgres",
                    "--pwfile",
                    str(pwfile),
                    "--auth=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8" if _has_c_utf8() else "--locale=C",
                ]
            )
        )
        pwfile.unlink(missing_ok=True)
        if out.returncode != 0:
            raise StackError(f"initdb failed: {(out.stdout + out.stderr).strip()[-300:]}")

    def start(self, timeout_s: float = 30.0) -> None:
        if self.running():
            return
        self._make_reachable()  # another process may have tightened a parent directory since init
        if port_in_use(self.port):
            raise StackError(f"port {self.port} is in use: stop what listens there or pick another port")
        opts = [
            f"-p {self.port}",
            "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=200",
            "-c shared_buffers=256MB",
        ]
        if self.fast:
            opts += ["-c fsync=off", "-c full_page_writes=off"]
        log = self.workdir / "postgres.log"
        if not log.exists():
            log.touch()
            self._chown(log)
        out = proc.run(
            _as_user(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "-o",
                    " ".join(opts),
                    "start",
                ]
            )
        )
        if out.returncode != 0:
            raise StackError(f"PostgreSQL did not start ({out.stderr.strip()[-200:]}): see {log}")
        self._ensure_database()

    def _ensure_database(self) -> None:
        import psycopg

        deadline = time.monotonic() + 15
        while True:
            try:
                with psycopg.connect(self.admin_url(), autocommit=True, connect_timeout=3) as conn:
                    exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{self.database}"')
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def pid(self) -> int | None:
        pidfile = self.data_dir / "postmaster.pid"
        try:
            return int(pidfile.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        return proc.alive(self.pid())

    def stop(self, mode: str = "fast") -> None:
        if not self.running():
            return
        proc.run(_as_user([pg_bin("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"]))


def _has_c_utf8() -> bool:
    out = proc.run(["locale", "-a"])
    return any(line.lower() in ("c.utf8", "c.utf-8") for line in out.stdout.splitlines())


SERVICE_LOGINS: dict[str, str] = {
    "sink": "vitalstream_sink",
    "reader": "vitalstream_reader",
    "analyst": "vitalstream_analyst",
    "health": "vitalstream_health",
    "console": "vitalstream_console",
}
"""Login role per service (``vs_<name>``) → the NOLOGIN role (migrations 0007, 0009, 0011) it is a member of."""


def ensure_login_role(admin_url: str, name: str, password: str) -> str:
    """Create (or re-password) the login role ``vs_<name>``, a member of its service role; returns its URL.

    The URL is ``admin_url`` with the login's credentials: same host, port, database and options.
    """
    import psycopg
    from psycopg import sql

    login = f"vs_{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(
            sql.SQL(verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(login), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(SERVICE_LOGINS[name]), sql.Identifier(login)))
    return with_credentials(admin_url, login, password)


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` (postgresql://user:pw@host…) with another user and password (sslmode and options kept)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"))
