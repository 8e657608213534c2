"""The runtime treatment of services: the frozen startup heap, the worker's switch interval."""

from __future__ import annotations

import gc
import sys

import pytest

from vitalstream.platform.runtime import THREAD_SWITCH_S, freeze_startup_heap, quick_lock_handoff


def test_the_startup_heap_is_frozen_and_collection_stays_enabled() -> None:
    gc.unfreeze()
    try:
        before = gc.get_freeze_count()
        freeze_startup_heap()
        assert gc.get_freeze_count() > before + 10_000  # the interpreter, pytest and our imports
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_the_event_loop_gets_the_interpreter_back_within_a_millisecond() -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(0.005)  # Python's default; an in-process Sink of an earlier test may have lowered it
    try:
        quick_lock_handoff()
        assert sys.getswitchinterval() == pytest.approx(THREAD_SWITCH_S)
    finally:
        sys.setswitchinterval(before)
