"""The bench's three outputs: bench.json (every figure), bench.md (the tables), throughput.png (the plot)."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.run import BASELINE_OF, ROWS_MEANING, STAGES, Figure, Options, SizeResult, Step

MIB = 2**20


@dataclass(frozen=True)
class RunInfo:
    taken_at: datetime
    machine: dict[str, str]
    options: Options
    sizes: list[int]
    wall_seconds: float
    complete: bool
    error: str | None = None


def describe_machine(postgres_version: str) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count() or 0),
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "postgresql": postgres_version,
    }


def _step_json(step: Step) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "seconds": round(step.seconds, 3),
        "rows": step.rows,
        "rows_per_second": round(step.rows_per_second, 1),
        "peak_rss_mib": round(step.peak_rss_bytes / MIB, 1),
    }
    if step.runs:
        figures["runs_seconds"] = [round(seconds, 3) for seconds in step.runs]
    return figures


def _measured_stages(results: list[SizeResult]) -> list[str]:
    present = {figure.stage.name for result in results for figure in result.figures}
    return [name for name in STAGES if name in present]


def _figure_at(result: SizeResult, stage: str) -> Figure | None:
    return next((figure for figure in result.figures if figure.stage.name == stage), None)


def _unavailable(info: RunInfo) -> dict[str, str]:
    missing = {}
    if not info.options.pandas_engine:
        missing["transform (pandas)"] = "not available: `python -m loader transform --help` offers no --engine pandas"
    return missing


def summary(results: list[SizeResult]) -> list[dict[str, Any]]:
    """Per stage: its ratio and rows/s at every size, and how rows/s changes from the smallest to the largest."""
    rows = []
    sizes = [result.size for result in results]
    for stage in _measured_stages(results):
        by_size = {result.size: _figure_at(result, stage) for result in results}
        measured = {size: figure for size, figure in by_size.items() if figure is not None}
        smallest, largest = by_size[min(sizes)], by_size[max(sizes)]
        # Only a stage measured at both ends of the run has a change to show.
        change = (
            largest.stage.rows_per_second / smallest.stage.rows_per_second
            if smallest and largest and len(sizes) > 1 and smallest.stage.rows_per_second > 0
            else None
        )
        rows.append(
            {
                "stage": stage,
                "baseline": BASELINE_OF[stage],
                "rows_per_second": {str(size): round(f.stage.rows_per_second, 1) for size, f in measured.items()},
                "ratio": {str(size): round(f.ratio, 4) for size, f in measured.items()},
                "rows_per_second_change": round(change, 2) if change is not None else None,
            }
        )
    return rows


def to_json(results: list[SizeResult], info: RunInfo) -> dict[str, Any]:
    return {
        "taken_at": info.taken_at.isoformat(timespec="seconds"),
        "machine": info.machine,
        "complete": info.complete,
        "error": info.error,
        "wall_seconds": round(info.wall_seconds, 1),
        "sizes": info.sizes,
        "profile": info.options.profile,
        "profile_note": info.options.profile_note,
        "unavailable": _unavailable(info),
        "rows_meaning": ROWS_MEANING,
        "peak_rss_note": "resident memory of the measured process tree (bench → python → dbt, or bash → psql); "
        "the PostgreSQL server's own memory is not included",
        "ratio_meaning": "stage rows/s ÷ baseline rows/s: the stage's throughput as a share of PostgreSQL's bare "
        "operation on the same data in the same run (1.0 = as fast, higher is better); the baseline is the mean of "
        "its runs right before and right after the stage (after only, for seed)",
        "load_average_note": "the machine's 1-minute load average when each stage ended; above the core count, "
        "other work shared the machine",
        "summary": summary(results),
        "runs": [
            {
                "size": result.size,
                "legacy_rows": result.legacy_rows,
                "target_rows": result.target_rows,
                "stages": [
                    {
                        "stage": figure.stage.name,
                        **_step_json(figure.stage),
                        "baseline": figure.baseline.name,
                        "baseline_figures": _step_json(figure.baseline),
                        "ratio": round(figure.ratio, 4),
                        "load_average": round(figure.load_average, 2),
                    }
                    for figure in result.figures
                ],
                "baselines": [{"baseline": step.name, **_step_json(step)} for step in result.baselines],
            }
            for result in results
        ],
    }


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a bare | would end the cell."""
    return text.replace("|", "\\|")


def _size_label(size: int) -> str:
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1_000 and size % 1_000 == 0:
        return f"{size // 1_000}k"
    return str(size)


