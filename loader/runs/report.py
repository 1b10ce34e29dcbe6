"""The run report: reports/migration_report.md and .json, written by every run, whatever its end.

It answers, for one run: what was read from each legacy table and what became of it (migrated, merged,
rejected — by reason, with a few legacy ids to look up), how long each stage took and at what rate, what the
gates found, and which run id to look up in migration_runs and migration_ledger.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Connection, and_, func, select
from sqlalchemy.sql.expression import TableClause

from loader.core.contract import LEGACY_TABLE_MARTS, PROJECT_ROOT, QUARANTINE_TABLES
from loader.core.models import RunStatus
from loader.publish.gates import EXAMPLES, GateResult
from loader.publish.publish import PublishResult
from loader.publish.relations import quarantine
from loader.runs.corrections import CorrectionOutcome, corrections_markdown
from loader.runs.history import PLOT_NAME, ReasonHistory, RunCounts, plot
from loader.runs.unrecognised import (
    TOP_VALUES,
    UNRECOGNISED_CSV,
    RawValueCount,
    top_values,
    write_unrecognised_csv,
)

logger = logging.getLogger(__name__)

REPORT_NAME = "migration_report"
REPORT_DIR_VARIABLE = "LEGACY_MIGRATE_REPORT_DIR"


def default_report_dir() -> Path:
    """reports/ in the project, unless LEGACY_MIGRATE_REPORT_DIR names another folder."""
    configured = os.environ.get(REPORT_DIR_VARIABLE)
    return Path(configured) if configured else PROJECT_ROOT / "reports"


@dataclass(frozen=True)
class ReasonCount:
    """Legacy rows of one table that share an outcome and a reason code, with the lowest few ids."""

    legacy_table: str
    outcome: str
    reason_code: str
    rows: int
    example_ids: tuple[int, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "legacy_table": self.legacy_table,
            "outcome": self.outcome,
            "reason_code": self.reason_code,
            "rows": self.rows,
            "example_legacy_ids": list(self.example_ids),
        }


@dataclass(frozen=True)
class StageTiming:
    seconds: float
    rows: int
    rows_meaning: str
    # The process's resident-memory high-water mark when the stage ended (dbt runs in this process too).
    peak_rss_mib: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            "seconds": round(self.seconds, 3),
            "rows": self.rows,
            "rows_meaning": self.rows_meaning,
            "rows_per_second": round(self.rows_per_second),
            "peak_rss_mib": round(self.peak_rss_mib, 1),
        }


def peak_rss_mib() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def reason_counts(conn: Connection) -> list[ReasonCount]:
    """Rejected, merged and repaired (warning) rows per legacy table and reason, with up to 5 example ids."""
    found: list[ReasonCount] = []
    for name in QUARANTINE_TABLES:
        source: TableClause = quarantine(name)
        keys = (source.c.legacy_table, source.c.outcome, source.c.reason_code)
        # Each reason numbered first, so the examples are ranked within a number: sorting a few hundred
        # thousand (integer, id) pairs costs a third of sorting them under three text keys.
        groups = select(*keys, func.count().label("rows"), func.row_number().over().label("number")).group_by(*keys)
        numbered = groups.cte("reasons")
        ranked = (
            select(
                numbered.c.number,
                source.c.legacy_id,
                func.row_number().over(partition_by=numbered.c.number, order_by=source.c.legacy_id).label("rank"),
            )
            .join_from(source, numbered, and_(*(key == numbered.c[key.name] for key in keys)))
            .subquery("ranked")
        )
        examples = (
            select(ranked.c.number, func.array_agg(ranked.c.legacy_id).label("ids"))
            .where(ranked.c.rank <= EXAMPLES)
            .group_by(ranked.c.number)
            .subquery("examples")
        )
        rows = conn.execute(
            select(numbered.c.legacy_table, numbered.c.outcome, numbered.c.reason_code, numbered.c.rows, examples.c.ids)
            .join_from(numbered, examples, examples.c.number == numbered.c.number)
            .order_by(numbered.c.legacy_table, numbered.c.outcome, numbered.c.rows.desc(), numbered.c.reason_code)
        )
        for row in rows:
            # The subqueries' columns are untyped (object): the row as the plain tuple it is.
            legacy_table, outcome, reason_code, n, ids = cast("tuple[Any, ...]", row)
            found.append(
                ReasonCount(str(legacy_table), str(outcome), str(reason_code), int(n), tuple(sorted(ids or ())))
            )
    return found


# Accumulated while the run goes (mutable on purpose), frozen into JSON and Markdown when it ends.
@dataclass
class RunReport:
    command: str
    dry_run: bool = False
    delete_policy: str = "delete"
    max_reject_share: dict[str, float] = field(default_factory=dict)
    run_id: int | None = None
    status: RunStatus = "running"
    error: str | None = None
    max_change_share: float | None = None
    allow_mass_change: bool = False
    abandoned_runs: list[int] = field(default_factory=list)
    # What differs between the legacy tables and the documented contract (wider columns, other types).
    legacy_notes: list[str] = field(default_factory=list)
    # The Alembic revisions this run applied to the target ("0004 -> 0005"), if any.
    schema_upgrade: str | None = None
    rows_read: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    reasons: list[ReasonCount] = field(default_factory=list)
    # The first few raw values of each reject and warning reason, ranked, as the report shows them.
    unrecognised: list[RawValueCount] = field(default_factory=list)
    # Every one of them, written as they were read (UNRECOGNISED_CSV's content, in a hidden file of the report's
    # folder until the report is written).
    unrecognised_csv: Path | None = None
    # Every per-row correction and what became of it (applied, stale, unparseable).
    corrections: list[CorrectionOutcome] = field(default_factory=list)
    stages: dict[str, StageTiming] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    published: PublishResult | None = None
    # The published runs before this one (from migration_runs), once this run's reasons are known; None before.
    earlier_runs: list[RunCounts] | None = None

    def set_outcomes(self, rejected: dict[str, dict[str, int]]) -> None:
        """Migrated = read - merged - rejected: the conservation gate checks that the marts agree."""
        for legacy_table in LEGACY_TABLE_MARTS:
            counts = rejected.get(legacy_table, {})
            merged, dropped = counts.get("merged", 0), counts.get("rejected", 0)
            read = self.rows_read.get(legacy_table, 0)
            self.outcomes[legacy_table] = {"migrated": read - merged - dropped, "merged": merged, "rejected": dropped}

    def reason_history(self) -> ReasonHistory | None:
        """This run's rows per reason beside the earlier runs'; a plan's column is marked planned."""
        if self.earlier_runs is None or self.run_id is None:
            return None
        counts = (((r.legacy_table, r.outcome, r.reason_code), r.rows) for r in self.reasons)
        status = "planned" if self.dry_run else self.status
        return ReasonHistory.of(self.earlier_runs, self.run_id, status, counts)

    def as_json(self) -> dict[str, Any]:
        published = self.published
        return {
            "run_id": self.run_id,
            "command": self.command,
            "status": self.status,
            "dry_run": self.dry_run,
            "delete_policy": self.delete_policy,
            "max_reject_share": self.max_reject_share,
            "error": self.error,
            "abandoned_runs_closed": self.abandoned_runs,
            "max_change_share": self.max_change_share,
            "allow_mass_change": self.allow_mass_change,
            "legacy_notes": self.legacy_notes,
            "schema_upgrade": self.schema_upgrade,
            "rows_read": self.rows_read,
            "outcomes": self.outcomes,
            "reasons": [reason.as_json() for reason in self.reasons],
            "unrecognised_top": [value.as_json() for value in top_values(self.unrecognised)],
            "corrections": [correction.as_json() for correction in self.corrections],
            "stages": {name: timing.as_json() for name, timing in self.stages.items()},
            "seconds": {name: round(timing.seconds, 3) for name, timing in self.stages.items()},
            "gates": [gate.as_json() for gate in self.gates],
            "gates_passed": bool(self.gates) and all(gate.passed for gate in self.gates),
            "rows_written": published.written if published else {},
            "rows_deleted": published.deleted if published else {},
            "rows_kept_missing": published.kept if published else {},
            "bulk_tables": list(published.bulk_tables) if published else [],
            "ledger_rows": published.ledger_rows if published else 0,
            "keep_runs": published.keep_runs if published else None,
            "ledger_partitions_dropped": len(published.ledger_partitions_dropped) if published else 0,
            "ledger_partitions_dropped_names": list(published.ledger_partitions_dropped) if published else [],
        }


