"""dbt in the loader's own process, against a real server: its sessions end with the loader, an interrupt cancels
its queries, its failures end in one line that names the failing node and the database's own words, and it keeps
its console to itself (its log and partial-parse file stay in their folders)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import pytest
from dbt_common.exceptions import DbtRuntimeError

from loader.transform.dbt import NodeResult, failed_nodes_message, failure_message
from tests.support.databases import PROJECT_ROOT, Databases, run_module
from tests.support.helpers import count
from tests.support.processes import pipeline_sessions

DBT_STARTS_WITHIN = 120
# How long the server may take to notice a killed client whose session waits on a lock (dbt's sessions check
# every 2 s: PGOPTIONS in loader/transform/dbt.py).
SESSIONS_END_WITHIN = 15
# The relation every test here holds a lock on, so that dbt, which must replace it, waits in mid-build.
HELD_MART = "dbt_marts.orders"


def _dbt_sessions(databases: Databases, *, waiting: bool = False) -> int:
    """dbt's sessions on the target (`waiting`: those waiting on a lock)."""
    query = "select count(*) from pg_stat_activity where datname = %s and application_name = 'dbt'" + (
        " and wait_event_type = 'Lock'" if waiting else ""
    )
    with databases.server.admin() as conn:
        return count(conn, query, databases.new_name)


def _wait_for_dbt_sessions(databases: Databases, loader: subprocess.Popen[str], *, waiting: bool = False) -> None:
    """Until dbt has a session on the target (`waiting`: one waiting on a lock): then it is building models, not
    still starting up."""
    deadline = time.monotonic() + DBT_STARTS_WITHIN
    while time.monotonic() < deadline:
        if _dbt_sessions(databases, waiting=waiting):
            return
        if loader.poll() is not None:
            out, err = loader.communicate()
            raise AssertionError(f"the loader ended (exit {loader.returncode}) before dbt connected:\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError("dbt never connected to the target")


def _until_no_sessions_of_dbt(databases: Databases) -> int:
    deadline = time.monotonic() + SESSIONS_END_WITHIN
    while (left := _dbt_sessions(databases)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def _loader(databases: Databases, *args: str, sigint: bool = False) -> subprocess.Popen[str]:
    """`python -m loader …`; with `sigint`, SIGINT is restored to its default first (a background job ignores it,
    and so would the loader, which inherits that)."""
    return subprocess.Popen(
        [sys.executable, "-m", "loader", *args],
        cwd=PROJECT_ROOT,
        env=databases.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=(lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)) if sigint else None,
    )


def _error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def _mart_state(databases: Databases) -> tuple[int, list[str]]:
    """The held mart's oid (a rebuilt table has a new one) and dbt's leftovers of it, if any. Only the held mart's:
    a mart built beside it on dbt's other thread may commit its swap just before the kill, which is a finished
    model, and leave its backup for the next build to drop."""
    schema, _, name = HELD_MART.partition(".")
    with databases.new() as conn:
        oid = count(conn, "select %s::regclass::oid::bigint", HELD_MART)
        leftovers = [
            str(relname)
            for (relname,) in conn.execute(
                "select relname from pg_class where relnamespace = %s::regnamespace and relname in (%s, %s)",
                (schema, f"{name}__dbt_tmp", f"{name}__dbt_backup"),
            )
        ]
    return oid, leftovers


@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_killed_loader_ends_dbts_sessions_and_swaps_nothing_in(migrated: Databases, sent: signal.Signals) -> None:
    """What the OOM killer (SIGKILL) or a service manager (SIGTERM) does: the loader dies with dbt inside it, and
    the server ends dbt's sessions, even one waiting on a lock, rather than let it build on for nobody."""
    before = _mart_state(migrated)
    with migrated.new() as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HELD_MART} in access share mode")
        with _loader(migrated, "transform") as loader:
            try:
                _wait_for_dbt_sessions(migrated, loader, waiting=True)
                loader.send_signal(sent)
                loader.communicate(timeout=60)
                assert loader.returncode == -sent
                left = _until_no_sessions_of_dbt(migrated)
            finally:
                holder.execute("rollback")
    assert left == 0, "dbt's sessions outlived the loader"
    with migrated.server.admin() as conn:
        assert pipeline_sessions(conn) == 0
    assert _mart_state(migrated) == before, "a killed transform swapped a table in, or left one behind"


