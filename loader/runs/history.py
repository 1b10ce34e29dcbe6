"""Progress across runs: rows per reason code over the last published runs and this one, as a table and a plot.

Read from the summaries in migration_runs (each holds its run's per-reason counts), never from the ledger: a
handful of small JSON documents instead of a scan of every run's partition.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, select

from loader.core.models import MigrationRun

# How many runs the table and the plot show: this run and up to four published runs before it. Enough to see a
# trend across a few rounds of mappings and corrections, few enough for a table that fits on a screen.
HISTORY_RUNS = 5
# Reject reasons drawn in the plot, those with the most rows in any run shown: more lines than this are unreadable.
PLOTTED_REASONS = 8
PLOT_NAME = "reject_progress.png"

# (legacy table, outcome, reason code): a reason code alone can name rejects of one table and warnings of another.
ReasonKey = tuple[str, str, str]

_runs = MigrationRun.__table__


@dataclass(frozen=True)
class RunCounts:
    """One run's rows per reason, and its status (published; planned for a dry run; failed, transformed…)."""

    run_id: int
    status: str
    rows: dict[ReasonKey, int]


def earlier_runs(conn: Connection, run_id: int, limit: int = HISTORY_RUNS - 1) -> list[RunCounts]:
    """The last published runs before `run_id` whose summary holds per-reason counts, oldest first."""
    reasons = _runs.c.summary["reasons"]
    query = (
        select(_runs.c.run_id, reasons.label("reasons"))
        .where(_runs.c.status == "published", _runs.c.run_id < run_id, _runs.c.summary.has_key("reasons"))
        .order_by(_runs.c.run_id.desc())
        .limit(limit)
    )
    found: list[RunCounts] = []
    for row in conn.execute(query):
        # The JSON subtree is untyped (object): a list of the report's reason records.
        earlier, listed = cast("tuple[int, list[dict[str, Any]] | None]", tuple(row))
        rows = {(r["legacy_table"], r["outcome"], r["reason_code"]): int(r["rows"]) for r in listed or ()}
        found.append(RunCounts(int(earlier), "published", rows))
    return found[::-1]


@dataclass(frozen=True)
class ReasonHistory:
    """Rows per reason in each run shown, oldest first; the last run is the one the report is about."""

    runs: tuple[RunCounts, ...]

    @classmethod
    def of(
        cls, earlier: Sequence[RunCounts], run_id: int, status: str, counts: Iterable[tuple[ReasonKey, int]]
    ) -> ReasonHistory:
        current = RunCounts(run_id, status, dict(counts))
        kept = earlier[max(0, len(earlier) - (HISTORY_RUNS - 1)) :]
        return cls((*kept, current))

    def reasons(self) -> list[ReasonKey]:
        """Every reason seen in any run shown, in the report's order: table, outcome, then most rows now first."""
        seen = dict.fromkeys(key for run in self.runs for key in run.rows)
        current = self.runs[-1].rows
        return sorted(seen, key=lambda key: (key[0], key[1], -current.get(key, 0), key[2]))

    def series(self, key: ReasonKey) -> list[int]:
        # A run without the reason had no such rows (the summary lists every reason that had any).
        return [run.rows.get(key, 0) for run in self.runs]

    def label(self, run: RunCounts) -> str:
        notes = [run.status] if run.status != "published" else []
        notes += ["this run"] if run is self.runs[-1] else []
        return f"run {run.run_id} ({', '.join(notes)})" if notes else f"run {run.run_id}"

    def as_json(self) -> dict[str, Any]:
        return {
            "runs_shown": HISTORY_RUNS,
            "runs": [
                {"run_id": run.run_id, "status": run.status, "this_run": run is self.runs[-1]} for run in self.runs
            ],
            "reasons": [
                {"legacy_table": key[0], "outcome": key[1], "reason_code": key[2], "rows": self.series(key)}
                for key in self.reasons()
            ],
            "plot": PLOT_NAME,
        }

    def markdown(self) -> list[str]:
        """The section of the Markdown report: a row per reason, a column per run, oldest first."""
        shown = "this run only: no published run before it" if len(self.runs) == 1 else "oldest first"
        lines = [
            "## Progress across runs",
            "",
            f"Rows per reason in this run and the published runs before it, up to {HISTORY_RUNS} runs ({shown}); "
            f"a plan's counts are marked planned. Plot: `{PLOT_NAME}`.",
            "",
            "| legacy table | outcome | reason | " + " | ".join(self.label(run) for run in self.runs) + " |",
            "|---|---|---|" + "---:|" * len(self.runs),
        ]
        for key in self.reasons():
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | " + " | ".join(map(str, self.series(key))) + " |")
        return lines


def plotted_reasons(history: ReasonHistory) -> list[ReasonKey]:
    """The reasons the plot draws: rejects (the list to shrink; warnings are migrated rows, and their hundreds
    would flatten the rejects' lines), those with the most rows in any run shown, at most PLOTTED_REASONS."""
    rejects = [key for key in history.reasons() if key[1] == "rejected"]
    return sorted(rejects, key=lambda key: -max(history.series(key)))[:PLOTTED_REASONS]


def plot(history: ReasonHistory, path: Path) -> None:
    """Rows per reason over the runs shown, a line per reason (the most frequent only), written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display: runs happen on servers and in CI
    import matplotlib.pyplot as plt

    keys = plotted_reasons(history)
    positions = list(range(len(history.runs)))
    figure, axes = plt.subplots(figsize=(10, 6))
    for key in keys:
        axes.plot(positions, history.series(key), marker="o", linewidth=2, label=f"{key[2]} ({key[0]})")
    axes.set_xticks(positions, [history.label(run).replace(" (", "\n(").replace(", ", ",\n") for run in history.runs])
    axes.set_xlim(-0.5, len(positions) - 0.5)
    axes.set_ylim(bottom=0)
    axes.set_xlabel("run")
    axes.set_ylabel("legacy rows")
    rejects = sum(1 for key in history.reasons() if key[1] == "rejected")
    more = (
        f"\nthe {len(keys)} reasons with the most rows of {rejects}; all of them in the report"
        if rejects > len(keys)
        else ""
    )
    axes.set_title(f"Rejected legacy rows per reason, run by run{more}")
    axes.grid(True, alpha=0.3)
    if keys:
        axes.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    # Next to the file, then renamed: a killed run never leaves half a plot.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".png", delete=False) as handle:
        figure.savefig(handle, format="png", dpi=120)
        temporary = Path(handle.name)
    plt.close(figure)
    temporary.chmod(0o644)
    temporary.replace(path)
