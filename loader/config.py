"""Where the legacy and target databases are: `.env`, the environment, or the embedded server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv import dotenv_values
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OLD_DB_NAME = "old_bad_db"
DEFAULT_NEW_DB_NAME = "new_good_db"
DRIVER = "postgresql+psycopg"

Side = Literal["OLD", "NEW"]
Origin = Literal["url", "parts", "embedded"]


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which one and what to do."""


@dataclass(frozen=True)
class Database:
    """One database the pipeline talks to, and where its address came from."""

    side: Side
    url: URL
    origin: Origin

    @property
    def name(self) -> str:
        return self.url.database or ""

    @property
    def port(self) -> int:
        """The server's port: in the URL's address, else its query (`?host=/socket/dir&port=5433`, checked to
        be a number when the URL was read), else 5432."""
        in_query = self.url.query.get("port")
        return self.url.port or (int(in_query) if isinstance(in_query, str) else 5432)

    def libpq_url(self) -> str:
        """The URL in the form psql and psycopg accept, password included (never print it)."""
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def display_url(self) -> str:
        """The URL without its password, safe for logs, errors and `make db-urls`; psql opens it as it is."""
        url = self.url.set(drivername="postgresql", password=None)
        socket_dir = url.query.get("host")
        if url.host is None and isinstance(socket_dir, str):
            # A Unix-socket server (the embedded one): write the folder plainly rather than %-escaped.
            return f"postgresql://{url.username or ''}@/{url.database}?host={socket_dir}&port={self.port}"
        return url.render_as_string()

    def describe(self) -> str:
        """A short 'where' for error messages: database name and host, never the password."""
        host = self.url.host or self.url.query.get("host") or "local socket"
        return f"{self.name} on {host}:{self.port}"

    def dbt_env(self) -> dict[str, str]:
        """The NEW_DB_* variables that `profiles.yml` reads, derived from the resolved URL."""
        host = self.url.host or str(self.url.query.get("host") or "localhost")
        return {
            "NEW_DB_HOST": host,
            "NEW_DB_PORT": str(self.port),
            "NEW_DB_USER": self.url.username or "postgres",
            "NEW_DB_PASSWORD": self.url.password or "",
            "NEW_DB_NAME": self.name,
        }


@dataclass(frozen=True)
class Settings:
    old: Database
    new: Database

    @property
    def uses_embedded(self) -> bool:
        return "embedded" in (self.old.origin, self.new.origin)


def _read_env(env_file: Path) -> dict[str, str]:
    """`.env` values overlaid by the process environment, which wins (as python-dotenv's default)."""
    values = {k: v for k, v in dotenv_values(env_file).items() if v is not None} if env_file.exists() else {}
    values.update(os.environ)
    return values


def _from_env(side: Side, env: dict[str, str]) -> Database | None:
    whole = env.get(f"{side}_DATABASE_URL", "").strip()
    if whole:
        try:
            url = make_url(whole)
        except (ArgumentError, ValueError):
            raise ConfigError(
                f"{side}_DATABASE_URL is not a valid database URL: "
                f"write it as postgresql://user:password@host:5432/dbname"
            ) from None
        if not url.drivername.startswith("postgresql"):
            raise ConfigError(f"{side}_DATABASE_URL must be a postgresql:// URL, not {url.drivername}://")
        if not url.database:
            raise ConfigError(f"{side}_DATABASE_URL names no database: add /dbname at its end")
        query_port = url.query.get("port")
        if query_port is not None and not (isinstance(query_port, str) and query_port.isdigit()):
            raise ConfigError(f"{side}_DATABASE_URL has a port that is not a number: {query_port!r}")
        return Database(side, url.set(drivername=DRIVER), "url")

    parts = {key: env.get(f"{side}_DB_{key}", "").strip() for key in ("USER", "PASSWORD", "HOST", "PORT", "NAME")}
    if not parts["HOST"]:
        if any(parts.values()):
            set_names = ", ".join(f"{side}_DB_{k}" for k, v in parts.items() if v)
            raise ConfigError(
                f"{set_names} set but {side}_DB_HOST is not: set {side}_DB_HOST too, "
                f"or remove the {side}_DB_* lines to use the embedded server"
            )
        return None
    port = parts["PORT"] or "5432"
    if not port.isdigit():
        raise ConfigError(f"{side}_DB_PORT must be a number, got {port!r}")
    default_name = DEFAULT_OLD_DB_NAME if side == "OLD" else DEFAULT_NEW_DB_NAME
    url = URL.create(
        DRIVER,
        username=parts["USER"] or None,
        password=parts["PASSWORD"] or None,
        host=parts["HOST"],
        port=int(port),
        database=parts["NAME"] or default_name,
    )
    return Database(side, url, "parts")


def env_file_path() -> Path:
    """`.env` in the project, unless LEGACY_MIGRATE_ENV_FILE names another file."""
    return Path(os.environ.get("LEGACY_MIGRATE_ENV_FILE") or PROJECT_ROOT / ".env")


def read_environment() -> dict[str, str]:
    return _read_env(env_file_path())


def load_settings() -> Settings:
    """Resolve both databases; a side with nothing configured runs on the embedded server."""
    env = read_environment()
    old = _from_env("OLD", env)
    new = _from_env("NEW", env)
    if old is None or new is None:
        from loader.embedded import embedded_url

        base = embedded_url(env)
        if old is None:
            old = Database("OLD", base.set(database=DEFAULT_OLD_DB_NAME), "embedded")
        if new is None:
            new = Database("NEW", base.set(database=DEFAULT_NEW_DB_NAME), "embedded")
    if old.url.set(password=None) == new.url.set(password=None):
        raise ConfigError(
            f"the legacy and target settings name the same database ({old.display_url()}): "
            "the target must be a different database"
        )
    return Settings(old=old, new=new)
