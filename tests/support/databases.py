"""The test databases: one embedded server per session, a fresh legacy/target pair per test, modules run as
the user runs them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psycopg

from loader.core.contract import PROJECT_ROOT


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
    # dbt's artefacts: the session's folder for the tests' pairs (see conftest.py), else one in scratch.
    dbt_target: Path | None = None

    @property
    def old_url(self) -> str:
        return self.server.url(self.old_name)

    @property
    def new_url(self) -> str:
        return self.server.url(self.new_name)

    def env(self, **overrides: str) -> dict[str, str]:
        """The environment a pipeline command sees: these databases, no .env, no stray settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OLD_", "NEW_", "DASK_"))}
        env.update(
            OLD_DATABASE_URL=self.old_url,
            NEW_DATABASE_URL=self.new_url,
            LEGACY_MIGRATE_ENV_FILE=os.devnull,
            DBT_SEND_ANONYMOUS_USAGE_STATS="false",
            # dbt's artefacts per session and its logs per test, so parallel runs never share dbt_project/target.
            DBT_TARGET_PATH=str(self.dbt_target or self.scratch / "dbt_target"),
            DBT_LOG_PATH=str(self.scratch / "dbt_logs"),
            # The run report too, so no test writes into the project's reports/.
            LEGACY_MIGRATE_REPORT_DIR=str(self.scratch / "reports"),
            # And the per-row corrections: none unless a test writes some here, whatever corrections/ holds.
            CORRECTIONS_DIR=str(self.corrections_dir),
        )
        env.update(overrides)
        return env

    @property
    def corrections_dir(self) -> Path:
        """This pair's corrections folder (CORRECTIONS_DIR in env()), created empty on first use."""
        folder = self.scratch / "corrections"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def old(self) -> psycopg.Connection:
        return psycopg.connect(self.old_url, autocommit=True)

    def seed(self, *args: str) -> None:
        """Fill the legacy database with generated data, naming it as the seeder asks of a configured database."""
        run_module("seeder", "--configured-database", self.old_name, *args, env=self.env())

    def new(self) -> psycopg.Connection:
        return psycopg.connect(self.new_url, autocommit=True)


# Rows the seeder never writes, added to the template's legacy database: a value that looks like SQL, an order
# that names nobody (rejected), and a second account with the same e-mail address (merged).
SQL_LOOKING = "'); drop table users; --"


def run_module(
    module: str,
    *args: str,
    env: dict[str, str],
    check: bool = True,
    project: Path = PROJECT_ROOT,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m <module> …` from the project root (or a copy_project) as a person would, and capture what it
    prints."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def copy_project(destination: Path) -> Path:
    """A copy of the project's code, dbt project and migrations, for a test that changes files of the project (the
    review loop appends to the mapping seeds): run_module(..., project=copy) runs the copy's loader on the copy's
    files, and the tests that run beside it (pytest-xdist) keep reading the project's own. The copy needs its own
    DBT_TARGET_PATH: dbt's partial-parse file names the project's folder."""
    skipped = shutil.ignore_patterns("__pycache__", "target", "logs", "dbt_packages", "reports")
    for name in ("loader", "dbt_project", "alembic", "corrections"):
        shutil.copytree(PROJECT_ROOT / name, destination / name, ignore=skipped)
    for name in ("alembic.ini", "pyproject.toml"):
        shutil.copy2(PROJECT_ROOT / name, destination / name)
    return destination