def _markdown(report: RunReport) -> str:
    data = report.as_json()
    plan = " (plan: nothing published)" if report.dry_run else ""
    lines = [
        f"# Migration report — run {report.run_id} ({report.command}){plan}",
        "",
        f"- status: **{report.status}**",
        f"- delete policy: `{report.delete_policy}`",
    ]
    if report.max_reject_share:
        lines.append(
            "- error budget (max rejected share): "
            + ", ".join(f"{table} {share:.0%}" for table, share in report.max_reject_share.items())
        )
    if report.max_change_share is not None:
        allowed = ", allowed beyond it by --allow-mass-change" if report.allow_mass_change else ""
        lines.append(
            f"- mass-change limit (share of a table one run may shrink, delete or rewrite): "
            f"{report.max_change_share:.0%}{allowed}"
        )
    for note in report.legacy_notes:
        lines.append(f"- legacy schema: {note}")
    if report.error:
        lines.append(f"- error: {report.error}")
    if report.abandoned_runs:
        lines.append(f"- runs found abandoned and closed as failed: {', '.join(map(str, report.abandoned_runs))}")
    if report.run_id is not None:
        lines += [
            "",
            "Look the run up in the database:",
            "",
            "```sql",
            f"select * from migration_runs where run_id = {report.run_id};",
            "select legacy_table, legacy_id, outcome, reason_code, column_name, raw_value, merged_into_legacy_id",
            f"from migration_ledger where run_id = {report.run_id} order by legacy_table, legacy_id;",
            "```",
        ]
    if report.rows_read:
        lines += [
            "",
            "## Legacy rows",
            "",
            "| legacy table | read | migrated | merged | rejected |",
            "|---|---:|---:|---:|---:|",
        ]
        for legacy_table, read in report.rows_read.items():
            counts = report.outcomes.get(legacy_table, {})
            lines.append(
                f"| {legacy_table} | {read} | {counts.get('migrated', '')} | {counts.get('merged', '')} | "
                f"{counts.get('rejected', '')} |"
            )
    if report.reasons:
        lines += [
            "",
            "## By reason",
            "",
            "Rejected and merged rows are not migrated; warnings are migrated rows with a repair.",
            "",
            "| legacy table | outcome | reason | rows | example legacy ids |",
            "|---|---|---|---:|---|",
        ]
        for reason in report.reasons:
            ids = ", ".join(map(str, reason.example_ids))
            lines.append(f"| {reason.legacy_table} | {reason.outcome} | {reason.reason_code} | {reason.rows} | {ids} |")
    if history := report.reason_history():
        lines += ["", *history.markdown()]
    lines += _unrecognised_markdown(report.unrecognised)
    lines += corrections_markdown(report.corrections)
    if report.gates:
        lines += ["", "## Gates", "", "| gate | subject | result | detail |", "|---|---|---|---|"]
        for gate in report.gates:
            verdict = "pass" if gate.passed else "**FAIL**"
            lines.append(f"| {gate.gate} | {gate.subject} | {verdict} | {gate.detail.replace('|', '/')} |")
    if report.published:
        verb = "to write" if report.dry_run else "written"
        lines += [
            "",
            "## Target tables",
            "",
            f"| table | rows {verb} (inserted or changed) | deleted | kept (legacy row gone or no longer migrating) |",
            "|---|---:|---:|---:|",
        ]
        for target_table, written in report.published.written.items():
            lines.append(
                f"| {target_table} | {written} | {report.published.deleted.get(target_table, 0)} | "
                f"{report.published.kept.get(target_table, 0)} |"
            )
        lines.append("")
        lines.append(f"Ledger rows appended (rejects, merges, warnings, corrections): {report.published.ledger_rows}.")
        dropped = report.published.ledger_partitions_dropped
        lines.append(
            f"Ledger partitions {'to drop' if report.dry_run else 'dropped'}, older than the last "
            f"{report.published.keep_runs} published runs: {len(dropped)}"
            + (f" ({', '.join(dropped)})." if dropped else ".")
        )
        if report.published.bulk_tables:
            lines.append(
                "Written on the bulk path (empty before; keys rebuilt and validated in the transaction): "
                + ", ".join(report.published.bulk_tables)
                + "."
            )
    if report.stages:
        lines += [
            "",
            "## Stages",
            "",
            "| stage | seconds | rows | rows/s | peak memory (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, timing in data["stages"].items():
            lines.append(
                f"| {name} | {timing['seconds']:.2f} | {timing['rows']} ({timing['rows_meaning']}) | "
                f"{timing['rows_per_second']:,} | {timing['peak_rss_mib']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def _cell(value: str | None) -> str:
    return "(null)" if value is None else "`" + value.replace("|", "/").replace("`", "'").replace("\n", " ") + "`"


def _unrecognised_markdown(values: list[RawValueCount]) -> list[str]:
    """The top raw values of each reject and warning reason, with suggestions where a mapping seed could learn them."""
    if not values:
        return []
    lines = [
        "",
        "## What was not understood",
        "",
        f"The raw values of each reject and warning reason, most rows first (all of them: {UNRECOGNISED_CSV}). "
        "A suggestion is the nearest value of the mapping seed by fuzzy score: not applied; approve it with "
        "`python -m loader review`.",
        "",
        "| legacy table | reason | column | rank | raw value | rows | share | example legacy ids | suggestion |",
        "|---|---|---|---:|---|---:|---:|---|---|",
    ]
    for value in top_values(values):
        suggestion = value.suggestion
        suggested = (
            f"suggestion: {suggestion.seed} `{suggestion.spelling}` -> `{suggestion.value}` "
            f"(score {suggestion.score:.0f})"
            if suggestion
            else ""
        )
        lines.append(
            f"| {value.legacy_table} | {value.reason_code} | {value.column_name or ''} | {value.rank} | "
            f"{_cell(value.raw_value)} | {value.rows} | {value.share:.1%} | "
            f"{', '.join(map(str, value.example_ids))} | {suggested.replace('|', '/')} |"
        )
    return lines


def _write_atomically(path: Path, content: str) -> None:
    """Write next to the file, then rename: a killed run never leaves half a report."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as handle:
        handle.write(content)
        temporary = Path(handle.name)
    # A temporary file is private (0600); the report is an ordinary file that others may read.
    temporary.chmod(0o644)
    temporary.replace(path)


def write_report(report: RunReport, folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    markdown, as_json = folder / f"{REPORT_NAME}.md", folder / f"{REPORT_NAME}.json"
    data = report.as_json()
    # In the report, not in the run's summary: the summaries are what the history is read from.
    history = report.reason_history()
    if history:
        data["reason_history"] = history.as_json()
    try:
        _write_atomically(as_json, json.dumps(data, indent=2, default=str) + "\n")
        _write_atomically(markdown, _markdown(report))
    finally:
        # The CSV, written while the run classified its rows, is put in place whatever becomes of the rest.
        if report.unrecognised_csv is not None and report.unrecognised_csv.exists():
            report.unrecognised_csv.chmod(0o644)
            report.unrecognised_csv = report.unrecognised_csv.replace(folder / UNRECOGNISED_CSV)
    if history:
        # Last: the figures are in the JSON and the Markdown already, whatever becomes of the plot.
        plot(history, folder / PLOT_NAME)
    return markdown, as_json


def write_unrecognised(conn: Connection, report: RunReport, folder: Path) -> None:
    """Every raw value of every reason into a hidden file of the report's folder, streamed from the server (a
    large database has millions), which write_report puts in place as UNRECOGNISED_CSV; the report keeps the
    first few of each reason. A folder that cannot be written costs the CSV, with a warning, not the run."""
    report.unrecognised, report.unrecognised_csv = [], None
    temporary: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # What a killed run left behind.
        for stale in folder.glob(f".{UNRECOGNISED_CSV}.*"):
            stale.unlink(missing_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, prefix=f".{UNRECOGNISED_CSV}.", delete=False, newline="", encoding="utf-8"
        ) as handle:
            temporary = Path(handle.name)
            written, report.unrecognised = write_unrecognised_csv(conn, handle, top=TOP_VALUES)
    except OSError as exc:
        logger.warning("could not write %s in %s: %s", UNRECOGNISED_CSV, folder, exc)
    except BaseException:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise
    else:
        if written:
            report.unrecognised_csv = temporary
            return
    if temporary is not None:
        temporary.unlink(missing_ok=True)
