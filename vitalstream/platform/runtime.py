"""What every long-running service does to its interpreter once it has started."""

from __future__ import annotations

import gc
import sys

THREAD_SWITCH_S = 0.001


def freeze_startup_heap() -> None:
    """Take every object alive now out of the garbage collector's full collections (``gc.freeze``).

    A full collection walks every tracked object, and a service holds tens of thousands from
    its start alone (Faust, aiohttp, pydantic and the FHIR models are modules, classes and
    functions that live as long as the process): measured on the API process, 90,000 objects
    and a 90 ms full collection, against 60,000 and 21 ms for a bare aiohttp + psycopg
    handler — a stall of the event loop that every request in flight waits out, so it shows
    in the p99. Frozen, they are never walked again; the collector still runs, over what the
    service allocates while it serves.
    """
    gc.collect()
    gc.freeze()


def quick_lock_handoff(interval_s: float = THREAD_SWITCH_S) -> None:
    """Hand the interpreter lock over every ``interval_s`` (``sys.setswitchinterval``; default 5 ms).

    For a process where a thread that mostly waits for I/O shares the interpreter with a
    CPU-bound one: each time the waiting thread's I/O completes, it must wait for the lock to be
    given back — up to the switch interval, on every wake. Measured twice:

    - the worker, whose event loop shares the interpreter with the thread that normalizes big
      backfill records: in `vitalstream bench backfill` the live normalize hop's p99 beside a
      backfill was 321–474 ms at 5 ms (two runs) and 158–274 ms at 1 ms (four runs);
    - the sink, whose writer thread waits on PostgreSQL for each of a batch's ten statements
      while the consume thread decodes the next batch: `vitalstream bench sink` went from
      22,560–22,691 rows/s at 5 ms to 27,798–28,531 at 1 ms (12-04, Xeon, two runs each), and
      in a run timing each statement the staging DDL's share of a batch from 9 ms to 2 ms.

    The cost is more switches while both threads compute, and none while one waits.
    """
    sys.setswitchinterval(interval_s)
