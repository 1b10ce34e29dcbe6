"""dbt as a child process, against a real server: it dies with the loader, and its failures end in one line
that names the failing node and the database's own words."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loader.transform.dbt import DbtRun, failed_nodes_message, failure_message
from tests.support.databases import PROJECT_ROOT, Databases, run_module
from tests.support.helpers import count

DBT_STARTS_WITHIN = 120


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name, in parentheses, may hold spaces: the fields after its last `)` are fixed.
    return int(stat.rpartition(")")[2].split()[1])


def _alive(pid: int) -> bool:
    """Running, not merely a zombie waiting for whoever adopted it to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _dbt_child(parent: int) -> int:
    """The pid of the `dbt build` that `parent` started, once it is there."""
    deadline = time.monotonic() + DBT_STARTS_WITHIN
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or _parent_of(int(entry.name)) != parent:
                continue
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if any(part.endswith(b"/dbt") or part == b"dbt" for part in command) and b"build" in command:
                return int(entry.name)
        time.sleep(0.1)
    raise AssertionError(f"no dbt build started by pid {parent} within {DBT_STARTS_WITHIN}s")


def _wait_for_dbt_sessions(databases: Databases, *, waiting: bool = False) -> None:
    """Until dbt has a session on the target (`waiting`: one waiting on a lock): then it is building models, not
    still starting up."""
    deadline = time.monotonic() + DBT_STARTS_WITHIN
    query = "select count(*) from pg_stat_activity where datname = %s and application_name = 'dbt'" + (
        " and wait_event_type = 'Lock'" if waiting else ""
    )
    with databases.server.admin() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(query, (databases.new_name,)).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)
    raise AssertionError("dbt never connected to the target")


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


def test_dbt_dies_with_the_python_process_that_started_it(migrated: Databases) -> None:
    with _loader(migrated, "transform") as loader:
        dbt = _dbt_child(loader.pid)
        _wait_for_dbt_sessions(migrated)
        # What the OOM killer does: SIGKILL to the Python process alone, no chance to clean up.
        loader.kill()
        loader.communicate()
    deadline = time.monotonic() + 5
    while _alive(dbt) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(dbt), "dbt outlived the loader that started it"


def test_an_interrupted_loader_stops_dbt_before_it_exits(migrated: Databases) -> None:
    """Ctrl-C reaches the loader alone (dbt has its own process group): it stops dbt, then says so."""
    # A session reading a mart keeps dbt, which must replace it, in the middle of its build, however fast the
    # machine (the loader itself reads no mart before dbt is done).
    with migrated.new() as holder:
        holder.execute("begin")
        holder.execute("lock table dbt_marts.orders in access share mode")
        # SIGINT as a terminal sends it, even when this test runs where it is ignored (a background job).
        loader = _loader(migrated, "transform", sigint=True)
        try:
            dbt = _dbt_child(loader.pid)
            _wait_for_dbt_sessions(migrated, waiting=True)
            loader.send_signal(signal.SIGINT)
            _, stderr = loader.communicate(timeout=60)
        finally:
            # Release dbt before anything waits for the loader, whatever happened above.
            holder.execute("rollback")
            if loader.poll() is None:
                loader.kill()
                loader.communicate()
    assert not _alive(dbt)
    assert loader.returncode == 130
    assert _error_line(stderr).startswith("error: interrupted")


def test_a_dbt_killed_by_a_signal_says_so_and_where_its_log_is(migrated: Databases) -> None:
    with _loader(migrated, "transform") as loader:
        os.kill(_dbt_child(loader.pid), signal.SIGKILL)
        _, stderr = loader.communicate(timeout=60)
    assert loader.returncode == 2
    line = _error_line(stderr)
    assert "dbt build was killed by signal 9 (SIGKILL)" in line, line
    assert str(migrated.scratch / "dbt_logs" / "dbt.log") in line
    assert "lines above" not in line and line.endswith("nothing was published")


def test_a_database_error_names_the_node_and_the_databases_own_message(migrated: Databases) -> None:
    with migrated.new() as conn:
        conn.execute("alter table staging.old_orders rename column quantity to quantity_renamed")
    result = run_module("loader", "transform", env=migrated.env(), check=False)
    assert result.returncode == 2
    line = _error_line(result.stderr)
    # The first node to fail is one of the model's unit tests, which read the same column; either names the model.
    assert line.startswith("error: dbt build failed at "), line
    assert "stg_legacy__orders: column source.quantity does not exist" in line, line
    assert "skipped" in line and line.endswith("nothing was published")


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
        conn.execute("alter table staging.old_orders rename column quantity to quantity_renamed")
    with _loader(migrated, "transform") as loader:
        _dbt_child(loader.pid)
        _wait_for_dbt_sessions(migrated)
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
        _dbt_child(loader.pid)
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
        ([{"unique_id": "model.p.a", "status": "success"}], None),
        (
            [
                {"unique_id": "seed.p.s", "status": "success"},
                {
                    "unique_id": "model.p.stg_x",
                    "status": "error",
                    "message": "Database Error in model stg_x (models/stg_x.sql)\n  invalid input syntax for type "
                    'integer: "abc"\n  compiled code at target/run/x.sql',
                },
                {"unique_id": "test.p.not_null_x_id.3f2a", "status": "fail", "message": "Got 2 results"},
                {"unique_id": "model.p.y", "status": "skipped"},
            ],
            'at model stg_x: invalid input syntax for type integer: "abc" (1 more failed, 1 skipped)',
        ),
        (
            [{"unique_id": "test.p.not_null_x_id.3f2a", "status": "fail", "message": "Got 2 results, configured"}],
            "at test not_null_x_id: Got 2 results, configured",
        ),
        (
            [
                {
                    "unique_id": "unit_test.p.stg_x.parses_dates",
                    "status": "error",
                    "message": "Runtime Error in unit_test parses_dates (models/_m.yml)\n  An error occurred during "
                    "execution of unit test 'parses_dates'.\n   Database Error\n    column source.q does not exist\n"
                    "    LINE 221:         source.q,",
                }
            ],
            "at unit test parses_dates of stg_x: column source.q does not exist",
        ),
    ],
)
def test_the_first_failing_node_and_its_cause_are_read_from_dbts_results(
    results: list[dict[str, str]], expected: str | None
) -> None:
    assert failed_nodes_message(results) == expected


def test_a_dbt_that_failed_before_any_node_is_quoted_or_said_to_have_said_nothing() -> None:
    said = DbtRun(2, "12:00:00  Encountered an error:\nRuntime Error\n  Could not find profile named 'x'\n")
    assert "dbt build failed: Runtime Error: Could not find profile named 'x';" in failure_message(said, None)
    assert "exited with code 3 with no message; dbt's log: " in failure_message(DbtRun(3, ""), None)
