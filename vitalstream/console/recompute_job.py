"""``python -m vitalstream.console.recompute_job [--since ISO]``: a recompute reporting as JSON lines.

The console starts this child process and reads ``{"progress": [done, total]}`` lines,
then one ``{"report": {...}}`` (or ``{"error": "..."}``) line; the work is
:func:`streams.recompute.recompute`, as for ``vitalstream recompute``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from datetime import datetime

import orjson

from vitalstream.platform.settings import Settings
from vitalstream.stack.launcher import StackPaths, stack_dir
from vitalstream.stack.secure import stack_principal

# The rebuild runs a Faust worker, which redirects sys.stdout to its logger: write to the real fd 1.
_OUT = os.fdopen(os.dup(1), "w", buffering=1)


def _emit(value: object) -> None:
    _OUT.write(orjson.dumps(value).decode() + "\n")
    _OUT.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vitalstream.console.recompute_job")
    parser.add_argument("--since", type=datetime.fromisoformat, default=None)
    args = parser.parse_args(argv)
    from streams.recompute import recompute

    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        if time.monotonic() - last >= 0.5 or done >= total:
            last = time.monotonic()
            _emit({"progress": [done, total]})

    try:
        env_file = StackPaths(stack_dir()).env  # the same settings as the console: env, else the local stack's
        settings = Settings(_env_file=env_file if env_file.exists() else None)  # type: ignore[call-arg]
        settings = stack_principal(settings, stack_dir(), "recompute")  # ops may not run a worker generation
        report = recompute(settings, since=args.since, progress=progress)
    except Exception as exc:  # reported to the console's page, not as a traceback
        _emit({"error": f"{type(exc).__name__}: {exc}"})
        return 1
    _emit({"report": asdict(report)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
