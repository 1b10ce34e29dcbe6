"""The bench's three outputs: bench.json (every figure), bench.md (the tables), throughput.png (the plot)."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from bench.run import (
    BASELINE_OF,
    COPY_PIPE,
    GOAL_OF,
    INSERT_TARGETS,
    MIGRATE,
    MIGRATE_PANDAS,
    PUBLISH,
    PUBLISH_RERUN,
    ROWS_MEANING,
    STAGES,
    TRANSFORM_DBT,
    Figure,
    Options,
    SizeResult,
    Step,
)

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
    if step.worker_peak_bytes is not None:
        figures["largest_worker_peak_rss_mib"] = round(step.worker_peak_bytes / MIB, 1)
    if step.step_seconds is not None and step.step_rows_per_second is not None:
        figures["step_seconds"] = round(step.step_seconds, 3)
        figures["step_rows_per_second"] = round(step.step_rows_per_second, 1)
    return figures


def _figure_json(figure: Figure) -> dict[str, Any]:
    """A stage's figures and ratios; the step-alone and goal ones only where the stage has them."""
    figures: dict[str, Any] = {
        "stage": figure.stage.name,
        **_step_json(figure.stage),
        "baseline": figure.baseline.name,
        "baseline_figures": _step_json(figure.baseline),
        "ratio": round(figure.ratio, 4),
    }
    if figure.step_ratio is not None:
        figures["step_ratio"] = round(figure.step_ratio, 4)
    if figure.goal is not None:
        figures["goal_baseline"] = figure.goal.name
        figures["goal_baseline_figures"] = _step_json(figure.goal)
        figures["goal_ratio"] = round(figure.goal_ratio, 4)
        if figure.goal_step_ratio is not None:
            figures["goal_step_ratio"] = round(figure.goal_step_ratio, 4)
    figures["load_average"] = round(figure.load_average, 2)
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
    elif any(not info.options.pandas_at(size) for size in info.sizes):
        missing["transform (pandas)"] = (
            f"not run above {info.options.pandas_up_to:,} legacy orders (--pandas-up-to): the engine holds every "
            "staged table in one process"
        )
    if any(not info.options.dbt_at(size) for size in info.sizes):
        for stage in (TRANSFORM_DBT, PUBLISH, PUBLISH_RERUN, MIGRATE):
            missing[stage] = f"not run above {info.options.dbt_up_to:,} legacy orders (--dbt-up-to)"
        if info.options.pandas_migrate:
            missing[MIGRATE_PANDAS] = "not run above the smaller of --pandas-up-to and --dbt-up-to"
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
        row: dict[str, Any] = {
            "stage": stage,
            "baseline": BASELINE_OF[stage],
            "rows_per_second": {str(size): round(f.stage.rows_per_second, 1) for size, f in measured.items()},
            "ratio": {str(size): round(f.ratio, 4) for size, f in measured.items()},
            "rows_per_second_change": round(change, 2) if change is not None else None,
        }
        step_ratios = _by_size(measured, lambda f: f.step_ratio)
        if step_ratios:
            row["step_ratio"] = step_ratios
        if any(figure.goal is not None for figure in measured.values()):
            row["goal_baseline"] = GOAL_OF[stage]
            row["goal_ratio"] = _by_size(measured, lambda f: f.goal_ratio if f.goal is not None else None)
            row["goal_step_ratio"] = _by_size(measured, lambda f: f.goal_step_ratio if f.goal is not None else None)
        rows.append(row)
    return rows


