"""``vitalstream bench``: start a private stack, run the chosen benches, print, write results and report."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from vitalstream.bench import machine, report
from vitalstream.bench.stack import BENCH_OVERRIDES, BenchStack

REPO = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO / "tests" / "bench"
RESULTS = BENCH_DIR / "results.json"
MARKDOWN = REPO / "BENCHMARKS.md"
ORDER = ("sink", "stream", "restart", "gateway", "e2e", "scenarios", "backfill", "api")
PLOTTING = ("matplotlib",)
"""What the plots need (the ``bench`` extra): checked before a run starts, not after it."""
console = Console()


def _show(label: str, figures: dict[str, Any]) -> None:
    table = Table(title=label, show_header=False, title_justify="left")
    for key, value in figures.items():
        if isinstance(value, dict) and key in ("latency_ms", "freshness_ms", "freshness_s", "job_lag_ms"):
            table.add_row(key, "  ".join(f"{k} {v}" for k, v in value.items()))
        elif not isinstance(value, (dict, list)):
            table.add_row(key, str(value))
    console.print(table)


def _baseline_module() -> ModuleType | None:
    path = BENCH_DIR / "baseline.py"
    spec = importlib.util.spec_from_file_location("vitalstream_bench_baseline", path)
    if spec is None or spec.loader is None or not path.exists():
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _guard(name: str, fn: Callable[[], Any]) -> Any:
    """Run one bench; a failure is reported in the results instead of ending the run."""
    started = time.monotonic()
    console.rule(f"[bold]{name}")
    try:
        out = fn()
    except Exception as exc:
        console.print(f"[red]{name} failed: {exc!r}")
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()[-2000:]}
    if isinstance(out, dict):
        out["bench_seconds"] = round(time.monotonic() - started, 1)
        if out.get("error"):
            console.print(f"[red]{name}: {out['error']}")
    return out


def _stream(stack: BenchStack, quick: bool) -> dict[str, Any]:
    if importlib.util.find_spec("streams.bench") is None:
        return {"error": "streams.bench.bench_stream does not exist yet: stream throughput not measured"}
    from streams.bench import bench_stream

    out = dict(bench_stream(stack.phase("stream"), 20_000 if quick else 150_000))
    out.setdefault("what", "normalize + score, one worker process: raw webhooks in Kafka → metrics.scored")
    out.setdefault("ceiling", "bare confluent-kafka consume→produce loop over the same raw topic (in observations/s)")
    _show("stream", out)
    return out


def _restart(stack: BenchStack, quick: bool) -> dict[str, Any]:
    """A worker starting with an empty datadir: bulk restore, and Faust's own restore as the comparison."""
    from streams.bench import bench_restart

    keys = 200_000 if quick else 1_000_000
    out = dict(bench_restart(stack.phase("restart"), keys, bulk=True))
    faust = bench_restart(stack.phase("restartfaust"), keys, bulk=False)
    out["faust_restore"] = faust
    out["faust_seconds_to_ready"] = faust.get("seconds_to_ready")
    out.setdefault("what", f"worker start with an empty datadir and {keys:,} keys in the confidence changelog")
    out.setdefault(
        "ceiling", "the same start with Faust's own changelog restore (VITALSTREAM_WORKER_BULK_RESTORE=false)"
    )
    _show("restart", out)
    return out


def _sink(stack: BenchStack, quick: bool) -> dict[str, Any]:
    from sinks.bench import bench_sink

    out = dict(bench_sink(stack.phase("sink"), 30_000 if quick else 200_000))
    _show("sink", out)
    return out


def _e2e(stack: BenchStack, quick: bool, details: dict[str, Any]) -> dict[str, Any]:
    from vitalstream.bench.e2e import bench_e2e

    out = bench_e2e(stack, quick, _show)
    baseline = _baseline_module()
    if baseline is None:
        details["baseline"] = {"error": f"{BENCH_DIR / 'baseline.py'} not found (not a source checkout)"}
    else:
        details["baseline"] = _guard(
            "baseline (earlier design)",
            lambda: baseline.bench_baseline(stack.root, stack.database_url, stack.terra_secret, quick, _show),
        )
    return out


def _scenarios(stack: BenchStack, quick: bool) -> list[dict[str, Any]]:
    from vitalstream.bench.scenarios import run_all

    settings = stack.phase("scenarios")
    for service in ("worker", "sink", "gateway"):
        stack.spawn("scenarios", service)
    try:
        return run_all("127.0.0.1", settings.gateway_port, stack.terra_secret, quick, _show)
    finally:
        for service in ("gateway", "worker", "sink"):
            stack.stop(f"scenarios/{service}")


def missing_plotting() -> list[str]:
    missing = []
    for name in PLOTTING:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def _backfill(stack: BenchStack, quick: bool) -> dict[str, Any]:
    from vitalstream.bench.backfill_bench import bench_backfill

    out = bench_backfill(stack, quick, _show)
    _show("backfill", out)
    return out


