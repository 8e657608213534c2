"""freeze_startup_heap: what is alive at start leaves the full collections; the collector stays on."""

from __future__ import annotations

import gc

from vitalstream.platform.runtime import freeze_startup_heap


def test_the_startup_heap_is_frozen_and_collection_stays_enabled() -> None:
    gc.unfreeze()
    try:
        before = gc.get_freeze_count()
        freeze_startup_heap()
        assert gc.get_freeze_count() > before + 10_000  # the interpreter, pytest and our imports
        assert gc.isenabled()
    finally:
        gc.unfreeze()
