"""BENCHMARKS.md's notes on each figure."""

from __future__ import annotations

from vitalstream.bench.report import _notes


def test_each_figure_names_the_machine_it_was_measured_on() -> None:
    """results.json merges runs of several sessions, which need not have run on one kind of machine."""
    stamp = {
        "what": "sink upserts",
        "measured_by": "vitalstream bench sink",
        "measured_at": "2026-12-03T16:00:00+00:00",
    }
    lines = _notes({"details": {"sink": {**stamp, "measured_on": "AMD EPYC"}, "stream": {**stamp, "what": "stream"}}})
    assert "  Measured by `vitalstream bench sink` at 2026-12-03T16:00:00+00:00 on AMD EPYC." in lines
    assert "  Measured by `vitalstream bench sink` at 2026-12-03T16:00:00+00:00 (machine not recorded)." in lines
