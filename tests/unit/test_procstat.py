"""CPU accounting from ``/proc`` (Linux): a process, its children, the machine's steal time."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from vitalstream.platform.procstat import (
    children,
    cpu_seconds,
    lifetime_tree_cpu_seconds,
    machine_busy_ticks,
    machine_ticks,
    reaped_cpu_seconds,
    steal_percent,
    tree_cpu_seconds,
)

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads Linux /proc")


@linux_only
def test_a_process_tree_counts_the_cpu_of_its_live_children() -> None:
    spin = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass\ntime.sleep(30)"
    child = subprocess.Popen([sys.executable, "-c", spin])
    try:
        deadline = time.monotonic() + 20
        while cpu_seconds(child.pid) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in children(os.getpid())
        own = cpu_seconds(os.getpid())
        assert tree_cpu_seconds(os.getpid()) >= own + 0.35, "the child's CPU is in the tree"
    finally:
        child.kill()
        child.wait()
    assert cpu_seconds(child.pid) == 0.0, "a process that is gone has no readable CPU time"


def test_steal_is_the_share_of_all_ticks_between_two_readings() -> None:
    assert steal_percent((10, 1000), (30, 1400)) == 5.0
    assert steal_percent((10, 1000), (10, 1000)) is None, "nothing elapsed: no figure"


@linux_only
def test_the_machine_ticks_only_grow() -> None:
    first = machine_ticks()
    time.sleep(0.05)
    second = machine_ticks()
    assert second[1] > first[1] > 0 and second[0] >= first[0]


@linux_only
def test_a_child_that_ended_counts_once_reaped_and_a_live_one_only_in_the_tree() -> None:
    spin = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    before = reaped_cpu_seconds(os.getpid())
    subprocess.run([sys.executable, "-c", spin], check=True)  # ended and reaped: its time is the parent's now
    after = reaped_cpu_seconds(os.getpid())
    assert after >= before + 0.35
    assert lifetime_tree_cpu_seconds(os.getpid()) >= after, "the tree adds live children to it"


@linux_only
def test_the_machine_is_busy_between_two_readings_while_something_spins() -> None:
    first = machine_busy_ticks()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    second = machine_busy_ticks()
    assert second[1] > first[1] and second[0] - first[0] >= 10, "0.2 s of one core is 20 jiffies at 100 Hz"
