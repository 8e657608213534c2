"""``vitalstream worker``: run the Faust worker of :mod:`streams.app` in this process.

``faust.Worker`` (mode) installs SIGINT/SIGTERM handlers that stop the app gracefully:
agents finish their current batch (its outputs are awaited), offsets are committed after
the producer is flushed, tables are closed. SIGKILL loses only uncommitted work, which is
processed again after a restart (at-least-once; tables restore from their changelogs).

The worker runs the live scoring generation (:mod:`streams.generation`). When the control
topic names another one (``vitalstream recompute`` switching over), it stops gracefully
the same way and replaces itself (``exec``, same pid and arguments) with a worker of the
new generation, so no supervisor has to know about switch-overs.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import faust
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_exponential

from schemas.records import ScoringGeneration
from streams.app import create_app
from streams.generation import ControlWatch, carry_offsets, datadir_for, prune_other_generations
from streams.restore import prerestore, table_logs
from vitalstream.platform.control import read_active
from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.runtime import freeze_startup_heap, quick_lock_handoff
from vitalstream.platform.settings import Settings, secret_values

STARTUP_WAIT_S = 300.0
"""How long a starting worker waits for Kafka to tell it the live generation."""
CONTROL_POLL_S = 2.0


def _startup(settings: Settings) -> tuple[ControlWatch, ScoringGeneration | None]:
    log = get_logger("streams.main")
    for attempt in Retrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.5, max=10),
        stop=stop_after_delay(STARTUP_WAIT_S),
        reraise=True,
        before_sleep=lambda rs: log.warning(
            "waiting for Kafka to read the live scoring generation",
            error=type(rs.outcome.exception()).__name__ if rs.outcome else None,
        ),
    ):
        with attempt:
            watch = ControlWatch(settings, 0)  # first: see its docstring
            try:
                active = read_active(settings)
                if active is not None and active.previous_app_id:
                    carried = carry_offsets(settings, active.previous_app_id, active.app_id)
                    if carried:
                        log.info("offsets carried over", partitions=carried, source=active.previous_app_id)
            except BaseException:
                watch.close()  # the next attempt makes a new one
                raise
            watch.generation = 0 if active is None else active.generation
    return watch, active


def _prerestore(settings: Settings, app: faust.App) -> None:
    """Bulk-restore the tables (see :mod:`streams.restore`); if it fails, Faust's own restore does it."""
    log = get_logger("streams.main")
    try:
        report = prerestore(settings, Path(app.conf.tabledir), table_logs(settings, app.conf.id))
    except Exception as exc:
        log.warning(
            "bulk table restore failed; Faust restores instead", error=type(exc).__name__, detail=str(exc)[:200]
        )
        return
    log.info("tables restored", records=report.records, partitions=report.partitions, seconds=round(report.seconds, 2))


def run(settings: Settings) -> None:
    configure_logging(settings.log_level, service="worker", secrets=secret_values(settings))
    log = get_logger("streams.main")
    watch, active = _startup(settings)
    generation = 0 if active is None else active.generation
    for removed in prune_other_generations(settings, generation):
        log.info("removed local tables of another generation", path=str(removed))
    os.makedirs(datadir_for(settings, generation), exist_ok=True)
    app = create_app(settings, generation=generation)
    if settings.worker_bulk_restore:
        _prerestore(settings, app)
    freeze_startup_heap()
    quick_lock_handoff()
    switch_to: list[ScoringGeneration] = []

    @app.timer(CONTROL_POLL_S)  # type: ignore[untyped-decorator]
    async def _watch_control() -> None:
        if switch_to:
            return
        new = watch.poll()
        if new is not None:
            switch_to.append(new)
            log.info("switching scoring generation", current=generation, new=new.generation, app_id=new.app_id)
            os.kill(os.getpid(), signal.SIGTERM)  # the worker's own graceful shutdown

    log.info(
        "worker starting",
        app_id=app.conf.id,
        generation=generation,
        bootstrap=settings.kafka_bootstrap,
        web_port=settings.worker_web_port,
    )
    worker = faust.Worker(app, loglevel=settings.log_level.lower(), quiet=True)
    # Faust's terminal spinner sets the root logger to DEBUG at a WARNING log level, which makes
    # aiokafka build a log record per produced message: a third of the worker's CPU.
    worker.spinner = None
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code not in (0, None) and not switch_to:
            raise
    finally:
        watch.close()
    if switch_to:
        log.info("restarting as the new generation", generation=switch_to[0].generation)
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - our own command line
