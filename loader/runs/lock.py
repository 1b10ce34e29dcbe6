"""The runs table and the run lock: one pipeline run at a time per target database, each one on record.

Every command that writes to the target (stage, transform, publish, migrate) first takes a session-level
PostgreSQL advisory lock on the target database and holds it until it ends, so two runs never interleave
their stage, transform or publish. The lock lives in the server: a run that is killed loses its connection
and with it the lock, and the next run to take the lock closes the killed run's `running` row as failed.

The lock's session is idle while the run works, so it turns the server's idle timeouts off for itself; should
it end all the same (terminated, a server restart), `RunLock.ensure_held()` says so before anything commits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, func, insert, update

from loader.core.config import Database
from loader.core.contract import LOCK_CLASS, RUN_LOCK
from loader.core.db import connect
from loader.core.errors import PipelineError, first_line
from loader.core.models import MigrationRun, RunCommand, RunStatus, table_of

runs = table_of(MigrationRun)
logger = logging.getLogger(__name__)

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


# The lock's session is idle for the whole run: like every session of the pipeline it has no statement or idle
# timeout (loader.core.db.SESSION_SETTINGS; a run is not a forgotten session), and waiting on the lock with --wait
# is asked for, so no lock timeout either. TCP keepalives keep a NAT or firewall from dropping the quiet connection.
# Each setting with the server_version_num it appeared in.
LOCK_SESSION_SETTINGS = (("lock_timeout", 90300),)


class RunLockLost(PipelineError):
    """The run lock's session ended, or no longer holds the lock: another run may be under way."""


class RunLock:
    """The run lock, held by one dedicated session for the whole run."""

    def __init__(self, conn: psycopg.Connection[Any], database: Database, application_name: str) -> None:
        self._conn = conn
        self.database = database
        self.application_name = application_name
        # The server process of the lock's session: the one pg_terminate_backend would name.
        self.backend_pid = conn.info.backend_pid

    def ensure_held(self) -> None:
        """Check, on the lock's own session, that it is alive and still holds the lock; raise RunLockLost if not.

        Call it between steps and immediately before a commit: a run whose lock was lost may have another run
        beside it by now, and must not publish.
        """
        try:
            row = self._conn.execute(
                """
                select count(*) from pg_locks
                where pid = pg_backend_pid() and locktype = 'advisory' and granted
                    and database = (select oid from pg_database where datname = current_database())
                    and classid = %s and objid = %s and objsubid = 2
                """,
                (LOCK_CLASS, RUN_LOCK),
            ).fetchone()
        except psycopg.Error as exc:
            raise self._lost(f"its session ended: {first_line(exc)}") from exc
        if not (row and row[0]):
            raise self._lost("its session no longer holds it")

    def _lost(self, why: str) -> RunLockLost:
        return RunLockLost(
            f"the run lock on {self.database.describe()} was lost ({why}); another run may have started: "
            "nothing was committed"
        )

    def release(self) -> None:
        """Unlock, best effort: a session that is gone has released the lock with it, so its error is no news."""
        if self._conn.closed or self._conn.broken:
            return
        try:
            self._conn.execute("select pg_advisory_unlock(%s, %s)", (LOCK_CLASS, RUN_LOCK))
        except psycopg.Error as exc:
            # Raised here it would turn a published run into a failure, or hide the error the run failed with.
            # Info, not a warning: the CLI's failures are one line on stderr, and this changes no outcome.
            logger.info("the run lock's session ended before its unlock (%s); the server released the lock", exc)


def _keep_session_alive(conn: psycopg.Connection[Any]) -> None:
    version = conn.info.server_version
    for setting, since in LOCK_SESSION_SETTINGS:
        if version >= since:
            conn.execute("select set_config(%s, '0', false)", (setting,))


@contextmanager
def run_lock(database: Database, command: RunCommand, *, wait: bool) -> Iterator[RunLock]:
    """Hold the run lock on the target database for the block; without `wait`, fail at once if it is taken.

    The block gets the RunLock, whose `ensure_held()` the pipeline calls between steps and before committing.
    """
    application_name = f"legacy-migrate {command} (pid {os.getpid()})"
    # closing(), not the connection's own `with`: that one commits on the way out, which raises on a lost session.
    with closing(connect(database, autocommit=True, application_name=application_name)) as conn:
        _keep_session_alive(conn)
        taken = conn.execute("select pg_try_advisory_lock(%s, %s)", (LOCK_CLASS, RUN_LOCK)).fetchone()
        if not (taken and taken[0]):
            holder = lock_holder(conn, RUN_LOCK)
            who = holder.describe() if holder else "another session"
            if not wait:
                raise RunLockHeld(
                    f"another run is using the target database {database.describe()}: {who}; wait for it to "
                    "finish, or run again with --wait (make … WAIT=1) to queue behind it"
                )
            # A warning, so it shows at the default verbosity: the person must know why nothing moves.
            logger.warning("waiting for %s to finish its run on %s …", who, database.describe())
            conn.execute("select pg_advisory_lock(%s, %s)", (LOCK_CLASS, RUN_LOCK))
        lock = RunLock(conn, database, application_name)
        try:
            yield lock
        finally:
            # Closing the connection would release it too; unlocking says so, and keeps the pool-free order plain.
            lock.release()


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
        return sorted(int(row[0]) for row in rows)


def start_run(engine: Engine, command: RunCommand = "migrate") -> int:
    """Record a new run as running, in its own committed transaction, and return its id."""
    with engine.begin() as conn:
        return int(
            conn.execute(insert(runs).values(status="running", command=command).returning(runs.c.run_id)).scalar_one()
        )


def finish_run(conn: Connection, run_id: int, status: RunStatus, summary: dict[str, Any]) -> None:
    """Close a run within the caller's transaction, so a published run and its data commit together."""
    conn.execute(
        update(runs)
        .where(runs.c.run_id == run_id)
        .values(status=status, finished_at=func.clock_timestamp(), summary=summary)
    )
