"""``vitalstream bench`` as a newcomer meets it: a missing plotting extra stops it before anything
starts, and a plotting failure after a run still leaves the figures written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from vitalstream.bench import report, runner
from vitalstream.bench.stack import BenchStack
from vitalstream.cli import main


def test_bench_without_matplotlib_stops_before_starting_a_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import matplotlib` meets without the extra

    def started(_self: BenchStack) -> None:
        raise AssertionError("the bench started a stack although it could not plot")

    monkeypatch.setattr(BenchStack, "start", started)
    result = CliRunner().invoke(main, ["bench", "sink", "--quick"])
    assert result.exit_code == 1, result.output
    assert "matplotlib" in result.output and "pip install -e '.[bench]'" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_results_are_written_even_when_plotting_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bench_dir = tmp_path / "tests" / "bench"
    monkeypatch.setattr(runner, "REPO", tmp_path)
    monkeypatch.setattr(runner, "BENCH_DIR", bench_dir)
    monkeypatch.setattr(runner, "RESULTS", bench_dir / "results.json")
    monkeypatch.setattr(runner, "MARKDOWN", tmp_path / "BENCHMARKS.md")

    def broken_plots(_details: dict[str, Any], _out: Path) -> list[Path]:
        raise RuntimeError("no display")

    monkeypatch.setattr(report, "make_plots", broken_plots)
    details = {"sink": {"rows_per_s": 31_000.0}}
    runner._write(details, quick=True, command="vitalstream bench sink --quick", took_s=1.0)
    written = json.loads((bench_dir / "results.json").read_text())
    assert written["details"]["sink"]["rows_per_s"] == 31_000.0
    assert (tmp_path / "BENCHMARKS.md").read_text().startswith("# Benchmarks")