def _api(stack: BenchStack, quick: bool) -> dict[str, Any]:
    from vitalstream.bench.api_bench import bench_api

    out = bench_api(stack, quick, _show)
    _show("api", out)
    return out


def _e2e_sweep(stack: BenchStack, rates: tuple[int, ...], quick: bool) -> dict[str, Any]:
    from vitalstream.bench.e2e import bench_e2e_sweep

    out = bench_e2e_sweep(stack, rates, quick, _show)
    _show("e2e sweep", {"knee_per_s": out.get("knee_per_s"), "not_run": out.get("not_run")})
    return out


def run(what: str, quick: bool, command: str, rates: tuple[int, ...] | None = None) -> dict[str, Any]:
    """Run ``what`` (``rates``: the e2e bench as a sweep over those webhook rates)."""
    from vitalstream.bench.gateway_bench import bench_gateway

    missing = missing_plotting()
    if missing:
        raise click.ClickException(
            f"the bench plots need {', '.join(missing)}, which is not installed: "
            "pip install -e '.[bench]' and run again (nothing was started)"
        )

    chosen = ORDER if what == "all" else (what,)
    started = time.monotonic()
    load_before = machine.describe()["load_average_1m_at_end"]
    busy_before = machine.busy_processes()
    root = Path(tempfile.mkdtemp(prefix="vitalstream-bench-"))
    stack = BenchStack(root)
    details: dict[str, Any] = {}
    console.print(f"private stack in {root} (Kafka + PostgreSQL, free ports) …")
    try:
        stack.start()
        for name in chosen:
            if name == "sink":
                details["sink"] = _guard("sink", lambda: _sink(stack, quick))
            elif name == "stream":
                details["stream"] = _guard("stream", lambda: _stream(stack, quick))
            elif name == "restart":
                details["restart"] = _guard("restart", lambda: _restart(stack, quick))
            elif name == "gateway":
                details["gateway"] = _guard("gateway", lambda: bench_gateway(stack, quick, _show))
            elif name == "e2e" and rates:
                details["e2e_sweep"] = _guard("e2e sweep", lambda: _e2e_sweep(stack, rates, quick))
            elif name == "e2e":
                details["e2e"] = _guard("e2e", lambda: _e2e(stack, quick, details))
            elif name == "backfill":
                details["backfill"] = _guard("backfill", lambda: _backfill(stack, quick))
            elif name == "api":
                details["api"] = _guard("api", lambda: _api(stack, quick))
            elif name == "scenarios":
                details["scenarios"] = _guard("scenarios", lambda: _scenarios(stack, quick))
    finally:
        stack.close()
        shutil.rmtree(root, ignore_errors=True)
    details["_environment"] = {"load_average_1m_at_start": load_before, "busy_processes_at_start": busy_before}
    return _write(details, quick, command, time.monotonic() - started)


def _write(details: dict[str, Any], quick: bool, command: str, took_s: float) -> dict[str, Any]:
    environment = details.pop("_environment", {})
    now = datetime.now(UTC).isoformat(timespec="seconds")
    stamp = {"measured_by": command, "measured_at": now, "measured_on": machine.describe()["cpu_model"]}
    for value in details.values():
        if isinstance(value, dict):
            value.update(stamp)
    previous = report.load_previous(RESULTS)
    merged = {**(previous.get("details") or {}), **details}
    doc: dict[str, Any] = {
        **report.headline(merged),
        "machine": machine.describe(),
        "environment": environment,
        "date": now,
        "command": command,
        "quick": quick,
        "run_seconds": round(took_s, 1),
        "bench_settings": BENCH_OVERRIDES,
        "notes": [
            "The bench overrides the gateway's abuse limits (per IP/user/source) so they never answer 429, "
            "and samples 1 % of access-log lines; every other setting is the default.",
            "Each bench runs on a private Kafka (1 KRaft node) and PostgreSQL (fsync on) started for the run; "
            "the gateway sweep runs with the gateway alone (no worker/sink competing for the 2 cores).",
        ],
        "details": merged,
    }
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    report.write_results(RESULTS, doc)  # the figures first: a plotting failure must not cost the run
    try:
        images = [str(p.relative_to(REPO)) for p in report.make_plots(merged, BENCH_DIR)]
    except Exception as exc:
        console.print(f"[red]plots not made ({type(exc).__name__}: {exc}); the figures are in {RESULTS.name}")
        images = []
    MARKDOWN.write_text(report.markdown(doc, images))
    table = Table(title=f"vitalstream bench ({took_s:.0f} s)", title_justify="left")
    table.add_column("figure")
    table.add_column("value", justify="right")
    for key, value in report.headline(merged).items():
        table.add_row(key, "—" if value is None else str(value))
    console.print(table)
    console.print(f"wrote {RESULTS.relative_to(REPO)}, {MARKDOWN.name} and {len(images)} plots")
    return doc
