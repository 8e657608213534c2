"""The warm-up waits for the brokers' JIT: the CPU of a JVM's compiler threads, by their Linux names, from /proc."""

from __future__ import annotations

import ctypes
import os
import threading
import time

from vitalstream.bench.cpushare import JitWatch
from vitalstream.bench.report import _warm_text

PR_SET_NAME = 15


def share_while(name: bytes) -> float:
    """The watch's share over 0.4 s of a thread named ``name`` spinning (read while it still runs)."""
    stop = threading.Event()

    def spin() -> None:
        ctypes.CDLL(None).prctl(PR_SET_NAME, name)
        while not stop.is_set():
            pass

    thread = threading.Thread(target=spin)
    watch = JitWatch([os.getpid()])
    thread.start()
    time.sleep(0.4)
    share = watch.share()
    stop.set()
    thread.join()
    return share


def test_the_watch_counts_compiler_threads_and_nothing_else() -> None:
    assert share_while(b"C2 CompilerThre") > 0.5
    assert share_while(b"kafka-request-h") < 0.05


def test_no_jvm_is_no_compiling() -> None:
    assert JitWatch([]).share() == 0.0


def test_the_report_says_how_long_the_warm_up_waited_for_the_jit() -> None:
    at_load = {"rate": 250, "duration_s": 15.0, "freshness_ms": {"p50": 300.0, "p99": 900.0}}
    assert "more at that rate" not in _warm_text({**at_load, "until_jit_settled_s": 0.0})
    assert "then 45.0 s more at that rate until the broker's JIT compiler took under 10% of a core over 5.0 s" in (
        _warm_text({**at_load, "until_jit_settled_s": 45.0})
    )
