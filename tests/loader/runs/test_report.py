"""The run report: every run writes reports/migration_report.md and .json, plan mode included."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from loader.core.contract import LEGACY_TABLES
from tests.support.databases import PROJECT_ROOT, Databases, run_module
from tests.support.helpers import count, target_fingerprints


def read_report(databases: Databases) -> tuple[dict[str, Any], str]:
    folder = databases.scratch / "reports"
    return json.loads((folder / "migration_report.json").read_text()), (folder / "migration_report.md").read_text()


def test_a_migration_reports_rows_by_outcome_and_reason_timings_gates_and_its_run_id(
    migrated_template: Databases,
) -> None:
    # The template's own `loader migrate` wrote this report into the template's folder.
    report, markdown = read_report(migrated_template)
    with migrated_template.new() as conn:
        row = conn.execute("select run_id from migration_runs order by run_id").fetchone()
        assert row is not None
        run_id = row[0]
        with migrated_template.old() as legacy:
            read = {table: count(legacy, f"select count(*) from {table}") for table in LEGACY_TABLES}

    assert (report["run_id"], report["status"], report["command"]) == (run_id, "published", "migrate")
    assert report["rows_read"] == read
    for table in LEGACY_TABLES:
        outcomes = report["outcomes"][table]
        assert outcomes["migrated"] + outcomes["merged"] + outcomes["rejected"] == read[table]
    reasons = {(r["legacy_table"], r["outcome"], r["reason_code"]): r for r in report["reasons"]}
    with migrated_template.new() as conn:
        lowest = conn.execute(
            "select legacy_id from migration_ledger where run_id = %s and reason_code = 'user_not_found' "
            "order by legacy_id limit 5",
            (run_id,),
        ).fetchall()
    nobody = reasons[("old_orders", "rejected", "user_not_found")]
    assert nobody["example_legacy_ids"] == [legacy_id for (legacy_id,) in lowest]
    rejected_by_reason = sum(r["rows"] for (t, o, _), r in reasons.items() if t == "old_orders" and o == "rejected")
    assert rejected_by_reason == report["outcomes"]["old_orders"]["rejected"]
    for stage in ("stage", "transform", "publish"):
        timing = report["stages"][stage]
        assert timing["seconds"] > 0 and timing["rows"] > 0 and timing["rows_per_second"] > 0, stage
        assert timing["peak_rss_mib"] > 0
    assert report["gates_passed"] and {gate["gate"] for gate in report["gates"]} == {
        "conservation",
        "error budget",
        "reconciliation",
    }
    assert f"# Migration report — run {run_id} (migrate)" in markdown
    assert f"where run_id = {run_id}" in markdown
    for section in ("## Legacy rows", "## By reason", "## Gates", "## Target tables", "## Stages"):
        assert section in markdown
    assert "user_not_found" in markdown


def test_plan_mode_runs_up_to_the_gates_writes_the_report_and_publishes_nothing(pending: Databases) -> None:
    with pending.new() as conn:
        before = target_fingerprints(conn)
        ledger_before = count(conn, "select count(*) from migration_ledger")

    result = run_module("loader", "migrate", "--dry-run", env=pending.env())

    assert "planned (nothing published)" in result.stdout and "that would be written" in result.stdout
    with pending.new() as conn:
        assert target_fingerprints(conn) == before
        assert count(conn, "select count(*) from migration_ledger") == ledger_before
        status = conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone()
    assert status == ("planned",)
    report, markdown = read_report(pending)
    assert report["status"] == "planned" and report["dry_run"] and report["gates_passed"]
    assert report["rows_written"]["orders"] > 0 and report["rows_deleted"]["orders"] > 0
    assert "(plan: nothing published)" in markdown and "rows to write" in markdown


def test_make_migrate_plan_passes_the_dry_run_and_the_options() -> None:
    make = shutil.which("make")
    assert make is not None
    dry = subprocess.run(
        # --no-print-directory: under `make test` this make is a sub-make, which would print directory lines.
        [
            make,
            "-n",
            "--no-print-directory",
            "migrate",
            "PLAN=1",
            "ON_MISSING=keep",
            "MAX_REJECT_SHARE=0.2",
            "WAIT=1",
            "ENGINE=pandas",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    command = dry.stdout.strip().splitlines()[-1].split()
    expected = "-m loader migrate --wait --dry-run --on-missing keep --max-reject-share 0.2 --engine pandas"
    assert command[-len(expected.split()) :] == expected.split()


def test_a_run_refused_by_a_bad_option_says_so_in_one_line_and_writes_no_report(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "loader", "publish", "--max-reject-share", "1.5"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"LEGACY_MIGRATE_REPORT_DIR": str(tmp_path), "LEGACY_MIGRATE_ENV_FILE": "/dev/null"},
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: python -m loader publish: argument --max-reject-share: '1.5' is not between 0 and 1 (0% and 100%) "
        "(see --help)"
    ]
    assert not list(tmp_path.iterdir())