def test_an_interrupted_loader_cancels_dbts_queries_and_says_so_in_one_line(migrated: Databases) -> None:
    """Ctrl-C: dbt cancels its running queries (one is waiting on a lock that is never released here), the loader
    then ends with one line, and nothing was swapped in."""
    before = _mart_state(migrated)
    with migrated.new() as holder:
        holder.execute("begin")
        holder.execute(f"lock table {HELD_MART} in access share mode")
        # SIGINT as a terminal sends it, even when this test runs where it is ignored (a background job).
        loader = _loader(migrated, "transform", sigint=True)
        try:
            _wait_for_dbt_sessions(migrated, loader, waiting=True)
            loader.send_signal(signal.SIGINT)
            # The lock is still held: the loader can only end if dbt's waiting query was cancelled.
            _, stderr = loader.communicate(timeout=60)
            waiting_after = _dbt_sessions(migrated, waiting=True)
        finally:
            # Release dbt before anything waits for the loader, whatever happened above.
            holder.execute("rollback")
            if loader.poll() is None:
                loader.kill()
                loader.communicate()
    assert loader.returncode == 130
    assert _error_line(stderr).startswith("error: interrupted")
    assert waiting_after == 0
    assert _until_no_sessions_of_dbt(migrated) == 0
    assert _mart_state(migrated) == before
    with migrated.new() as conn:
        assert conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone() == ("failed",)


def test_a_database_error_names_the_node_and_the_databases_own_message(migrated: Databases) -> None:
    with migrated.new() as conn:
        conn.execute(
            "alter table staging.old_orders rename column product_name_redundant to product_name_redundant_renamed"
        )
    result = run_module("loader", "transform", env=migrated.env(), check=False)
    assert result.returncode == 2
    assert result.stdout == ""
    line = _error_line(result.stderr)
    # The first node to fail is one of the model's unit tests, which read the same column; either names the model.
    assert line.startswith("error: dbt build failed at "), line
    assert "stg_legacy__orders: column legacy.product_name_redundant does not exist" in line, line
    assert "skipped" in line and line.endswith("nothing was published")
    assert str(migrated.scratch / "dbt_logs" / "dbt.log") in line


def test_dbt_keeps_its_console_and_log_to_itself_and_parses_partially_the_second_time(migrated: Databases) -> None:
    """stdout holds the summary alone, stderr nothing (no progress bar off a terminal); dbt's log and artefacts
    stay in their folders; the second build reads the first one's partial-parse file; -v shows dbt's output."""
    # A dbt target folder of the test's own, not the session's: the first build must find no partial-parse file.
    env = migrated.env(DBT_TARGET_PATH=str(migrated.scratch / "dbt_target"))
    first = run_module("loader", "transform", env=env)
    assert first.stdout.startswith("dbt build passed: ") and first.stdout.count("\n") == 1, first.stdout
    assert first.stderr == ""
    assert (migrated.scratch / "dbt_target" / "partial_parse.msgpack").exists()
    log = migrated.scratch / "dbt_logs" / "dbt.log"
    assert "Starting full parse" in log.read_text()

    second = run_module("loader", "transform", "-v", env=env)
    # The same build, but the unit tests, which passed in the first (test_unit_tests_run_again_only_when_…).
    assert second.stdout == re.sub(r", \d+ unit_tests", "", first.stdout) != first.stdout
    assert " INFO dbt: Running with dbt=" in second.stderr and " START " in second.stderr, second.stderr[-2000:]
    # The log of the second invocation: dbt writes a separator line before each.
    last = log.read_text().rpartition("=" * 30 + " ")[2]
    assert "Partial parsing enabled" in last and "Starting full parse" not in last


def test_unit_tests_run_again_only_when_the_vars_the_staged_columns_or_the_record_change(migrated: Databases) -> None:
    """The unit tests prove the rules on this server once; the next builds leave them out and say so, until the
    vars or the staged columns change (or the record is deleted)."""
    target = migrated.scratch / "own_dbt_target"
    env = migrated.env(DBT_TARGET_PATH=str(target))

    def unit_tests_run(*options: str) -> tuple[int, str]:
        result = run_module("loader", "transform", "-v", *options, env=env)
        nodes = json.loads((target / "run_results.json").read_text())["results"]
        return sum(node["unique_id"].startswith("unit_test.") for node in nodes), result.stderr

    first, said = unit_tests_run()
    assert first > 5 and "unit tests left out" not in said
    again, said = unit_tests_run()
    assert again == 0 and "dbt unit tests left out" in said, said[-2000:]
    assert unit_tests_run("--strict-dates")[0] == first
    assert unit_tests_run("--strict-dates")[0] == 0
    with migrated.new() as conn:
        conn.execute("alter table staging.old_orders add column gift text")
    assert unit_tests_run()[0] == first
    (target / "unit_tests_passed.json").unlink()
    assert unit_tests_run()[0] == first


