"""results.json and BENCHMARKS.md of a run: headline keys, per-bench details, plots, figures beside targets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from schemas import timing
from sinks.bench import TARGET_ROWS_PER_S as TARGET_SINK
from vitalstream.bench import freshness, plots, sweep
from vitalstream.bench.api_bench import TARGET_SSE_ADDED_P99_MS, point_at
from vitalstream.bench.backfill_bench import TARGET_RATIO as BACKFILL_RATIO
from vitalstream.bench.e2e import JIT_SETTLED_SHARE, JIT_STEP_S
from vitalstream.bench.gateway_bench import (
    TARGET_ACCEPTED_PER_S,
    TARGET_P99_MS_AT_2000,
    TARGET_SHARE_OF_CEILING,
    gateway_target_met,
    required_rate,
    saturated,
)

TARGET_STREAM = 10_000
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
        "e2e_knee_per_s": (details.get("e2e_sweep") or {}).get("knee_per_s"),
        "e2e_p50_ms_at_250": _sweep_figure(details, "p50_ms"),
        "e2e_p99_ms_at_250": _sweep_figure(details, "p99_ms"),
        "restart_keys": rs.get("keys"),
        "restart_seconds_to_ready": rs.get("seconds_to_ready"),
        "restart_faust_seconds_to_ready": rs.get("faust_seconds_to_ready"),
        "api_p99_ms_at_2000": api.get("p99_ms_at_2000"),
        "api_ceiling_p99_ms_at_2000": api.get("ceiling_p99_ms_at_2000"),
        "api_sse_p99_ms": api.get("sse_p99_ms"),
        "api_sse_table_p99_ms": api.get("sse_table_p99_ms"),
        "api_sse_rss_kib_per_stream": api.get("sse_rss_kib_per_stream"),
        "backfill_idle_p99_ms": bf.get("idle_p99_ms"),
        "backfill_live_p99_ms": bf.get("backfill_p99_ms"),
        "backfill_p99_ratio": bf.get("p99_ratio"),
        "backfill_ping_fetches_per_s": bf.get("ping_fetches_per_s"),
    }


def _sweep_figure(details: dict[str, Any], key: str) -> Any:
    point = sweep.at_rate((details.get("e2e_sweep") or {}).get("points") or [], sweep.TARGET_RATE)
    return point.get(key) if point else None


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
    gateway_required = required_rate(h["gateway_ceiling_per_s"] or 0.0)
    bars = [
        ("gateway\naccepted/s", h["gateway_accepted_per_s"], h["gateway_ceiling_per_s"], gateway_required),
        ("stream\nobservations/s", h["stream_observations_per_s"], h["stream_ceiling_per_s"], float(TARGET_STREAM)),
        ("sink\nrows/s", h["sink_rows_per_s"], h["sink_ceiling_rows_per_s"], float(TARGET_SINK)),
    ]
    made.append(plots.throughput_vs_ceiling(bars, out_dir / "throughput_vs_ceiling.png"))
    if (details.get("e2e_sweep") or {}).get("points"):
        made.append(plots.e2e_sweep(details["e2e_sweep"], details.get("baseline") or {}, out_dir / "e2e_sweep.png"))
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
        f"Latest run: `{doc['command']}` on {doc['date']} (each figure's own run and machine are named under "
        f"*How each figure is measured*) — {m['cores']} cores, {m['memory_gib']} GiB, "
        f"{m['cpu_model']}, Python {m['python']}. Load generator, Kafka, PostgreSQL and services on the same "
        "machine (design §11); every figure is beside a ceiling measured in the same run. Raw figures: "
        "[`tests/bench/results.json`](tests/bench/results.json). Run it yourself: `make bench` "
        "(or `vitalstream bench [gateway|stream|sink|restart|e2e|scenarios|api|all] [--quick]`; "
        "`vitalstream bench e2e --rates R,R,…` for the freshness sweep).",
        "",
        "| what | measured | ceiling (same run) | target | |",
        "|---|---|---|---|---|",
        _gateway_row(d.get("gateway") or {}),
        f"| gateway p99 at 2,000/s | {_fmt(h['gateway_p99_ms_at_2000'], ' ms')} | "
        f"{_fmt(_ceiling_p99(d), ' ms')} | ≤ {TARGET_P99_MS_AT_2000:g} ms | "
        f"{_met(_le(h['gateway_p99_ms_at_2000'], TARGET_P99_MS_AT_2000))} |",
        f"| normalize + score, one worker | {_fmt(h['stream_observations_per_s'], ' obs/s')} | "
        f"{_fmt(h['stream_ceiling_per_s'], ' obs/s')} (bare consume→produce) | ≥ {TARGET_STREAM:,}/s | "
        f"{_met(_ge(h['stream_observations_per_s'], TARGET_STREAM))} |",
        f"| sink upserts | {_fmt(h['sink_rows_per_s'], ' rows/s')} | {_fmt(h['sink_ceiling_rows_per_s'], ' rows/s')} "
        f"(plain COPY, unindexed) | ≥ {TARGET_SINK:,}/s | {_met(_ge(h['sink_rows_per_s'], TARGET_SINK))} |",
        f"| webhook → row visible at {sweep.TARGET_RATE}/s, p50 | {_fmt(h['e2e_p50_ms'], ' ms')} | "
        f"{_fmt(d.get('baseline', {}).get('freshness_p50_s'), ' s')} (earlier design) | ≤ {sweep.TARGET_P50_MS:g} ms | "
        f"{_met(_le(h['e2e_p50_ms'], sweep.TARGET_P50_MS))} |",
        f"| webhook → row visible at {sweep.TARGET_RATE}/s, p99 | {_fmt(h['e2e_p99_ms'], ' ms')} | "
        f"{_fmt(h['baseline_freshness_p99_s'], ' s')} (earlier design) | ≤ {sweep.TARGET_P99_MS:g} ms | "
        f"{_met(_le(h['e2e_p99_ms'], sweep.TARGET_P99_MS))} |",
        f"| knee: highest rate with webhook → row visible p99 under 1 s | {_fmt(h['e2e_knee_per_s'], '/s')} | — | "
        f"≥ {sweep.TARGET_KNEE:,}/s | {_met(_ge(h['e2e_knee_per_s'], sweep.TARGET_KNEE))} |",
        f"| worker start, {_fmt(h['restart_keys'])} keys, empty datadir | "
        f"{_fmt(h['restart_seconds_to_ready'], ' s')} | "
        f"{_fmt(h['restart_faust_seconds_to_ready'], ' s')} (Faust's own restore) | ≤ {TARGET_RESTART_S:g} s "
        f"(1 M keys) | {_met(_le(h['restart_seconds_to_ready'], TARGET_RESTART_S))} |",
        f"| read API latest metrics, p99 at 2,000/s | {_fmt(h['api_p99_ms_at_2000'], ' ms')} | "
        f"{_fmt(h['api_ceiling_p99_ms_at_2000'], ' ms')} (bare aiohttp + psycopg, one query per request) | ≤ 10 ms | "
        f"{_met(_le(h['api_p99_ms_at_2000'], 10.0))} |",
        f"| SSE: webhook → event at its subscriber, p99 | {_fmt(h['api_sse_p99_ms'], ' ms')} | "
        f"{_fmt(h['api_sse_table_p99_ms'], ' ms')} (webhook → row visible, same webhooks) | ≤ that + 50 ms | "
        f"{_met(_sse_met(h))} |",
        f"| live webhook → row visible at 250/s beside a backfill, p99 | {_fmt(h['backfill_live_p99_ms'], ' ms')} | "
        f"{_fmt(h['backfill_idle_p99_ms'], ' ms')} (same load alone) | ≤ {BACKFILL_RATIO:g}× that | "
        f"{_met(_backfill_met(h))} |",
        f"| pings downloaded by the fetch stage | {_fmt(h['backfill_ping_fetches_per_s'], '/s')} | — | — | |",
        "",
    ]
    lines += _throughput_misses(d)
    lines += _notes(doc)
    lines += _budget_table(d.get("e2e") or {})
    lines += _backfill_budget_table(d.get("backfill") or {})
    lines += _sweep_section(d.get("e2e_sweep") or {}, d.get("baseline") or {}, doc.get("environment") or {})
    lines += _gateway_table(d.get("gateway") or {})
    lines += _api_tables(d.get("api") or {})
    lines += _scenario_table(d.get("scenarios") or [])
    if images:
        lines += ["## Plots", ""] + [f"![{Path(i).stem}]({i})" for i in images] + [""]
    return "\n".join(lines)


def _backfill_met(h: dict[str, Any]) -> bool | None:
    """Judged on the figures, not on the rounded ratio (1.504 is over 1.5)."""
    idle, live = h.get("backfill_idle_p99_ms"), h.get("backfill_live_p99_ms")
    return None if idle is None or live is None else live <= BACKFILL_RATIO * idle


def _sse_met(h: dict[str, Any]) -> bool | None:
    sse, ceiling = h["api_sse_p99_ms"], h["api_sse_table_p99_ms"]
    return None if sse is None or ceiling is None else sse <= ceiling + TARGET_SSE_ADDED_P99_MS


def _gateway_row(gw: dict[str, Any]) -> str:
    accepted, ceiling = gw.get("accepted_per_s"), gw.get("ceiling_per_s")
    share = f" ({accepted / ceiling:.0%} of the ceiling)" if accepted and ceiling else ""
    points = gw.get("ceiling_points") or []
    bound = "≥ " if points and not saturated(points) else ""
    met = None if accepted is None or ceiling is None else gateway_target_met(accepted, ceiling)
    return (
        f"| gateway, durably accepted | {_fmt(accepted, '/s')}{share} | {bound}{_fmt(ceiling, '/s')} "
        f"(bare aiohttp handler) | ≥ {TARGET_ACCEPTED_PER_S:,}/s and ≥ {TARGET_SHARE_OF_CEILING:.0%} of the "
        f"ceiling | {_met(met)} |"
    )


def _ceiling_p99(d: dict[str, Any]) -> Any:
    points = (d.get("gateway") or {}).get("ceiling_points") or []
    p = next((x for x in points if x["offered_per_s"] == 2000), None)
    return p["latency_ms"]["p99"] if p else None


def _throughput_misses(d: dict[str, Any]) -> list[str]:
    """For each missed throughput target, what held it, in the figures of the same run."""
    h = headline(d)
    stream_missed = _ge(h["stream_observations_per_s"], TARGET_STREAM) is False
    sink_missed = _ge(h["sink_rows_per_s"], TARGET_SINK) is False
    candidates = (
        _gateway_miss(d.get("gateway") or {}),
        _stream_miss(d.get("stream") or {}) if stream_missed else None,
        _sink_miss(d.get("sink") or {}) if sink_missed else None,
    )
    out = [line for line in candidates if line]
    return ["What holds each missed throughput target:", "", *out, ""] if out else []


def _gateway_miss(gw: dict[str, Any]) -> str | None:
    points = gw.get("gateway_points") or []
    if gw.get("target_accepted_met") is not False or not points:
        return None
    top = max(points, key=lambda p: p["accepted_per_s"])
    loop_us = top.get("loop_thread_cpu_us_per_request")
    if not loop_us:
        return None
    ceiling: dict[str, Any] = next(
        (c for c in gw.get("ceiling_points", []) if c["offered_per_s"] == top["offered_per_s"]), {}
    )
    return (
        f"- **gateway**: its one event-loop thread. At {top['offered_per_s']:,}/s offered it spent {loop_us:g} µs "
        f"of CPU per accepted request ({_fmt(top.get('cpu_us_per_request'))} µs the whole process), so a whole "
        f"core follows at most {1e6 / loop_us:,.0f}/s; the bare handler spent "
        f"{_fmt(ceiling.get('cpu_us_per_request'))} µs at the same rate."
    )


def _stream_miss(st: dict[str, Any]) -> str | None:
    us = st.get("worker_cpu_us_per_observation")
    if not us:
        return None
    return (
        f"- **normalize + score**: the worker's CPU, {us:g} µs per observation, so a whole core scores at most "
        f"{1e6 / us:,.0f} observations/s."
    )


def _sink_miss(sk: dict[str, Any]) -> str | None:
    tx, seconds, us = sk.get("db_transaction_seconds"), sk.get("seconds"), sk.get("sink_process_cpu_us_per_row")
    if not tx or not seconds or not us:
        return None
    return (
        f"- **sink**: its database writes. The batch transactions (staging COPY, three upserts per row, one commit "
        f"per batch: the writer thread's wall time, its waits for the interpreter lock included) took {tx:.1f} s "
        f"of the {seconds:.1f} s window ({100 * tx / seconds:.0f} %); the sink's own process, which decodes the "
        f"next batch while one is written, spent {us:g} µs of CPU per row."
    )


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
            on = f" on {detail['measured_on']}" if detail.get("measured_on") else " (machine not recorded)"
            out.append(f"  Measured by `{detail['measured_by']}` at {detail['measured_at']}{on}.")
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
        "Hop quantiles are interpolated inside histogram buckets, so they do not add up exactly."
        + _warm_text(e2e.get("warm_up_at_load")),
        "",
        "| hop | measured between | records | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for stage, between in BUDGET_ROWS:
        row = stages.get(stage) or {}
        figures = " | ".join(_fmt(row.get(k)) for k in ("count", "p50_ms", "p99_ms"))
        out.append(f"| {stage} | {between} | {figures} |")
    cpu = e2e.get("cpu_percent_of_a_core")
    if cpu:
        shares = ", ".join(f"{g} {_fmt(cpu.get(g))}" for g in CPU_GROUPS)
        out += [
            "",
            f"CPU during the run, in % of one core: {shares}; the machine (two cores) "
            f"{_fmt(cpu.get('machine_busy_percent'), ' %')} busy.",
        ]
    return [*out, ""]


def _backfill_budget_table(bf: dict[str, Any]) -> list[str]:
    """Per hop, the live load's p50/p99 alone and beside the backfill: which hop the backfill slows."""
    idle, busy = (bf.get(k, {}).get("budget") for k in ("idle", "with_backfill"))
    if not idle or not busy:
        return []
    lane = (bf["with_backfill"].get("backfill_budget") or {}).get("end_to_end") or {}
    out = [
        "## Backfill: where the live load's time went, alone and beside the backfill",
        "",
        f"`{bf.get('measured_by', 'vitalstream bench backfill')}`, live rows only (the sink counts the backfill's "
        f'rows under `lane="backfill"`: {_fmt(lane.get("count"))} of them committed during the live window, '
        f"end to end p50 {_capped(lane.get('p50_ms'))}, p99 {_capped(lane.get('p99_ms'))}).",
        "",
        "| hop | alone p50 ms | alone p99 ms | beside the backfill p50 ms | beside the backfill p99 ms |",
        "|---|---|---|---|---|",
    ]
    for stage, _ in BUDGET_ROWS:
        a, b = idle.get(stage) or {}, busy.get(stage) or {}
        figures = " | ".join(_fmt(row.get(k)) for row in (a, b) for k in ("p50_ms", "p99_ms"))
        out.append(f"| {stage} | {figures} |")
    a, b = (bf[k].get("sink_commits") or {} for k in ("idle", "with_backfill"))
    figures = " | ".join(_fmt(row.get(k)) for row in (a, b) for k in ("p50_ms", "p99_ms"))
    out.append(f"| (the sink's transactions: write + commit of one batch) | {figures} |")
    return [*out, "", *_backfill_slices_table(bf)]


