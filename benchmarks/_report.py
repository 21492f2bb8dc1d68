"""Output: tables on stdout, the targets, ``results.json``, ``summary.md`` and PNG plots."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from _targets import compute_targets

__all__ = ["compute_targets", "plot", "render", "write_json", "write_markdown"]

# --- tables ---------------------------------------------------------------------------


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += [
        "  ".join(
            c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    ]
    return out


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _num(value: float | None, fmt: str = ",.0f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, fmt)


def _spread(summary: dict[str, Any]) -> str:
    return f"±{summary['spread'] * 50:.0f}%" if summary["n"] > 1 else "n=1"


def _scenario_tables(
    name: str, scenario: dict[str, Any]
) -> list[tuple[str, list[str], list[list[str]]]]:
    tables = []
    for group in scenario["groups"]:
        rows: list[list[str]] = []
        res = group["results"]
        if name in ("throughput", "scaling"):
            headers = [
                "contender",
                "events/s",
                "spread",
                "w/o setup",
                "setup s",
                "x raw(setup)",
                "x raw(warm)",
                "peak RSS MB",
                "MB/s",
                "CPU us/ev",
                "emulator us/ev",
            ]
            for cid, r in res.items():
                after = r.get("events_per_s_after_setup")
                mbs, cpu = r.get("mb_per_s"), r.get("cpu_us_per_event")
                emulator = r.get("emulator_cpu_us_per_event")
                rows.append(
                    [
                        cid,
                        _num(r["events_per_s"]["median"]),
                        _spread(r["events_per_s"]),
                        _num(after["median"]) if after else "-",
                        _num(r["setup_s"]["median"], ".2f") if r.get("setup_s") else "-",
                        _num(r.get("ratio_to_raw-send-batch-setup"), ".2f"),
                        _num(r.get("ratio_to_raw-send-batch-warm"), ".2f"),
                        _num(r["peak_rss_mb"]["median"], ".0f"),
                        _num(mbs["median"], ".1f") if mbs else "-",
                        _num(cpu["median"], ".2f") if cpu else "-",
                        _num(emulator["median"], ".2f") if emulator else "-",
                    ]
                )
        elif name == "latency":
            headers = ["contender", "p50 ms", "p99 ms", "max ms", "spread p99"]
            for cid, r in res.items():
                rows.append(
                    [
                        cid,
                        _num(r["p50_s"]["median"] * 1e3, ".1f"),
                        _num(r["p99_s"]["median"] * 1e3, ".1f"),
                        _num(r["max_s"]["median"] * 1e3, ".1f"),
                        _spread(r["p99_s"]),
                    ]
                )
        elif name == "overhead":
            headers = ["workload", "events/s", "spread", "us/event", "time / batch loop"]
            for cid, r in res.items():
                rows.append(
                    [
                        cid,
                        _num(r["events_per_s"]["median"]),
                        _spread(r["events_per_s"]),
                        _num(r["us_per_event"], ".2f"),
                        _num(r["time_vs_batch_loop"], ".2f"),
                    ]
                )
        elif name == "memory":
            headers = [
                "contender",
                "baseline MB",
                "peak MB",
                "2nd-half growth MB",
                "queue bound MB",
                "accepted/s",
                "flat",
            ]
            for cid, r in res.items():
                rows.append(
                    [
                        cid,
                        _num(r["baseline_mb"]["median"], ".1f"),
                        _num(r["peak_mb"]["median"], ".1f"),
                        _num(r["second_half_growth_mb"]["median"], "+.1f"),
                        _num(r["queue_bound_mb"], ".1f"),
                        _num(r["accepted_per_s"]["median"]),
                        "yes" if r["flat"] else "NO",
                    ]
                )
        else:
            continue
        tables.append((f"{name}: {group['label']}", headers, rows))
    return tables


def _target_rows(targets: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for t in targets:
        verdict = {True: "met", False: "NOT MET", None: "not run"}[t["met"]]
        rows.append(
            [t["target"], _num(t["value"], ".3f"), f"{t['op']} {t['threshold']:g}", verdict]
        )
    return rows


def render(results: dict[str, Any]) -> str:
    """The tables and targets as plain text (what ``run.py`` prints)."""
    lines = [_machine_line(results["machine"]), ""]
    for name, scenario in results["scenarios"].items():
        for title, headers, rows in _scenario_tables(name, scenario):
            lines += [title, *_table(headers, rows), ""]
    lines += [
        "targets (this run's own ratios)",
        *_table(["target", "value", "threshold", "verdict"], _target_rows(results["targets"])),
    ]
    return "\n".join(lines)


def _machine_line(machine: dict[str, Any]) -> str:
    return (
        f"machine: {machine['cpu']} x{machine['cpus']}, {machine['memory_gb']:.1f} GB, "
        f"{machine['platform']}, Python {machine['python']}; load avg "
        f"{machine['loadavg_start']} at start; mode {machine['mode']}{_jobs_note(machine)}"
    )


def _jobs_note(machine: dict[str, Any]) -> str:
    jobs = machine.get("jobs", 1)
    return f" ({jobs} runs at a time: numbers disturbed)" if jobs > 1 else ""


def write_markdown(results: dict[str, Any], path: str, plots: list[str]) -> None:
    """``summary.md``: the tables, targets and plots, ready for ``docs/benchmarks.md``."""
    m = results["machine"]
    lines = [
        f"Measured {m['started']} in {m['mode']} mode ({m['repeats']} repetitions, "
        f"median; spread is ±half of (max - min) / median){_jobs_note(m)}.",
        "",
        f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['memory_gb']:.1f} GB RAM, "
        f"{m['platform']}, Python {m['python']}, load average at start "
        f"{m['loadavg_start']}, at end {m.get('loadavg_end')}.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in m['versions'].items())}.",
        "",
        "### Targets",
        "",
        *_md_table(["target", "value", "threshold", "verdict"], _target_rows(results["targets"])),
        "",
    ]
    for name, scenario in results["scenarios"].items():
        lines += [f"### {name}", "", scenario["description"], ""]
        for title, headers, rows in _scenario_tables(name, scenario):
            lines += [f"**{title}**", "", *_md_table(headers, rows), ""]
    for plot_path in plots:
        lines += [f"![{os.path.basename(plot_path)}]({os.path.basename(plot_path)})", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


def write_json(results: dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(results, f, indent=1, default=str)


# --- plots ----------------------------------------------------------------------------


def plot(results: dict[str, Any], out_dir: str) -> list[str]:
    """Write the PNG plots; returns their paths (none if matplotlib is missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plots (pip install 'anyio-eventhubs[bench]')")
        return []
    written = []
    scenarios = results["scenarios"]
    if "throughput" in scenarios:
        groups = scenarios["throughput"]["groups"]
        cids = scenarios["throughput"]["contenders"]
        fig, ax = plt.subplots(figsize=(max(8, 1.8 * len(groups)), 5))
        width = 0.8 / len(cids)
        for i, cid in enumerate(cids):
            medians = [g["results"][cid]["events_per_s"]["median"] for g in groups]
            errs = [
                [
                    m - g["results"][cid]["events_per_s"]["min"]
                    for m, g in zip(medians, groups, strict=True)
                ],
                [
                    g["results"][cid]["events_per_s"]["max"] - m
                    for m, g in zip(medians, groups, strict=True)
                ],
            ]
            ax.bar(
                [x + i * width for x in range(len(groups))], medians, width, yerr=errs, label=cid
            )
        ax.set_xticks([x + 0.4 - width / 2 for x in range(len(groups))])
        ax.set_xticklabels([g["label"].replace(", ", "\n", 1) for g in groups], fontsize=7)
        ax.set_ylabel("events/s (setup included)")
        ax.set_yscale("log")
        ax.set_title("Throughput (median, min-max)")
        ax.legend(fontsize=7, ncol=2)
        written.append(_save(fig, plt, out_dir, "throughput.png"))
    if "latency" in scenarios:
        groups = scenarios["latency"]["groups"]
        fig, axes = plt.subplots(1, len(groups), figsize=(6 * len(groups), 4.5), squeeze=False)
        for ax, group in zip(axes[0], groups, strict=True):
            for cid, r in group["results"].items():
                ax.plot([v * 1e3 for _, v in r["cdf"]], [p / 100 for p, _ in r["cdf"]], label=cid)
            ax.axvline(
                (group["config"]["max_wait_time"] + 0.010) * 1e3,
                ls="--",
                c="grey",
                lw=0.8,
                label="p99 target",
            )
            ax.set_xscale("log")
            ax.set_xlabel("ms from queueing to success handler")
            ax.set_ylabel("fraction of events")
            ax.set_title(f"max_wait_time {group['config']['max_wait_time']} s", fontsize=9)
            ax.legend(fontsize=7)
        written.append(_save(fig, plt, out_dir, "latency_cdf.png"))
    if "memory" in scenarios:
        group = scenarios["memory"]["groups"][0]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for cid, r in group["results"].items():
            series = r["samples"][len(r["samples"]) // 2]["rss_series_mb"]
            ax.plot([t for t, _ in series], [m for _, m in series], label=cid)
        ax.axvline(0, ls="--", c="grey", lw=0.8)
        ax.set_xlabel("s since the overload started")
        ax.set_ylabel("RSS MB")
        ax.set_title("Memory under 10x overload", fontsize=9)
        ax.legend(fontsize=7)
        written.append(_save(fig, plt, out_dir, "memory_rss.png"))
    if "scaling" in scenarios:
        scaling = scenarios["scaling"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        parts = [g["config"]["partitions"] for g in scaling["groups"]]
        for cid in scaling["contenders"]:
            ax.plot(
                parts,
                [g["results"][cid]["events_per_s"]["median"] for g in scaling["groups"]],
                marker="o",
                label=cid,
            )
        ax.set_xscale("log", base=2)
        ax.set_xticks(parts, [str(p) for p in parts])
        ax.set_xlabel("partitions")
        ax.set_ylabel("events/s (setup included)")
        ax.set_title("Scaling", fontsize=9)
        ax.legend(fontsize=7)
        written.append(_save(fig, plt, out_dir, "scaling.png"))
    return written


def _save(fig: Any, plt: Any, out_dir: str, name: str) -> str:
    path = os.path.join(out_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
