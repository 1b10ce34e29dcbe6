"""The runs table: one row per pipeline run, with when it started and ended, how, and its counts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, func, insert, update

from loader.models import MigrationRun

runs = MigrationRun.__table__


def start_run(engine: Engine) -> int:
    """Record a new run as running, in its own committed transaction, and return its id."""
    with engine.begin() as conn:
        return int(conn.execute(insert(runs).values(status="running").returning(runs.c.run_id)).scalar_one())


def finish_run(conn: Connection, run_id: int, status: str, summary: dict[str, Any]) -> None:
    """Close a run within the caller's transaction, so a published run and its data commit together."""
    conn.execute(
        update(runs)
        .where(runs.c.run_id == run_id)
        .values(status=status, finished_at=func.clock_timestamp(), summary=summary)
    )
