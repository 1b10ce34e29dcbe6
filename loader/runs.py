"""The runs table and the run lock: one pipeline run at a time per target database, each one on record.

Every command that writes to the target (stage, transform, publish, migrate) first takes a session-level
PostgreSQL advisory lock on the target database and holds it until it ends, so two runs never interleave
their stage, transform or publish. The lock lives in the server: a run that is killed loses its connection
and with it the lock, and the next run to take the lock closes the killed run's `running` row as failed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from sqlalchemy import Connection, Engine, func, insert, update

from loader.cli_errors import PipelineError
from loader.config import Database
from loader.db import connect
from loader.models import MigrationRun, table_of

runs = table_of(MigrationRun)

Command = Literal["migrate", "stage", "transform", "publish"]
# Advisory locks are per database, keyed by two int4s: the project's key, then which lock.
LOCK_CLASS = 0x1E6AC7
RUN_LOCK = 1
# Taken by publish() for its transaction, so a publish that is called directly (as the benchmark does)
# never overlaps another one either.
PUBLISH_LOCK = 2
ABANDONED = "abandoned: the run ended without closing its record (killed, or its connection was lost)"


class RunLockHeld(PipelineError):
    """Another run holds the run lock on the target database."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds the run lock, as far as the server can tell."""

    pid: int
    application_name: str
    since: str

    def describe(self) -> str:
        return f"{self.application_name or 'a session'} (server pid {self.pid}, since {self.since})"


def lock_holder(conn: psycopg.Connection[Any], objid: int) -> LockHolder | None:
    row = conn.execute(
        """
        select activity.pid, activity.application_name, to_char(activity.backend_start, 'YYYY-MM-DD HH24:MI:SS')
        from pg_locks as locks
        inner join pg_stat_activity as activity on activity.pid = locks.pid
        where locks.locktype = 'advisory' and locks.granted
            and locks.database = (select oid from pg_database where datname = current_database())
            and locks.classid = %s and locks.objid = %s and locks.objsubid = 2
        limit 1
        """,
        (LOCK_CLASS, objid),
    ).fetchone()
    return LockHolder(int(row[0]), str(row[1] or ""), str(row[2])) if row else None


@contextmanager
def run_lock(database: Database, command: Command, *, wait: bool) -> Iterator[None]:
    """Hold the run lock on the target database for the block; without `wait`, fail at once if it is taken."""
    application_name = f"legacy-migrate {command} (pid {os.getpid()})"
    with connect(database, autocommit=True, application_name=application_name) as conn:
        taken = conn.execute("select pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, RUN_LOCK)).fetchone()
        if not (taken and taken[0]):
            holder = lock_holder(conn, RUN_LOCK)
            who = holder.describe() if holder else "another session"
            if not wait:
                raise RunLockHeld(
                    f"another run is using the target database {database.describe()}: {who}; wait for it to "
                    "finish, or run again with --wait (make … WAIT=1) to queue behind it"
                )
            print(f"waiting for {who} to finish its run on {database.describe()} …", file=sys.stderr, flush=True)
            conn.execute("select pg_advisory_lock(%s, %s)", (LOCK_CLASS, RUN_LOCK))
        try:
            yield
        finally:
            # Closing the connection would release it too; unlocking says so, and keeps the pool-free order plain.
            if not conn.closed:
                conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_CLASS, RUN_LOCK))


def close_abandoned_runs(engine: Engine) -> list[int]:
    """Mark `running` rows failed: called with the run lock held, when no other run can be alive."""
    with engine.begin() as conn:
        rows = conn.execute(
            update(runs)
            .where(runs.c.status == "running")
            .values(
                status="failed",
                finished_at=func.clock_timestamp(),
                summary=func.coalesce(runs.c.summary, func.jsonb_build_object()).op("||")(
                    func.jsonb_build_object("error", ABANDONED)
                ),
            )
            .returning(runs.c.run_id)
        )
        return sorted(int(run_id) for (run_id,) in rows)


def start_run(engine: Engine, command: Command = "migrate") -> int:
    """Record a new run as running, in its own committed transaction, and return its id."""
    with engine.begin() as conn:
        return int(
            conn.execute(insert(runs).values(status="running", command=command).returning(runs.c.run_id)).scalar_one()
        )


def finish_run(conn: Connection, run_id: int, status: str, summary: dict[str, Any]) -> None:
    """Close a run within the caller's transaction, so a published run and its data commit together."""
    conn.execute(
        update(runs)
        .where(runs.c.run_id == run_id)
        .values(status=status, finished_at=func.clock_timestamp(), summary=summary)
    )
