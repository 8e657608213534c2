"""PNG plots of a benchmark run (matplotlib, the ``bench`` extra): latency vs rate, throughput vs ceiling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vitalstream.bench import sweep


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _log_latency_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)


def latency_vs_rate(gateway: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for label, key, style in (("gateway", "gateway_points", "-"), ("bare aiohttp ceiling", "ceiling_points", "--")):
        points = gateway.get(key) or []
        rates = [p["offered_per_s"] for p in points]
        for q, color in (("p50", "tab:green"), ("p95", "tab:orange"), ("p99", "tab:red")):
            ax.plot(rates, [p["latency_ms"][q] for p in points], style, marker="o", color=color, label=f"{label} {q}")
    ax.axhline(20, color="grey", linewidth=0.8, linestyle=":", label="target p99 at 2,000/s (20 ms)")
    _log_latency_axes(
        ax,
        "offered rate (requests/s, open-loop)",
        "accept latency from scheduled time (ms)",
        "Gateway accept latency vs rate",
    )
    return _save(plt, fig, path)


def throughput_vs_ceiling(bars: list[tuple[str, float | None, float | None, float]], path: Path) -> Path:
    """``bars``: (label, measured/s, ceiling/s, target/s)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs = range(len(bars))
    # a log scale: the ceilings run from 10^4 to 10^6/s, the measured figures sit near their targets
    ax.set_yscale("log")
    ax.bar([x - 0.2 for x in xs], [b[1] or 0 for b in bars], width=0.4, label="measured", color="tab:blue")
    ax.bar([x + 0.2 for x in xs], [b[2] or 0 for b in bars], width=0.4, label="ceiling (same run)", color="tab:grey")
    for x, bar in zip(xs, bars, strict=True):
        ax.hlines(bar[3], x - 0.45, x + 0.45, colors="tab:red", linestyles="--", label="target" if x == 0 else None)
        for dx, value in ((-0.2, bar[1]), (0.2, bar[2])):
            if value:
                ax.text(x + dx, value, f"{value:,.0f}", ha="center", va="bottom", fontsize=7)
        if bar[1] is None:
            ax.text(x - 0.2, 1, "not measured", rotation=90, ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [b[0] for b in bars])
    ax.set_ylabel("per second (log scale)")
    ax.set_title("Throughput vs ceiling")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def freshness(e2e: dict[str, Any], baseline: dict[str, Any], path: Path) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labels = ["p50", "p99"]
    ours = [(e2e.get("freshness_ms") or {}).get(q) for q in labels]
    theirs = [(baseline.get("freshness_s") or {}).get(q) for q in labels]
    xs = range(len(labels))
    ax.bar(
        [x - 0.2 for x in xs],
        [v / 1000 if v is not None else 0 for v in ours],
        width=0.4,
        label="vitalstream (latest_metrics)",
        color="tab:blue",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [v if v is not None else 0 for v in theirs],
        width=0.4,
        label="earlier design (materialized view, 5 min)",
        color="tab:grey",
    )
    ax.axhline(0.5, color="tab:red", linestyle="--", linewidth=0.8, label="target p99 (0.5 s)")
    ax.set_yscale("log")
    ax.set_xticks(list(xs), labels)
    ax.set_ylabel("webhook accepted → row visible (s)")
    ax.set_title("End-to-end freshness at 1,000 webhooks/s")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def e2e_sweep(sw: dict[str, Any], baseline: dict[str, Any], path: Path) -> Path:
    """Accept → visible p50/p99 by rate, main's figures before the tuning and the earlier design beside them."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    points = [p for p in sw.get("points") or [] if p.get("p99_ms") is not None]
    rates = [p["rate"] for p in points]
    ax.plot(rates, [p["p50_ms"] for p in points], "-o", color="tab:green", label="p50")
    ax.plot(rates, [p["p99_ms"] for p in points], "-o", color="tab:red", label="p99")
    before = sorted(sweep.MAIN_BEFORE.items())
    ax.plot([r for r, _ in before], [v[0] for _, v in before], ":x", color="tab:green", label="p50 on main before")
    ax.plot([r for r, _ in before], [v[1] for _, v in before], ":x", color="tab:red", label="p99 on main before")
    earlier_s = baseline.get("freshness_p99_s") or sweep.EARLIER_DESIGN_S
    ax.axhline(earlier_s * 1000, color="tab:grey", linestyle="--", label=f"earlier design ({earlier_s:g} s)")
    ax.axhline(sweep.KNEE_P99_MS, color="black", linewidth=0.8, linestyle="--", label="knee limit (p99 1 s)")
    if sw.get("knee_per_s"):
        ax.axvline(sw["knee_per_s"], color="tab:blue", linewidth=0.8, label=f"knee {sw['knee_per_s']:,}/s")
    _log_latency_axes(
        ax, "webhooks/s (open-loop, 2 observations each)", "accepted → row visible (ms)", "End-to-end freshness vs rate"
    )
    return _save(plt, fig, path)