def to_markdown(results: list[SizeResult], info: RunInfo) -> str:
    machine = info.machine
    sizes = [result.size for result in results]
    lines = [
        "# Benchmark: each stage against what PostgreSQL itself does with the same rows",
        "",
        f"Taken {info.taken_at:%Y-%m-%d %H:%M} on {machine['cpu']}, {machine['cores']} cores, {machine['memory']}, "
        f"{machine['os']}, PostgreSQL {machine['postgresql']}, Python {machine['python']}. "
        f"Profile `{info.options.profile}`; sizes in legacy orders (users a fifth, products a fiftieth). "
        f"Whole run: {info.wall_seconds / 60:.1f} min{'' if info.complete else ' (incomplete)'}.",
        "",
    ]
    if info.error:
        lines += [f"**Incomplete**: a command failed at size {_size_label(sizes[-1])}:", ""]
        lines += ["```text", *info.error.splitlines()[-6:], "```", ""]
    loads = [figure.load_average for result in results for figure in result.figures]
    if loads:
        lines += [
            f"1-minute load average as the stages ended: {min(loads):.1f} to {max(loads):.1f} on "
            f"{machine['cores']} cores (above that, other work shared the machine; the ratios are meant to hold "
            "anyway, the raw seconds are not).",
            "",
        ]
    if info.options.profile_note:
        lines += [f"Note: {info.options.profile_note}.", ""]
    lines += [
        "**Ratio** = stage rows/s ÷ baseline rows/s, both from the same run on the same data: the stage's",
        "throughput as a share of PostgreSQL's bare operation (1.0 = as fast as PostgreSQL itself, higher is better).",
        "Each baseline is timed right before and right after its stage and averaged (after only, for seed).",
        "**Change** = rows/s at the largest size ÷ rows/s at the smallest"
        f" ({_size_label(min(sizes))} → {_size_label(max(sizes))}); above 1 the stage gets faster per row as the data"
        " grows.",
        "",
    ]
    header = ["stage", "baseline"]
    header += [f"ratio {_size_label(size)}" for size in sizes]
    header += [f"rows/s {_size_label(size)}" for size in sizes]
    header += ["change"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary(results):
        cells = [_cell(row["stage"]), _cell(row["baseline"])]
        cells += [f"{row['ratio'][str(size)]:.3f}" if str(size) in row["ratio"] else "-" for size in sizes]
        cells += [
            f"{row['rows_per_second'][str(size)]:,.0f}" if str(size) in row["rows_per_second"] else "-"
            for size in sizes
        ]
        change = row["rows_per_second_change"]
        cells.append(f"x{change:.2f}" if change is not None else "-")
        lines.append("| " + " | ".join(cells) + " |")
    for stage, reason in _unavailable(info).items():
        cells = [_cell(stage), _cell(BASELINE_OF[stage]), _cell(reason)] + [""] * (len(header) - 3)
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Every figure",
        "",
        "Seconds are wall time of the whole command (process start, connections and, for dbt, parsing included).",
        "Peak RSS is the measured process tree (python and its dbt child, or bash and its psql processes); the",
        "PostgreSQL server's own memory is not part of it.",
        "",
        "| size | stage | seconds | rows | rows/s | peak RSS MiB | baseline | baseline s | baseline rows/s | ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for figure in result.figures:
            timed, baseline = figure.stage, figure.baseline
            lines.append(
                f"| {_size_label(result.size)} | {_cell(timed.name)} | {timed.seconds:.2f} | {timed.rows:,} | "
                f"{timed.rows_per_second:,.0f} | {timed.peak_rss_bytes / MIB:.0f} | {_cell(baseline.name)} | "
                f"{baseline.seconds:.2f} | {baseline.rows_per_second:,.0f} | {figure.ratio:.3f} |"
            )
    lines += ["", "Rows counted per stage:", ""]
    lines += [f"- {stage}: {ROWS_MEANING[stage]}" for stage in _measured_stages(results)]
    lines.append("")
    return "\n".join(lines)


def plot(results: list[SizeResult], path: Path) -> None:
    """Rows/s against size, one solid line per stage and one dashed line per baseline, both axes logarithmic."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the bench runs on servers and in CI
    import matplotlib.pyplot as plt

    sizes = [result.size for result in results]
    figure, axes = plt.subplots(figsize=(10, 6))
    for stage in _measured_stages(results):
        points = [(r.size, f.stage.rows_per_second) for r in results if (f := _figure_at(r, stage)) is not None]
        axes.plot(*zip(*points, strict=True), marker="o", linewidth=2, label=stage)
    # A baseline is drawn in the colour of the first stage compared with it, so each pair reads together.
    colours = {line.get_label(): line.get_color() for line in axes.get_lines()}
    baseline_names = list(dict.fromkeys(step.name for result in results for step in result.baselines))
    for name in baseline_names:
        points = [(r.size, s.rows_per_second) for r in results for s in r.baselines if s.name == name]
        owner = next((stage for stage in STAGES if BASELINE_OF[stage] == name and stage in colours), None)
        axes.plot(
            *zip(*points, strict=True),
            linestyle="--",
            marker="s",
            linewidth=1,
            color=colours[owner] if owner else "grey",
            label=f"baseline: {name}",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xticks(sizes, [_size_label(size) for size in sizes])
    axes.minorticks_off()
    axes.set_xlabel("size (legacy orders)")
    axes.set_ylabel("rows per second")
    axes.set_title("Throughput per stage (solid) and PostgreSQL's bare baselines (dashed)")
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def write_reports(results: list[SizeResult], info: RunInfo, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = out_dir / "bench.json", out_dir / "bench.md", out_dir / "throughput.png"
    json_path.write_text(json.dumps(to_json(results, info), indent=2, ensure_ascii=False) + "\n")
    md_path.write_text(to_markdown(results, info))
    plot(results, png_path)
    return [json_path, md_path, png_path]
