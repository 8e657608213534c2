"""``vitalstream worker``: run the Faust worker of :mod:`streams.app` in this process.

``faust.Worker`` (mode) installs SIGINT/SIGTERM handlers that stop the app gracefully:
agents finish their current batch (its outputs are awaited), offsets are committed after
the producer is flushed, tables are closed. SIGKILL loses only uncommitted work, which is
processed again after a restart (at-least-once; tables restore from their changelogs).
"""

from __future__ import annotations

import os

import faust

from streams.app import create_app
from vitalstream.observability import configure_logging, get_logger
from vitalstream.settings import Settings


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, service="worker")
    os.makedirs(settings.worker_datadir, exist_ok=True)
    app = create_app(settings)
    get_logger("streams.main").info(
        "worker starting", app_id=app.conf.id, bootstrap=settings.kafka_bootstrap, web_port=settings.worker_web_port
    )
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG at a WARNING log level, which makes
    # aiokafka build a log record per produced message: a third of the worker's CPU.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
