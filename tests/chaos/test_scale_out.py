"""Scale-out under load (design §10.5, §11): a three-node KRaft cluster (RF 3, min.insync.replicas=2),
a gateway, two sinks and one, then two, then three workers.

1. Throughput of one worker, then of two (catch-up after a burst, see ``tests/chaos/scaling.py``):
   printed, not asserted — the machine is shared.
2. Under a steady load of signed webhooks through the gateway, a third worker joins, then one is
   SIGKILLed mid-stream, then a sink leaves (SIGTERM). Each time the group rebalances until its
   members own every partition; the tables of the partitions that move are restored on their new
   owner (from the changelogs), which the confidence-count check of the verdict holds to account.
3. Every invariant of ``harness.verdict`` over all three loads: no accepted event lost, no
   observation scored twice (confidence state counts equal distinct observations), no duplicated
   rows, ``latest_metrics`` equal to the model.
"""

from __future__ import annotations

import pytest

from tests.chaos.harness import Rig, finish, start_load
from tests.chaos.scaling import catch_up, wait_group

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(600)]

BURST_WEBHOOKS = 1000
BURST_RATE = 400.0
LOAD_S = 50.0
WORKER_TOPIC, SINK_TOPIC = "webhooks.raw", "metrics.scored"


def test_workers_join_and_die_and_a_sink_leaves_under_load(cluster_rig: Rig) -> None:
    rig = cluster_rig
    p = rig.pipeline
    p.start("sink-2")
    wait_group(rig, "sink", 2, SINK_TOPIC)
    wait_group(rig, "worker", 1, WORKER_TOPIC)
    burst_one, one = catch_up(rig, ["worker"], BURST_WEBHOOKS, BURST_RATE, seed=601)
    p.start("worker-2")
    wait_group(rig, "worker", 2, WORKER_TOPIC)
    burst_two, two = catch_up(rig, ["worker", "worker-2"], BURST_WEBHOOKS, BURST_RATE, seed=602)
    print(f"\n[chaos] scale_out throughput (catch-up, shared machine): one worker {one}, two workers {two}", flush=True)

    load = start_load(rig, seconds=LOAD_S, seed=603)
    load.wait_until(5, rig)
    p.start("worker-3")
    join_s = wait_group(rig, "worker", 3, WORKER_TOPIC)
    killed_at = round(load.elapsed(), 1)
    rig.planned.add("worker-2")
    p.kill("worker-2")
    after_kill_s = wait_group(rig, "worker", 2, WORKER_TOPIC)
    sink_left_at = round(load.elapsed(), 1)
    rig.planned.add("sink-2")
    p.stop("sink-2")
    after_leave_s = wait_group(rig, "sink", 1, SINK_TOPIC)
    assert sink_left_at < LOAD_S, f"the sink left {sink_left_at}s into a {LOAD_S}s load: not mid-stream"
    finish(
        rig,
        load,
        "scale_out",
        {
            "throughput_one_worker": one,
            "throughput_two_workers": two,
            "third_worker_owned_partitions_after_s": round(join_s, 1),
            "worker_killed_at_s": killed_at,
            "rebalanced_after_kill_s": round(after_kill_s, 1),
            "sink_left_at_s": sink_left_at,
            "rebalanced_after_leave_s": round(after_leave_s, 1),
        },
        earlier=[burst_one, burst_two],
    )
