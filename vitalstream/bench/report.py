"""results.json and BENCHMARKS.md of a run: headline keys, per-bench details, plots, figures beside targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vitalstream.bench import plots
from vitalstream.bench.gateway_bench import TARGET_ACCEPTED_PER_S, TARGET_P99_MS_AT_2000

TARGET_STREAM = 5000
TARGET_SINK = 20000
TARGET_E2E_P50_MS = 100
TARGET_E2E_P99_MS = 500
TARGET_RESTART_S = 30.0


def headline(details: dict[str, Any]) -> dict[str, Any]:
    """The flat keys of results.json (None where a bench did not run or failed)."""
    gw, st, sk = details.get("gateway") or {}, details.get("stream") or {}, details.get("sink") or {}
    e2e, base = details.get("e2e") or {}, details.get("baseline") or {}
    rs = details.get("restart") or {}
    api = details.get("api") or {}
    bf = details.get("backfill") or {}
    return {
        "gateway_accepted_per_s": gw.get("accepted_per_s"),
        "gateway_p99_ms_at_2000": gw.get("p99_ms_at_2000"),
        "gateway_ceiling_per_s": gw.get("ceiling_per_s"),
        "stream_observations_per_s": st.get("observations_per_s"),
        "stream_ceiling_per_s": st.get("ceiling_observations_per_s_equiv"),
        "sink_rows_per_s": sk.get("rows_per_s"),
        "sink_ceiling_rows_per_s": sk.get("ceiling_rows_per_s"),
        "e2e_p50_ms": e2e.get("p50_ms"),
        "e2e_p99_ms": e2e.get("p99_ms"),
        "baseline_freshness_p99_s": base.get("freshness_p99_s"),
        "restart_keys": rs.get("keys"),
        "restart_seconds_to_ready": rs.get("seconds_to_ready"),
        "restart_faust_seconds_to_ready": rs.get("faust_seconds_to_ready"),
        "api_p99_ms_at_2000": api.get("p99_ms_at_2000"),
        "api_ceiling_p99_ms_at_2000": api.get("ceiling_p99_ms_at_2000"),
        "api_sse_p99_ms": api.get("sse_p99_ms"),
        "api_sse_ceiling_p99_ms": api.get("sse_ceiling_p99_ms"),
        "backfill_idle_p99_ms": bf.get("idle_p99_ms"),
        "backfill_live_p99_ms": bf.get("backfill_p99_ms"),
        "backfill_p99_ratio": bf.get("p99_ratio"),
    }


def load_previous(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def write_results(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, sort_keys=False, default=str) + "\n")


def make_plots(details: dict[str, Any], out_dir: Path) -> list[Path]:
    made = []
    if details.get("gateway", {}).get("gateway_points"):
        made.append(plots.latency_vs_rate(details["gateway"], out_dir / "gateway_latency_vs_rate.png"))
    h = headline(details)
    bars = [
        ("gateway\naccepted/s", h["gateway_accepted_per_s"], h["gateway_ceiling_per_s"], float(TARGET_ACCEPTED_PER_S)),
        ("stream\nobservations/s", h["stream_observations_per_s"], h["stream_ceiling_per_s"], float(TARGET_STREAM)),
        ("sink\nrows/s", h["sink_rows_per_s"], h["sink_ceiling_rows_per_s"], float(TARGET_SINK)),
    ]
    made.append(plots.throughput_vs_ceiling(bars, out_dir / "throughput_vs_ceiling.png"))
    if details.get("e2e", {}).get("freshness_ms") and details.get("baseline", {}).get("freshness_s"):
        made.append(plots.freshness(details["e2e"], details["baseline"], out_dir / "freshness_vs_baseline.png"))
    return made


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "not measured"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) < 100 else f"{value:,.0f}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def _met(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


def _le(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value <= limit)


def _ge(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value >= limit)


def markdown(doc: dict[str, Any], images: list[str]) -> str:
    d, h, m = doc["details"], headline(doc["details"]), doc["machine"]
    lines = [
        "# Benchmarks",
        "",
        f"Latest run: `{doc['command']}` on {doc['date']} (each figure's own run is named under *How each figure "
        f"is measured*) — {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['cpu_model']}, Python {m['python']}. Load generator, Kafka, PostgreSQL and services on the same "
        "machine (design §11); every figure is beside a ceiling measured in the same run. Raw figures: "
        "[`tests/bench/results.json`](tests/bench/results.json). Run it yourself: `make bench` "
        "(or `vitalstream bench [gateway|stream|sink|restart|e2e|scenarios|api|all] [--quick]`).",
        "",
        "| what | measured | ceiling (same run) | target | |",
        "|---|---|---|---|---|",
        f"| gateway, durably accepted | {_fmt(h['gateway_accepted_per_s'], '/s')} | "
        f"{_fmt(h['gateway_ceiling_per_s'], '/s')} (bare aiohttp handler) | ≥ {TARGET_ACCEPTED_PER_S:,}/s | "
        f"{_met(_ge(h['gateway_accepted_per_s'], TARGET_ACCEPTED_PER_S))} |",
        f"| gateway p99 at 2,000/s | {_fmt(h['gateway_p99_ms_at_2000'], ' ms')} | "
        f"{_fmt(_ceiling_p99(d), ' ms')} | ≤ {TARGET_P99_MS_AT_2000:g} ms | "
        f"{_met(_le(h['gateway_p99_ms_at_2000'], TARGET_P99_MS_AT_2000))} |",
        f"| normalize + score, one worker | {_fmt(h['stream_observations_per_s'], ' obs/s')} | "
        f"{_fmt(h['stream_ceiling_per_s'], ' obs/s')} (bare consume→produce) | ≥ {TARGET_STREAM:,}/s | "
        f"{_met(_ge(h['stream_observations_per_s'], TARGET_STREAM))} |",
        f"| sink upserts | {_fmt(h['sink_rows_per_s'], ' rows/s')} | {_fmt(h['sink_ceiling_rows_per_s'], ' rows/s')} "
        f"(plain COPY, unindexed) | ≥ {TARGET_SINK:,}/s | {_met(_ge(h['sink_rows_per_s'], TARGET_SINK))} |",
        f"| webhook → row visible, p50 | {_fmt(h['e2e_p50_ms'], ' ms')} | "
        f"{_fmt(d.get('baseline', {}).get('freshness_p50_s'), ' s')} (earlier design) | ≤ {TARGET_E2E_P50_MS} ms | "
        f"{_met(_le(h['e2e_p50_ms'], TARGET_E2E_P50_MS))} |",
        f"| webhook → row visible, p99 | {_fmt(h['e2e_p99_ms'], ' ms')} | "
        f"{_fmt(h['baseline_freshness_p99_s'], ' s')} (earlier design) | ≤ {TARGET_E2E_P99_MS} ms | "
        f"{_met(_le(h['e2e_p99_ms'], TARGET_E2E_P99_MS))} |",
        f"| worker start, {_fmt(h['restart_keys'])} keys, empty datadir | "
        f"{_fmt(h['restart_seconds_to_ready'], ' s')} | "
        f"{_fmt(h['restart_faust_seconds_to_ready'], ' s')} (Faust's own restore) | ≤ {TARGET_RESTART_S:g} s "
        f"(1 M keys) | {_met(_le(h['restart_seconds_to_ready'], TARGET_RESTART_S))} |",
        f"| read API latest metrics, p99 at 2,000/s | {_fmt(h['api_p99_ms_at_2000'], ' ms')} | "
        f"{_fmt(h['api_ceiling_p99_ms_at_2000'], ' ms')} (bare aiohttp + psycopg, same query) | ≤ 10 ms | "
        f"{_met(_le(h['api_p99_ms_at_2000'], 10.0))} |",
        f"| SSE: metrics.latest record → subscriber, p99 | {_fmt(h['api_sse_p99_ms'], ' ms')} | "
        f"{_fmt(h['api_sse_ceiling_p99_ms'], ' ms')} (bare consumer, same records) | ≤ ceiling + 50 ms | "
        f"{_met(_sse_met(h))} |",
        "",
    ]
    lines += _notes(doc)
    lines += _budget_table(d.get("e2e") or {})
    lines += _gateway_table(d.get("gateway") or {})
    lines += _scenario_table(d.get("scenarios") or [])
    if images:
        lines += ["## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images] + [""]
    return "\n".join(lines)


def _sse_met(h: dict[str, Any]) -> bool | None:
    sse, ceiling = h["api_sse_p99_ms"], h["api_sse_ceiling_p99_ms"]
    return None if sse is None or ceiling is None else sse <= ceiling + 50.0


def _ceiling_p99(d: dict[str, Any]) -> Any:
    points = (d.get("gateway") or {}).get("ceiling_points") or []
    p = next((x for x in points if x["offered_per_s"] == 2000), None)
    return p["latency_ms"]["p99"] if p else None


def _notes(doc: dict[str, Any]) -> list[str]:
    out = ["## How each figure is measured", ""]
    for name, detail in doc["details"].items():
        if isinstance(detail, dict) and detail.get("what"):
            out.append(
                f"- **{name}**: {detail['what']}"
                + (f"; ceiling: {detail['ceiling']}" if detail.get("ceiling") else "")
                + "."
            )
        if isinstance(detail, dict) and detail.get("measured_by"):
            out.append(f"  Measured by `{detail['measured_by']}` at {detail['measured_at']}.")
        if isinstance(detail, dict) and detail.get("method"):
            out.append(f"  Method: {detail['method']}.")
        if isinstance(detail, dict) and detail.get("error"):
            out.append(f"- **{name}: not measured** — {detail['error']}")
    out += [f"- {note}" for note in doc.get("notes", [])]
    out.append("")
    return out


BUDGET_ROWS = (
    ("accept", "gateway: request start → 202 (raw record acknowledged)"),
    ("normalize", "vs.t.accepted → vs.t.normalized (raw append, raw topic, normalize)"),
    ("score", "vs.t.normalized → vs.t.scored"),
    ("sink", "vs.t.scored → committed in PostgreSQL"),
    ("end_to_end", "vs.t.accepted → committed in PostgreSQL"),
)


def _budget_table(e2e: dict[str, Any]) -> list[str]:
    """Per-hop p50/p99 of the e2e run (``bench.budget``), beside its accept → visible figures."""
    stages = e2e.get("budget")
    if not stages:
        return []
    out = [
        "## Latency budget (e2e run, from the services' `vitalstream_stage_latency_seconds` histograms)",
        "",
        f"Accept (client) → row visible: p50 {_fmt(e2e.get('p50_ms'), ' ms')}, p99 {_fmt(e2e.get('p99_ms'), ' ms')}. "
        "Hop quantiles are interpolated inside histogram buckets, so they do not add up exactly.",
        "",
        "| hop | measured between | records | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for stage, between in BUDGET_ROWS:
        row = stages.get(stage) or {}
        figures = " | ".join(_fmt(row.get(k)) for k in ("count", "p50_ms", "p99_ms"))
        out.append(f"| {stage} | {between} | {figures} |")
    return [*out, ""]


def _gateway_table(gw: dict[str, Any]) -> list[str]:
    if not gw.get("gateway_points"):
        return []
    out = [
        "## Gateway sweep (open-loop, latency from each request's scheduled time)",
        "",
        "| offered/s | gateway accepted/s | p50 | p95 | p99 ms | ceiling ok/s | ceiling p99 ms | generator kept up |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ceiling = {p["offered_per_s"]: p for p in gw.get("ceiling_points", [])}
    for p in gw["gateway_points"]:
        c = ceiling.get(p["offered_per_s"])
        lat = p["latency_ms"]
        out.append(
            f"| {p['offered_per_s']:,} | {p['accepted_per_s']:,} | {lat['p50']} | {lat['p95']} | {lat['p99']} | "
            f"{c['ok_per_s'] if c else '—'} | {c['latency_ms']['p99'] if c else '—'} | "
            f"{'yes' if p['generator']['kept_up'] else 'no'} |"
        )
    return [*out, ""]


def _scenario_table(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    out = [
        "## Load scenarios (open-loop, 1 request/s per virtual sender; 90 % webhooks, 10 % probes)",
        "",
        "| scenario | senders | duration s | requests/s | success % | min | avg | p50 | p95 | p99 | max ms | rating |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lat = r["latency_ms"]
        out.append(
            f"| {r['scenario']} | {r['virtual_senders']} | {r['duration_s']:g} | {r['requests_per_s']} | "
            f"{r['success_rate']} | {lat['min']} | {lat['avg']} | {lat['p50']} | {lat['p95']} | {lat['p99']} | "
            f"{lat['max']} | {r['rating']} |"
        )
    return [*out, ""]