def _by_size(measured: dict[int, Figure], ratio: Callable[[Figure], float | None]) -> dict[str, float]:
    """One ratio per size, rounded as in the summary, leaving out the sizes where the figure has none."""
    found = {size: ratio(figure) for size, figure in measured.items()}
    return {str(size): round(value, 4) for size, value in found.items() if value is not None}


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
        "step_ratio_meaning": "for the loader's stage and publish: rows ÷ the seconds the loader's own run report "
        "gives the step (timed inside the process, without interpreter start, imports and run bookkeeping) ÷ the "
        "baseline's rows/s; ratio itself is always the whole process's",
        "goal_meaning": f"publish's second baseline, {INSERT_TARGETS!r}: the rows publish wrote, INSERT … "
        "SELECTed in one transaction, parents first, into empty copies of its target tables made with LIKE … "
        "INCLUDING ALL (keys, unique constraints, indexes, defaults, identity; no foreign keys), timed after the "
        "first publish and after the rerun and averaged; goal_ratio and goal_step_ratio are against it, ratio and "
        "step_ratio against the unindexed floor. The loader's stage has the COPY pipe as both floor and goal",
        "summary": summary(results),
        "runs": [
            {
                "size": result.size,
                "legacy_rows": result.legacy_rows,
                "target_rows": result.target_rows,
                "database_bytes": result.database_bytes,
                "stages": [_figure_json(figure) for figure in result.figures],
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
        "Publish's ratio here is against its physical floor; against its target tables' definitions, see the next"
        " table.",
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
    measured = set(_measured_stages(results))
    for stage, reason in _unavailable(info).items():
        if stage not in measured:
            cells = [_cell(stage), _cell(BASELINE_OF[stage]), _cell(reason)] + [""] * (len(header) - 3)
            lines.append("| " + " | ".join(cells) + " |")
    lines += [f"\n{stage}: {reason}." for stage, reason in _unavailable(info).items() if stage in measured]
    lines += _goals_markdown(results)
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
    workers = [
        f"- {_size_label(result.size)}, {figure.stage.name}: {figure.stage.worker_peak_bytes / MIB:.0f} MiB"
        for result in results
        for figure in result.figures
        if figure.stage.worker_peak_bytes is not None
    ]
    if workers:
        lines += ["", "The dask engine's largest worker process, peak RSS (its partitions and shuffles):", "", *workers]
    lines += ["", "Rows counted per stage:", ""]
    lines += [f"- {stage}: {ROWS_MEANING[stage]}" for stage in _measured_stages(results)]
    disk = [result for result in results if result.database_bytes]
    if disk:
        lines += ["", "Disk: the bench databases' size (pg_database_size) once each size's last stage ran:", ""]
        lines += [
            f"- {_size_label(result.size)}: "
            + ", ".join(f"{name} {_disk_text(size)}" for name, size in result.database_bytes.items())
            for result in disk
        ]
    lines.append("")
    return "\n".join(lines)


def _disk_text(size: int) -> str:
    """A database's size: in GiB from 1 GiB up, in MiB below (a small size's databases would read 0.0 GiB)."""
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 else f"{size / MIB:.0f} MiB"


def _goals_markdown(results: list[SizeResult]) -> list[str]:
    """The loader's stage and publish against the baseline each aims at, whole process and step alone."""
    goal_figures = [
        (result.size, figure)
        for result in results
        for stage in GOAL_OF
        if (figure := _figure_at(result, stage)) is not None
    ]
    if not goal_figures:
        return []
    lines = [
        "",
        "## Loader and publish against their goals",
        "",
        "**Whole process** is the command's wall time, as above; **step alone** is the seconds the loader's own run",
        "report gives the step, timed inside the process (no interpreter start, imports or run bookkeeping), for the",
        "same rows and against the same baseline.",
        f"The stage is held to the **{COPY_PIPE}**: the same rows moved between the servers by psql alone.",
        f"Publish is held to **{INSERT_TARGETS}**:",
        "the rows it wrote, inserted in one transaction, parents first, into empty copies of its target tables with",
        "their keys, unique constraints, indexes, defaults and identity (`LIKE … INCLUDING ALL`, which copies no",
        "foreign keys), timed after the first publish and after the rerun and averaged. The INSERT…SELECT of the",
        "marts above, into unindexed tables, stays its physical floor.",
        "",
        "| size | stage | baseline | baseline s | seconds whole process | seconds step alone "
        "| ratio whole process | ratio step alone |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size, figure in goal_figures:
        timed, goal = figure.stage, figure.goal_baseline
        step_seconds = f"{timed.step_seconds:.2f}" if timed.step_seconds is not None else "-"
        step_ratio = f"{figure.goal_step_ratio:.3f}" if figure.goal_step_ratio is not None else "-"
        lines.append(
            f"| {_size_label(size)} | {_cell(timed.name)} | {_cell(goal.name)} | {goal.seconds:.2f} | "
            f"{timed.seconds:.2f} | {step_seconds} | {figure.goal_ratio:.3f} | {step_ratio} |"
        )
    return lines


def plot(results: list[SizeResult], path: Path) -> None:
    """Rows/s against size: a solid line per stage, a dashed one per floor and a dotted one per goal, log-log."""
    import matplotlib

    matplotlib.use("Agg")  # no display: the bench runs on servers and in CI
    import matplotlib.pyplot as plt

    sizes = [result.size for result in results]
    figure, axes = plt.subplots(figsize=(10, 6))
    for stage in _measured_stages(results):
        points = [(r.size, f.stage.rows_per_second) for r in results if (f := _figure_at(r, stage)) is not None]
        axes.plot(*zip(*points, strict=True), marker="o", linewidth=2, label=stage)
    # A baseline is drawn in the colour of the first stage compared with it, so each pair reads together; a goal
    # that is no stage's floor (publish's target definitions) is dotted, so it is not mistaken for the floor.
    colours = {line.get_label(): line.get_color() for line in axes.get_lines()}
    baseline_names = list(dict.fromkeys(step.name for result in results for step in result.baselines))
    for name in baseline_names:
        points = [(r.size, s.rows_per_second) for r in results for s in r.baselines if s.name == name]
        floor_of = [stage for stage in STAGES if BASELINE_OF[stage] == name and stage in colours]
        goal_of = [stage for stage, goal in GOAL_OF.items() if goal == name and stage in colours]
        owner = next(iter(floor_of + goal_of), None)
        axes.plot(
            *zip(*points, strict=True),
            linestyle=":" if goal_of and not floor_of else "--",
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
    axes.set_title("Throughput per stage (solid), PostgreSQL's floors (dashed) and goal (dotted)")
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
