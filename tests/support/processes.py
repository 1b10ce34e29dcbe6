"""Pipeline processes as another session sees them: started, waited for, blocked on a lock, counted."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import psycopg

from loader.core.contract import LEGACY_TABLES
from tests.support.databases import PROJECT_ROOT, Databases
from tests.support.helpers import count


def staging_fingerprints(databases: Databases) -> dict[str, str]:
    with databases.new() as conn:
        return {table: table_fingerprint(conn, f"staging.{table}") for table in LEGACY_TABLES}


def start_module(databases: Databases, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=PROJECT_ROOT,
        env=databases.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the process ended (exit {process.returncode}) before {what}:\n{out}\n{err}")
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.1)


def blocked_on_lock(conn: psycopg.Connection, query_start: str) -> int | None:
    """The server pid of a session waiting on a lock while running a statement that starts so, if any."""
    row = conn.execute(
        "select pid from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' "
        "and query ilike %s",
        (query_start + "%",),
    ).fetchone()
    return int(row[0]) if row else None


def pipeline_sessions(conn: psycopg.Connection) -> int:
    """Server sessions the pipeline opened (it names them all `legacy-migrate …`), on any database."""
    return count(conn, "select count(*) from pg_stat_activity where application_name like 'legacy-migrate%%'")


def table_fingerprint(conn: psycopg.Connection, relation: str) -> str:
    """One hash of every row's text, in id order: equal for two tables holding the same rows and values."""
    query = f"select md5(coalesce(string_agg(t::text, ',' order by t.id), '')) from {relation} as t"
    row = conn.execute(query).fetchone()
    assert row is not None
    return str(row[0])


def legacy_fingerprints(databases: Databases) -> dict[str, str]:
    with databases.old() as conn:
        return {table: table_fingerprint(conn, table) for table in LEGACY_TABLES}