def _terminate(databases: Databases, application_name: str | None = None) -> list[str]:
    """End the target's sessions (those of one name, or all), as a server restart or an administrator does;
    return the names of those ended."""
    # In the select list, not the where clause: only the rows that pass every condition are terminated.
    query = (
        "select application_name, pg_terminate_backend(pid) from pg_stat_activity "
        "where datname = %s and pid <> pg_backend_pid() and (%s::text is null or application_name = %s)"
    )
    with databases.server.admin() as conn:
        rows = conn.execute(query, (databases.new_name, application_name, application_name)).fetchall()
    return [str(name) for name, _ in rows]


def test_every_session_ended_mid_run_surfaces_as_the_runs_own_error_not_the_locks(migrated: Databases) -> None:
    """What a server restart does to its clients: every session, the lock's too, ends `terminating connection`.

    The staging is broken too, so the run fails however far dbt got: the error must be dbt's, not the unlock's.
    """
    with migrated.new() as conn:
        conn.execute(
            "alter table staging.old_orders rename column product_name_redundant to product_name_redundant_renamed"
        )
    with _loader(migrated, "transform") as loader:
        _wait_for_dbt_sessions(migrated, loader)
        assert f"legacy-migrate transform (pid {loader.pid})" in _terminate(migrated)
        _, stderr = loader.communicate(timeout=120)
    assert loader.returncode == 2
    line = _error_line(stderr)
    assert line.startswith("error: dbt build failed"), line
    with migrated.new() as conn:
        assert conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone() == ("failed",)


def test_a_run_whose_lock_session_was_terminated_publishes_nothing(migrated: Databases) -> None:
    """The lock's session ends while dbt runs; the run notices (RunLock.ensure_held) before it commits."""
    with migrated.new() as conn:
        published_before = count(conn, "select count(*) from migration_runs where status = 'published'")
    with _loader(migrated, "migrate") as loader:
        _wait_for_dbt_sessions(migrated, loader)
        lock_session = f"legacy-migrate migrate (pid {loader.pid})"
        assert _terminate(migrated, lock_session) == [lock_session]
        _, stderr = loader.communicate(timeout=120)
    line = _error_line(stderr)
    assert "the run lock on " in line and " was lost (" in line and "nothing was committed" in line, line
    with migrated.new() as conn:
        assert count(conn, "select count(*) from migration_runs where status = 'published'") == published_before


@pytest.mark.parametrize(
    ("results", "expected"),
    [
        ([NodeResult("model.p.a", "success")], None),
        (
            [
                NodeResult("seed.p.s", "success"),
                NodeResult(
                    "model.p.stg_x",
                    "error",
                    "Database Error in model stg_x (models/stg_x.sql)\n  invalid input syntax for type "
                    'integer: "abc"\n  compiled code at target/run/x.sql',
                ),
                NodeResult("test.p.not_null_x_id.3f2a", "fail", "Got 2 results"),
                NodeResult("model.p.y", "skipped"),
            ],
            'at model stg_x: invalid input syntax for type integer: "abc" (1 more failed, 1 skipped)',
        ),
        (
            [NodeResult("test.p.not_null_x_id.3f2a", "fail", "Got 2 results, configured")],
            "at test not_null_x_id: Got 2 results, configured",
        ),
        (
            [
                NodeResult(
                    "unit_test.p.stg_x.parses_dates",
                    "error",
                    "Runtime Error in unit_test parses_dates (models/_m.yml)\n  An error occurred during "
                    "execution of unit test 'parses_dates'.\n   Database Error\n    column source.q does not exist\n"
                    "    LINE 221:         source.q,",
                )
            ],
            "at unit test parses_dates of stg_x: column source.q does not exist",
        ),
    ],
)
def test_the_first_failing_node_and_its_cause_are_read_from_dbts_results(
    results: list[NodeResult], expected: str | None
) -> None:
    assert failed_nodes_message(results) == expected


def test_a_dbt_that_failed_before_any_node_is_quoted_or_said_to_have_said_nothing() -> None:
    said = failure_message("dbt build", [], DbtRuntimeError("Could not find profile named 'x'"), consequence="x")
    assert said.startswith("dbt build failed: Runtime Error: Could not find profile named 'x'; dbt's log: "), said
    unexpected = failure_message("dbt build", [], ValueError("bad\nvalue"), consequence="x")
    assert "dbt build failed: ValueError: bad: value; " in unexpected
    assert "failed with no message; dbt's log: " in failure_message("dbt build", [], None, consequence="x")
