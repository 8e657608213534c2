"""The real sink (``sinks.service.Sink``) as a subprocess that dies between a database commit
and the matching offset commit.

Run as ``python -m tests.chaos.crashing_sink`` with the pipeline's ``VITALSTREAM_*`` environment
plus ``CHAOS_SINK_EXIT_FILE``: once that file exists, the next ``after_db_commit`` hook call
(the batch's transaction has committed, its offsets are not committed yet) ends the process
with ``os._exit(137)`` — no cleanup, no offset commit, exactly like a SIGKILL at that instant.
Test-only: nothing in ``sinks/`` knows about it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from prometheus_client import start_http_server

from sinks.service import Sink
from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.settings import Settings, secret_values

EXIT_CODE = 137


def main() -> None:
    settings = Settings()
    trigger = Path(os.environ["CHAOS_SINK_EXIT_FILE"])
    configure_logging(settings.log_level, service="sink", secrets=secret_values(settings))
    log = get_logger("tests.chaos.crashing_sink")
    start_http_server(settings.sink_metrics_port)
    commits = 0

    def after_db_commit() -> None:
        nonlocal commits
        commits += 1
        if trigger.exists():
            log.warning("chaos: exiting between the database commit and the offset commit", db_commits=commits)
            os._exit(EXIT_CODE)

    sink = Sink(settings, stop=threading.Event(), after_db_commit=after_db_commit)
    log.info("sink started (chaos: exits after a DB commit once the trigger file exists)")
    sink.run_forever()


if __name__ == "__main__":
    main()