def _backfill_slices_table(bf: dict[str, Any]) -> list[str]:
    """The live freshness of each slice of the two windows: whether the tail is the backfill's first
    seconds (its chunks arriving) or all of it."""
    idle, busy = ((bf.get(k) or {}).get("by_slice") or [] for k in ("idle", "with_backfill"))
    if not idle or not busy:
        return []
    out = [
        "Live freshness by slice of each window (the backfill's chunks are posted from the start of its window):",
        "",
        "| from s | alone p50 ms | alone p99 ms | beside the backfill p50 ms | beside the backfill p99 ms |",
        "|---|---|---|---|---|",
    ]
    for a, b in zip(idle, busy, strict=False):
        figures = " | ".join(_fmt(row.get(k)) for row in (a, b) for k in ("p50_ms", "p99_ms"))
        out.append(f"| {_fmt(a.get('from_s'))} | {figures} |")
    return [*out, ""]


def _capped(ms: Any) -> str:
    """A budget quantile in ms; one at the buckets' top bound says only that it is at least that."""
    top_ms = timing.LATENCY_BUCKETS[-1] * 1000
    return f"≥ {_fmt(top_ms, ' ms')} (the buckets' top)" if ms is not None and ms >= top_ms else _fmt(ms, " ms")


def _warm_text(at_load: dict[str, Any] | None) -> str:
    """The warm-up at load every pipeline runs before it is measured (``e2e.warm_up``), and its figures."""
    if not at_load:
        return ""
    f = at_load.get("freshness_ms") or {}
    settling = at_load.get("until_jit_settled_s")
    more = (
        f", then {_fmt(settling)} s more at that rate until the broker's JIT compiler took under "
        f"{JIT_SETTLED_SHARE:.0%} of a core over {_fmt(JIT_STEP_S)} s"
        if settling
        else ""
    )
    return (
        f" Before it was measured, the pipeline ran {_fmt(at_load.get('duration_s'))} s at "
        f"{_fmt(at_load.get('rate'))}/s, not counted (its first seconds are slower; accept → visible then: "
        f"p50 {_fmt(f.get('p50'))} / p99 {_fmt(f.get('p99'))} ms){more}."
    )


