"""The console's per-process state, reached from handlers through ``request.app[STATE_KEY]``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web
from psycopg_pool import AsyncConnectionPool

from vitalstream.console.accounts import Session
from vitalstream.console.jobs import Jobs
from vitalstream.console.live import Feed
from vitalstream.platform.settings import Settings


@dataclass
class ConsoleState:
    settings: Settings
    pool: AsyncConnectionPool
    jobs: Jobs
    feeds: dict[str, Feed] = field(default_factory=dict)


STATE_KEY = web.AppKey("vitalstream_console", ConsoleState)
SESSION_KEY = web.RequestKey("vs_console_session", Session)
