"""The fault suite (design §10.5): each fault injected under a steady load of simulated Terra
webhooks, then every invariant checked (``harness.verdict``) and one report line printed
(``pytest -s``) and written to ``tests/chaos/last_report.json``:
events sent, accepted, lost (must be 0), duplicated rows (must be 0), seconds to recover lag to 0.
"""

from __future__ import annotations

import sys
import time

import pytest

from tests.chaos.crashing_sink import EXIT_CODE
from tests.chaos.harness import REPO, Rig, finish, start_load
from vitalstream.stack import proc

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(480)]


def test_worker_sigkilled_mid_stream_and_restarted(rig: Rig) -> None:
    p = rig.pipeline
    load = start_load(rig, seconds=30, seed=101)
    load.wait_until(10, rig)
    rig.planned.add("worker")
    p.kill("worker")
    load.wait_until(11, rig)
    p.start("worker")
    rig.planned.discard("worker")
    finish(rig, load, "worker_sigkill", {"killed_at_s": 10})


def test_sink_killed_between_db_commit_and_offset_commit(rig: Rig) -> None:
    """The sink runs with an ``after_db_commit`` hook (``tests/chaos/crashing_sink.py``) that
    ``os._exit``s right after a batch's transaction committed and before its offsets are."""
    p = rig.pipeline
    trigger = p.workdir / "sink-exit-now"
    rig.planned.add("sink")
    p.stop("sink")
    env = {**p.env, "CHAOS_SINK_EXIT_FILE": str(trigger)}
    crasher = proc.spawn([sys.executable, "-m", "tests.chaos.crashing_sink"], p.log("sink"), env=env, cwd=REPO)
    load = start_load(rig, seconds=30, seed=202)
    load.wait_until(10, rig)
    trigger.touch()
    deadline = time.monotonic() + 30
    child = proc._CHILDREN[crasher]
    while child.poll() is None and time.monotonic() < deadline:
        rig.sleep(0.1)
    rc = child.poll()
    assert rc == EXIT_CODE, (
        f"the crashing sink did not exit as planned (rc={rc}): " + p.log("sink").read_text(errors="replace")[-3000:]
    )
    assert "between the database commit and the offset commit" in p.log("sink").read_text(errors="replace")
    died_at = round(load.elapsed(), 1)
    p.start("sink")
    rig.planned.discard("sink")
    finish(rig, load, "sink_kill_between_commits", {"sink_exited_at_s": died_at})


def test_postgres_stopped_30s_and_restarted(rig: Rig) -> None:
    load = start_load(rig, seconds=40, seed=303)
    load.wait_until(5, rig)
    rig.pg.stop(mode="immediate")
    t_stop = time.monotonic()
    rig.sleep(30)
    rig.pg.start()
    outage = round(time.monotonic() - t_stop, 1)
    finish(rig, load, "postgres_down_30s", {"db_outage_s": outage})


def test_single_broker_restarted_gateway_answers_503(rig: Rig) -> None:
    (broker,) = rig.brokers
    load = start_load(rig, seconds=30, seed=404)
    load.wait_until(8, rig)
    broker.stop()
    t_stop = time.monotonic()
    load.wait_until(18, rig)
    broker.start(timeout_s=90)
    downtime = round(time.monotonic() - t_stop, 1)
    v = finish(rig, load, "single_broker_restart", {"broker_down_s": downtime})
    statuses = set(v.figures["by_status"])
    assert v.figures["by_status"].get("503", 0) > 0, "the gateway never answered 503 while the only broker was down"
    assert statuses <= {"200", "202", "503"}, v.figures["by_status"]


def test_three_broker_cluster_loses_one_broker(cluster_rig: Rig) -> None:
    rig = cluster_rig
    victim = rig.brokers[1]
    load = start_load(rig, seconds=30, seed=505)
    load.wait_until(10, rig)
    victim.kill()
    finish(rig, load, "cluster_loses_one_broker", {"killed_node": victim.node_id, "killed_at_s": 10})