def _knee_text(sw: dict[str, Any]) -> str:
    if sw.get("knee_per_s") is not None:
        return _fmt(sw["knee_per_s"], "/s")
    return f"below {min(p['rate'] for p in sw['points']):,}/s, the lowest rate swept"


def _sweep_section(sw: dict[str, Any], baseline: dict[str, Any], environment: dict[str, Any]) -> list[str]:
    """The e2e rate sweep: per rate p50/p99 beside main's before the tuning, the hops' p99, the knee, the targets."""
    points = sw.get("points")
    if not points:
        return []
    earlier = baseline.get("freshness_p99_s")
    earlier_text = (
        f"{_fmt(earlier, ' s')} p99 measured in its own bench run"
        if earlier is not None
        else f"up to {sweep.EARLIER_DESIGN_S:g} s (a materialized view refreshed every 5 minutes)"
    )
    out = [
        "## End-to-end sweep (accept → row visible in `latest_metrics`, by rate)",
        "",
        f"`{sw.get('measured_by', 'vitalstream bench e2e --rates …')}`, {_fmt(sw.get('duration_per_rate_s'))} s per "
        f"rate on one pipeline (gateway, worker and sink processes). Knee ({sw.get('knee_rule', '')}): "
        f"**{_knee_text(sw)}**. The earlier design: {earlier_text}. Hop quantiles stop at the "
        f"buckets' top (10 s). Machine load average at the start: {_fmt(environment.get('load_average_1m_at_start'))}."
        + _warm_text(sw.get("warm_up_at_load"))
        + _poll_text(points),
        "",
        "| webhooks/s | accepted of sent | not visible | p50 ms | p99 ms | on main before (p50 / p99 ms) "
        "| accept p99 | normalize p99 | score p99 | sink p99 | largest hop |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        before = sweep.MAIN_BEFORE.get(p["rate"])
        hops = " | ".join(_fmt((p.get("budget") or {}).get(h, {}).get("p99_ms")) for h in sweep.HOPS)
        out.append(
            f"| {p['rate']:,} | {_fmt(p.get('accepted'))} of {_fmt((p.get('load') or {}).get('requests'))} | "
            f"{_fmt(p.get('not_visible'))} | {_fmt(p.get('p50_ms'))} | "
            f"{_fmt(p.get('p99_ms'))} | {f'{before[0]:,} / {before[1]:,}' if before else '—'} | {hops} | "
            f"{sweep.holding_stage(p.get('budget')) or '—'} |"
        )
    if sw.get("not_run"):
        out.append(f"\nNot run (an earlier rate left a backlog): {', '.join(map(str, sw['not_run']))}/s.")
    out += _cpu_table(points)
    out += ["", "| target | measured | | held by |", "|---|---|---|---|"]
    names = {
        "p50_ms_at_250": f"p50 ≤ {sweep.TARGET_P50_MS:g} ms at {sweep.TARGET_RATE}/s",
        "p99_ms_at_250": f"p99 ≤ {sweep.TARGET_P99_MS:g} ms at {sweep.TARGET_RATE}/s",
        "knee_per_s": f"knee ≥ {sweep.TARGET_KNEE:,}/s",
    }
    for key, label in names.items():
        t = (sw.get("targets") or {}).get(key) or {}
        out.append(f"| {label} | {_fmt(t.get('value'))} | {_met(t.get('met'))} | {t.get('held_by') or '—'} |")
    return [*out, ""]


def _poll_text(points: list[dict[str, Any]]) -> str:
    """How fine the visibility poll was: a row is seen late by up to one interval, never early."""
    longest = [
        (p["rate"], p["poll_interval_ms"]["max"]) for p in points if (p.get("poll_interval_ms") or {}).get("max")
    ]
    if not longest:
        return ""
    per_rate = ", ".join(f"{_fmt(ms)} ms at {rate:,}/s" for rate, ms in longest)
    return (
        f" Visibility is polled every {_fmt(freshness.BASE_INTERVAL_S * 1000)} ms while at most "
        f"{_fmt(freshness.LOOKUPS_PER_S * freshness.BASE_INTERVAL_S)} rows are missing, less often past that "
        f"(at most {freshness.LOOKUPS_PER_S:,} look-ups a second); a row counts as visible at the poll that saw it, "
        f"so late by up to one interval: the longest interval was {per_rate}."
    )


CPU_GROUPS = ("broker", "worker", "gateway", "sink", "postgres", "bench")


def _cpu_table(points: list[dict[str, Any]]) -> list[str]:
    """Where the two cores went at each rate (``bench.cpushare``): a hop that waits may wait for a core."""
    measured = [p for p in points if p.get("cpu_percent_of_a_core")]
    if not measured:
        return []
    out = [
        "",
        "CPU during each rate's window, in % of one core (the machine has two; `bench`: the load generator "
        "and the visibility poller; `postgres`: its server and backends, the poller's included):",
        "",
        "| webhooks/s | machine busy (of both cores) | " + " | ".join(CPU_GROUPS) + " |",
        "|---|---|" + "---|" * len(CPU_GROUPS),
    ]
    for p in measured:
        cpu = p["cpu_percent_of_a_core"]
        shares = " | ".join(_fmt(cpu.get(g)) for g in CPU_GROUPS)
        out.append(f"| {p['rate']:,} | {_fmt(cpu.get('machine_busy_percent'), ' %')} | {shares} |")
    return out


def _gateway_table(gw: dict[str, Any]) -> list[str]:
    if not gw.get("gateway_points"):
        return []
    out = [
        "## Gateway sweep (open-loop, latency from each request's scheduled time)",
        "",
        "| offered/s | gateway accepted/s | p50 | p95 | p99 ms | CPU µs/request: gateway (its loop thread) | "
        "ceiling ok/s | ceiling p99 ms | CPU µs/request: ceiling | generator kept up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    ceiling = {p["offered_per_s"]: p for p in gw.get("ceiling_points", [])}
    for p in gw["gateway_points"]:
        c = ceiling.pop(p["offered_per_s"], None)
        lat = p["latency_ms"]
        out.append(
            f"| {p['offered_per_s']:,} | {p['accepted_per_s']:,} | {lat['p50']} | {lat['p95']} | {lat['p99']} | "
            f"{_fmt(p.get('cpu_us_per_request'))} ({_fmt(p.get('loop_thread_cpu_us_per_request'))}) | "
            f"{c['ok_per_s'] if c else '—'} | {c['latency_ms']['p99'] if c else '—'} | "
            f"{_fmt(c.get('cpu_us_per_request')) if c else '—'} | "
            f"{'yes' if p['generator']['kept_up'] and (c is None or c['generator']['kept_up']) else 'no'} |"
        )
    for rate, c in ceiling.items():  # rates the gateway's sweep stopped before
        out.append(
            f"| {rate:,} | — | — | — | — | — | {c['ok_per_s']} | {c['latency_ms']['p99']} | "
            f"{_fmt(c.get('cpu_us_per_request'))} | {'yes' if c['generator']['kept_up'] else 'no'} |"
        )
    return [*out, ""]


def _api_tables(api: dict[str, Any]) -> list[str]:
    if not api.get("api_points"):
        return []
    out = [
        "## Read API (open-loop `GET /v1/subjects/{s}/metrics`, 100,000 subjects, beside the bare handler)",
        "",
        "| offered/s | API ok/s | p50 | p99 ms | CPU µs/request: API / its PostgreSQL | ceiling ok/s | ceiling p50 | "
        "ceiling p99 ms | CPU µs/request: ceiling / its PostgreSQL |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ceiling = {p["offered_per_s"]: p for p in api.get("ceiling_points", [])}
    for p in api["api_points"]:
        c = ceiling.get(p["offered_per_s"])
        out.append(
            f"| {p['offered_per_s']:,} | {p.get('ok_per_s', '—')} | {p['latency_ms']['p50']} | "
            f"{p['latency_ms']['p99']} | {_cpu_per_request(p)} | {c.get('ok_per_s', '—') if c else '—'} | "
            f"{c['latency_ms']['p50'] if c else '—'} | {c['latency_ms']['p99'] if c else '—'} | "
            f"{_cpu_per_request(c) if c else '—'} |"
        )
    out += _api_rounds_line(api)
    st = api.get("stream") or {}
    sse, table = st.get("latency_ms") or {}, st.get("freshness_ms") or {}
    out += [
        "",
        "| streams on one process | webhook → event p50 / p99 ms | webhook → row p50 / p99 ms | delivered | "
        "API RSS MiB before / with streams / after events | per stream |",
        "|---|---|---|---|---|---|",
        f"| {_fmt(st.get('streams_ready'))} of {_fmt(st.get('streams'))} | {_fmt(sse.get('p50'))} / "
        f"{_fmt(sse.get('p99'))} | {_fmt(table.get('p50'))} / {_fmt(table.get('p99'))} | "
        f"{_fmt(st.get('delivered'))} of {_fmt(st.get('accepted'))} | {_fmt(st.get('rss_mib_before_streams'))} / "
        f"{_fmt(st.get('rss_mib_with_streams'))} / {_fmt(st.get('rss_mib_after_events'))} | "
        f"{_fmt(st.get('rss_kib_per_stream'), ' KiB')} |",
        "",
    ]
    warm = _warm_text(st.get("warm_up_at_load"))
    return [*out, warm.strip(), ""] if warm else out


def _api_rounds_line(api: dict[str, Any]) -> list[str]:
    """Every round's p99 at the top rate, both sides: the table above shows each side's best round."""
    points = api.get("api_points") or []
    if not points or not api.get("api_rounds"):
        return []
    top = points[-1]["offered_per_s"]

    def p99s(rounds: list[list[dict[str, Any]]]) -> str:
        return ", ".join(_round_p99(point_at(r, top)) for r in rounds)

    return [
        "",
        f"p99 at {top:,}/s in every round (the table shows each side's best; in brackets the machine's CPU steal "
        f"time during the round): API {p99s(api['api_rounds'])}; ceiling {p99s(api.get('ceiling_rounds') or [])}.",
    ]


def _round_p99(point: dict[str, Any] | None) -> str:
    if point is None:
        return "not measured"
    steal = point.get("steal_pct")
    return f"{_fmt(point['latency_ms']['p99'])} ms" + ("" if steal is None else f" ({_fmt(steal)} % steal)")


def _cpu_per_request(point: dict[str, Any]) -> str:
    cpu = point.get("cpu_us_per_request") or {}
    return f"{_fmt(cpu.get('server'))} / {_fmt(cpu.get('postgres'))}" if cpu else "not measured"


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
