"""The run lock holds for the whole run, against a real server: idle timeouts, a terminated session (the ends of
a run whose sessions all end mid-way, as in a server restart, are in test_transform_process.py)."""

from __future__ import annotations

import time

import psycopg
import pytest
from psycopg import sql
from sqlalchemy.engine import make_url

from loader.core.config import DRIVER, Database
from loader.runs.lock import RunLock, RunLockLost, run_lock
from tests.support.databases import Databases, run_module


def _target(databases: Databases) -> Database:
    return Database("NEW", make_url(databases.new_url).set(drivername=DRIVER), "url")


def _terminate(conn: psycopg.Connection, application_name: str) -> int:
    """End the sessions of that name, as an administrator (or the server going down) would; return how many."""
    rows = conn.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity where application_name = %s", (application_name,)
    ).fetchall()
    return len(rows)


@pytest.fixture
def target(databases: Databases) -> Database:
    return _target(databases)


def test_the_lock_session_turns_the_idle_timeouts_off_for_itself(databases: Databases, target: Database) -> None:
    with databases.new() as conn:
        conn.execute(sql.SQL("alter database {} set idle_session_timeout = '1s'").format(sql.Identifier(target.name)))
        conn.execute(
            sql.SQL("alter database {} set idle_in_transaction_session_timeout = '1s'").format(
                sql.Identifier(target.name)
            )
        )
    with run_lock(target, "migrate", wait=False) as lock:
        time.sleep(2.5)
        lock.ensure_held()


def test_a_terminated_lock_session_is_noticed_before_commit_and_its_unlock_stays_quiet(target: Database) -> None:
    with run_lock(target, "migrate", wait=False) as lock:
        lock.ensure_held()
        assert lock.application_name.startswith("legacy-migrate migrate (pid ")
        with psycopg.connect(target.libpq_url(), autocommit=True) as other:
            assert _terminate(other, lock.application_name) == 1
            # The lock went with the session: another run can take it now, which is why the first must stop.
            with run_lock(target, "stage", wait=False) as second:
                second.ensure_held()
        with pytest.raises(RunLockLost, match=r"the run lock on .* was lost \(its session ended: .*nothing was commit"):
            lock.ensure_held()
    # Leaving the block did not raise: a run that had succeeded would still report success.


def test_a_lost_lock_session_does_not_hide_the_error_the_run_failed_with(target: Database) -> None:
    class RealFailure(Exception):
        pass

    with pytest.raises(RealFailure), run_lock(target, "publish", wait=False) as lock:
        with psycopg.connect(target.libpq_url(), autocommit=True) as other:
            _terminate(other, lock.application_name)
        raise RealFailure("the step's own error")


def test_a_lock_released_by_its_session_is_noticed(target: Database) -> None:
    lock: RunLock
    with run_lock(target, "transform", wait=False) as lock:
        lock.release()
        with pytest.raises(RunLockLost, match="its session no longer holds it"):
            lock.ensure_held()


def test_a_run_longer_than_the_servers_idle_session_timeout_publishes_and_reports_success(migrated: Databases) -> None:
    with migrated.new() as conn:
        conn.execute(
            sql.SQL("alter database {} set idle_session_timeout = '1s'").format(sql.Identifier(migrated.new_name))
        )
    started = time.monotonic()
    result = run_module("loader", "migrate", env=migrated.env(), check=False)
    assert time.monotonic() - started > 3, "the run must outlast the timeout for this test to mean anything"
    assert result.returncode == 0, result.stdout + result.stderr
    assert ": published" in result.stdout
    with migrated.new() as conn:
        row = conn.execute("select status from migration_runs order by run_id desc limit 1").fetchone()
    assert row == ("published",)
