"""Progress across runs: the report's rows per reason over the last runs, as a table, in the JSON and as a PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
from matplotlib import image

from loader.runs.history import (
    HISTORY_RUNS,
    PLOT_NAME,
    PLOTTED_REASONS,
    ReasonHistory,
    RunCounts,
    plot,
    plotted_reasons,
)
from tests.support.databases import Databases, run_module

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_report(folder: Path) -> tuple[dict[str, Any], str]:
    return json.loads((folder / "migration_report.json").read_text()), (folder / "migration_report.md").read_text()


def history_row(markdown: str, legacy_table: str, outcome: str, reason_code: str) -> list[str]:
    """The cells of one reason's row in the Markdown progress table."""
    section = markdown.split("## Progress across runs", 1)[1]
    prefix = f"| {legacy_table} | {outcome} | {reason_code} |"
    (line,) = [line for line in section.splitlines() if line.startswith(prefix)]
    return [cell.strip() for cell in line[len(prefix) :].strip(" |").split("|")]


def assert_a_real_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 10_000  # a drawn figure, not an empty canvas
    height, width, _ = image.imread(path).shape
    assert width >= 800 and height >= 500


def rejected_orders_with_one_entry(conn: psycopg.Connection, run_id: int) -> tuple[str, list[int]]:
    """The old_orders reject reason with the most rows, and its legacy ids whose only ledger entry it is."""
    rows = conn.execute(
        "with entries as (select legacy_id, count(*) over (partition by legacy_id) as n, reason_code, outcome "
        "from migration_ledger where run_id = %s and legacy_table = 'old_orders') "
        "select reason_code, array_agg(legacy_id order by legacy_id) from entries "
        "where outcome = 'rejected' and n = 1 group by reason_code order by count(*) desc limit 1",
        (run_id,),
    ).fetchone()
    assert rows is not None
    return rows[0], rows[1]


def test_reruns_after_legacy_fixes_show_a_reasons_rows_falling_run_by_run_and_a_plan_as_planned(
    migrated: Databases,
) -> None:
    env, folder = migrated.env(), migrated.scratch / "reports"
    with migrated.new() as conn:
        first = conn.execute("select max(run_id) from migration_runs where status = 'published'").fetchone()
        assert first is not None
        reason, ids = rejected_orders_with_one_entry(conn, first[0])
    assert len(ids) >= 3, (reason, ids)
    # Between runs the legacy application loses one of these rejected orders, then two more.
    for removed in (ids[:1], ids[1:3]):
        with migrated.old() as legacy:
            legacy.execute("delete from old_orders where id = any(%s)", (removed,))
        run_module("loader", "migrate", env=env)
    report, markdown = read_report(folder)
    history = report["reason_history"]
    run_ids = [run["run_id"] for run in history["runs"]]
    assert run_ids[0] == first[0] and run_ids == sorted(run_ids) and run_ids[-1] == report["run_id"]
    assert [run["status"] for run in history["runs"]] == ["published"] * 3
    series = {(r["legacy_table"], r["outcome"], r["reason_code"]): r["rows"] for r in history["reasons"]}
    falling = series.pop(("old_orders", "rejected", reason))
    assert falling[1:] == [falling[0] - 1, falling[0] - 3]
    # This run's column is this run's "By reason" counts; no other reason moved.
    assert falling[-1] == next(r["rows"] for r in report["reasons"] if r["reason_code"] == reason)
    assert series and all(rows[0] == rows[1] == rows[2] for rows in series.values()), series
    assert history_row(markdown, "old_orders", "rejected", reason) == [str(rows) for rows in falling]
    assert f"| run {run_ids[0]} | run {run_ids[1]} | run {run_ids[2]} (this run) |" in markdown
    assert_a_real_png(folder / PLOT_NAME)

    # A plan adds its own column, marked planned, and is not a published run the next report would show.
    (folder / PLOT_NAME).unlink()
    run_module("loader", "migrate", "--dry-run", env=env)
    report, markdown = read_report(folder)
    runs = report["reason_history"]["runs"]
    assert [(run["run_id"], run["status"]) for run in runs[:-1]] == [(run_id, "published") for run_id in run_ids]
    assert runs[-1] == {"run_id": report["run_id"], "status": "planned", "this_run": True}
    assert history_row(markdown, "old_orders", "rejected", reason) == [*map(str, falling), str(falling[-1])]
    assert f"run {report['run_id']} (planned, this run) |" in markdown
    assert_a_real_png(folder / PLOT_NAME)


def test_a_first_migration_shows_only_its_own_column(migrated_template: Databases) -> None:
    report, markdown = read_report(migrated_template.scratch / "reports")
    history = report["reason_history"]
    assert history["runs"] == [{"run_id": report["run_id"], "status": "published", "this_run": True}]
    assert sorted(r["rows"] for r in history["reasons"]) == sorted([r["rows"]] for r in report["reasons"])
    assert "this run only: no published run before it" in markdown
    assert_a_real_png(migrated_template.scratch / "reports" / PLOT_NAME)


def test_the_table_has_a_row_per_reason_and_a_column_per_run_oldest_first_zero_where_a_run_had_none() -> None:
    user, status = ("old_orders", "rejected", "user_not_found"), ("old_orders", "rejected", "status_unknown")
    merged = ("old_users", "merged", "duplicate_email")
    earlier = [
        RunCounts(2, "published", {user: 40, status: 7}),
        RunCounts(3, "published", {user: 31, status: 7, merged: 2}),
    ]
    history = ReasonHistory.of(earlier, 5, "planned", [(user, 30), (merged, 2)])

    assert history.markdown()[4:] == [
        "| legacy table | outcome | reason | run 2 | run 3 | run 5 (planned, this run) |",
        "|---|---|---|---:|---:|---:|",
        "| old_orders | rejected | user_not_found | 40 | 31 | 30 |",
        "| old_orders | rejected | status_unknown | 7 | 7 | 0 |",
        "| old_users | merged | duplicate_email | 0 | 2 | 2 |",
    ]
    assert f"up to {HISTORY_RUNS} runs (oldest first)" in history.markdown()[2]


def test_only_the_last_runs_are_kept_and_the_plot_draws_the_top_reject_reasons(tmp_path: Path) -> None:
    reasons = [("old_orders", "rejected", f"reason_{n:02}") for n in range(PLOTTED_REASONS + 4)]
    warning = ("old_orders", "warning", "currency_assumed")
    earlier = [
        RunCounts(run_id, "published", {warning: 500, **{key: n + run_id for n, key in enumerate(reasons)}})
        for run_id in range(9)
    ]
    history = ReasonHistory.of(earlier, 20, "published", [(reasons[0], 1), (warning, 500)])

    assert [run.run_id for run in history.runs] == [*range(9 - (HISTORY_RUNS - 1), 9), 20]
    # reason_11 has the most rows in the runs shown, reasons 00 to 03 the fewest: left out, as the warning is.
    assert plotted_reasons(history) == reasons[::-1][:PLOTTED_REASONS]
    plot(history, tmp_path / PLOT_NAME)
    assert_a_real_png(tmp_path / PLOT_NAME)
    assert list(tmp_path.iterdir()) == [tmp_path / PLOT_NAME]  # no temporary file left behind
