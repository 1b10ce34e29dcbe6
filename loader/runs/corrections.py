"""What became of each per-row correction in the last transform, for the run report (rule C2)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, text

from loader.core.contract import CORRECTION_REASONS, CORRECTIONS_TABLE, QUARANTINE_SCHEMA

_STATUS_OF_REASON = {code: status for status, code in CORRECTION_REASONS.items()}


@dataclass(frozen=True)
class CorrectionOutcome:
    """One correction as written (file and line) and what the transform made of it."""

    # Where the correction is written: from its evidence, which a transform always writes (None if it did not).
    source_file: str | None
    line: int | None
    legacy_table: str
    legacy_id: int
    column_name: str
    status: str
    raw_value: str | None
    corrected_value: str | None
    # What the legacy row holds now, where the correction is stale because the row changed.
    legacy_value: str | None
    # Staged rows with the correction's id, where it is stale: 0 (gone) or 2 and more (the id repeats).
    legacy_rows: int | None
    author: str
    note: str

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.source_file,
            "line": self.line,
            "legacy_table": self.legacy_table,
            "legacy_id": self.legacy_id,
            "column": self.column_name,
            "status": self.status,
            "raw_value": self.raw_value,
            "corrected_value": self.corrected_value,
            "legacy_value": self.legacy_value,
            "legacy_rows": self.legacy_rows,
            "author": self.author,
            "note": self.note,
        }


def correction_outcomes(conn: Connection) -> list[CorrectionOutcome]:
    """Every correction of the quarantine the last transform built, by file and line; none before one ran."""
    relation = f"{QUARANTINE_SCHEMA}.{CORRECTIONS_TABLE}"
    if conn.execute(text("select to_regclass(:name) is null"), {"name": relation}).scalar_one():
        return []
    rows = conn.execute(
        text(
            "select evidence ->> 'file', (evidence ->> 'line')::int, legacy_table, legacy_id, column_name, "
            "reason_code, raw_value, evidence ->> 'corrected_value', evidence ->> 'legacy_value', "
            "(evidence ->> 'legacy_rows')::int, evidence ->> 'author', evidence ->> 'note' "
            f"from {relation} order by 1, 2"
        )
    )
    found = []
    for row in rows:
        file, line, table, legacy_id, column, reason, raw, corrected, now, rows, author, note = cast(
            "tuple[Any, ...]", row
        )
        found.append(
            CorrectionOutcome(
                None if file is None else str(file),
                None if line is None else int(line),
                str(table),
                int(legacy_id),
                str(column),
                _STATUS_OF_REASON.get(str(reason), str(reason)),
                None if raw is None else str(raw),
                None if corrected is None else str(corrected),
                None if now is None else str(now),
                None if rows is None else int(rows),
                str(author or ""),
                str(note or ""),
            )
        )
    return found


def _shown(value: str | None) -> str:
    """A value in a Markdown table cell, as a code span: `|` escaped (GitHub's tables read it inside code too), a
    line end shown as \\n or \\r (the JSON report holds every value exactly)."""
    if value is None:
        return "(null)"
    shown = value.replace("|", "\\|").replace("\r", "\\r").replace("\n", "\\n")
    # A code span fenced by more backticks than the value holds in a row shows the value whole.
    fence = "`" * (max((len(run) for run in re.findall("`+", shown)), default=0) + 1)
    return f"{fence} {shown} {fence}" if "`" in shown else f"`{shown}`"


def corrections_markdown(corrections: list[CorrectionOutcome]) -> list[str]:
    """The report's section: how many corrections applied, and each one that did not, with why."""
    if not corrections:
        return []
    counts = {status: sum(c.status == status for c in corrections) for status in CORRECTION_REASONS}
    lines = [
        "",
        "## Corrections",
        "",
        f"{len(corrections)} per-row corrections: "
        + ", ".join(f"{n} {status}" for status, n in counts.items())
        + ". A stale or unparseable one changed nothing; mend it in its file (docs/review-loop.md).",
    ]
    refused = [c for c in corrections if c.status != "applied"]
    if refused:
        lines += [
            "",
            "| file:line | legacy row | column | status | raw value named | legacy value now | corrected value |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in refused:
            now = ""
            if c.status == "stale":
                now = {0: "(no such row)", 1: _shown(c.legacy_value)}.get(c.legacy_rows or 0, "(the id repeats)")
            lines.append(
                f"| {c.source_file or '?'}:{c.line or '?'} | {c.legacy_table} {c.legacy_id} | {c.column_name} | "
                f"{c.status} | {_shown(c.raw_value)} | {now} | {_shown(c.corrected_value)} |"
            )
    return lines
