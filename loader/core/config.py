"""Where the legacy and target databases are: `.env`, the environment, or the embedded server."""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

from dotenv import dotenv_values
from dotenv.parser import parse_stream
from psycopg import pq
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from loader.core.contract import (
    CORRECTIONS_DIR,
    DEFAULT_NEW_DB_NAME,
    DEFAULT_OLD_DB_NAME,
    DRIVER,
    PROJECT_ROOT,
    SEEDS_DIR,
)
from loader.core.embedded import embedded_url
from loader.core.errors import ConfigError

# The currencies rule M2 reads (dbt_project/scripts/currency_names.py writes it): LEGACY_CURRENCY must be one.
CURRENCY_SEED = SEEDS_DIR / "currency_names.csv"
ENV_FILE_VARIABLE = "LEGACY_MIGRATE_ENV_FILE"
# `OLD_DATABASE_URL=embedded`: this side runs on the embedded server, said out loud (see `load_settings`).
EMBEDDED: Final = "embedded"

Side = Literal["OLD", "NEW"]
Origin = Literal["url", "parts", "embedded"]
SIDES: tuple[Side, Side] = ("OLD", "NEW")
ROLE: dict[Side, str] = {"OLD": "legacy", "NEW": "target"}
PARTS = ("USER", "PASSWORD", "HOST", "PORT", "NAME")
# The dask engine's settings (loader.transform.dask_engine). DASK_SCHEDULER_ADDRESS is also dask's own.
DASK_KEYS = frozenset({"DASK_SCHEDULER_ADDRESS", "DASK_WORKERS", "DASK_PARTITION_ROWS", "DASK_WORKER_MEMORY"})
DEFAULT_WORKERS = 2
DEFAULT_PARTITION_ROWS = 100_000
DEFAULT_WORKER_MEMORY = "2GiB"
_MEMORY = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([kmgt]i?b|b)", re.IGNORECASE)
_MEMORY_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_MEMORY_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
# What a dask worker needs to start (it imports pandas, pyarrow and the engine) and hold a partition.
MIN_WORKER_MEMORY = 256 * 2**20
KNOWN_KEYS = frozenset(
    {f"{side}_{key}" for side in SIDES for key in ("DATABASE_URL", *(f"DB_{p}" for p in PARTS))}
    | {"OLD_DB_SCHEMA", "LEGACY_CURRENCY", "CORRECTIONS_DIR"}
    | DASK_KEYS
    # The project's own switches (loader.core.embedded, loader.runs.report, loader.core.cli and this module read them).
    | {"LEGACY_MIGRATE_ENV_FILE", "LEGACY_MIGRATE_PGDATA", "LEGACY_MIGRATE_REPORT_DIR", "LEGACY_MIGRATE_DEBUG"}
)
# The key at the start of a line python-dotenv could not parse: named in the error, the value never is.
_LINE_KEY = re.compile(r"\s*(?:export\s+)?['\"]?([A-Za-z_][A-Za-z0-9_]*)")
# What a shell or a .env loader takes for a variable name (python-dotenv takes anything up to `=` or a space).
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
# A plain SQL identifier needs no quotes in a message; anything else (a space, a quote) is shown quoted.
_PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_$]*")


def _quoted(name: str) -> str:
    return name if _PLAIN_NAME.fullmatch(name) else '"' + name.replace('"', '""') + '"'


def _query_pairs(url: URL) -> Iterable[tuple[str, str]]:
    for key, value in url.query.items():
        for one in (value,) if isinstance(value, str) else value:
            yield key, one


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

    @property
    def socket_dir(self) -> str | None:
        """The Unix-socket folder when the server is reached through one (`?host=/dir`), else None."""
        in_query = self.url.query.get("host")
        return in_query if self.url.host is None and isinstance(in_query, str) else None

    def _uri(self, *, password: bool, always_port: bool) -> str:
        # Written by hand rather than by SQLAlchemy's render_as_string: that leaves spaces raw (libpq 17 refuses
        # them: "unexpected spaces found") and writes a space in the query as `+` (libpq reads a plus sign).
        user = quote(self.url.username or "", safe="")
        if password and self.url.password:
            user += ":" + quote(self.url.password, safe="")
        host = self.url.host or ""
        address = f"[{host}]" if ":" in host else quote(host, safe="")
        query = [(key, value) for key, value in _query_pairs(self.url) if key != "port"]
        if host and self.url.port:
            address += f":{self.url.port}"
        elif self.url.port or "port" in self.url.query or (always_port and self.socket_dir is not None):
            # No address to hang it on (a socket folder in the query): the port goes in the query too.
            query.append(("port", str(self.port)))
        # The socket folder stays readable (`?host=/run/postgresql`); libpq decodes what is %-escaped.
        params = "&".join(f"{quote(key, safe='')}={quote(value, safe='/')}" for key, value in query)
        return f"postgresql://{user + '@' if user else ''}{address}/{quote(self.name, safe='')}" + (
            f"?{params}" if params else ""
        )

    def libpq_url(self) -> str:
        """The URL in the form psql and psycopg accept, password included (never print it)."""
        return self._uri(password=True, always_port=False)

    def display_url(self) -> str:
        """The URL without its password, safe for logs, errors and `make db-urls`; psql opens it as it is."""
        return self._uri(password=False, always_port=True)

    def describe(self) -> str:
        """A short 'where' for error messages: database name and host, never the password."""
        host = self.url.host or self.socket_dir or "local socket"
        return f"{_quoted(self.name)} on {host}:{self.port}"

    def parts(self) -> dict[str, str]:
        """The URL as the *_DB_* parts (PARTS), values raw: what `db-urls --dbt` exports and dbt is given. Where the
        URL names no host, port or user, what libpq then takes: PGHOST (else an empty host, libpq's own socket),
        PGPORT (else 5432), PGUSER (else the login name), as the loader's own sessions do."""
        defaults = {option.keyword.decode(): option.val.decode() for option in pq.Conninfo.get_defaults() if option.val}
        names_port = self.url.port is not None or "port" in self.url.query
        return {
            "HOST": self.url.host or self.socket_dir or defaults.get("host", ""),
            "PORT": str(self.port) if names_port else defaults.get("port", "5432"),
            "USER": self.url.username or defaults.get("user", ""),
            "PASSWORD": self.url.password or "",
            "NAME": self.name,
        }

    def setting(self, *parts: str) -> str:
        """The setting to fix for these parts of the address: the URL they came in, or the *_DB_* variables."""
        if self.origin == "url":
            return f"{self.side}_DATABASE_URL"
        return "/".join(f"{self.side}_DB_{part}" for part in parts)

    def dbt_env(self) -> dict[str, str]:
        """The NEW_DB_* variables that `profiles.yml` reads, derived from the resolved URL (values raw, unquoted:
        dbt hands them to libpq as separate parameters, so a space or a quote in a name needs no escaping)."""
        return {f"NEW_DB_{part}": value for part, value in self.parts().items()}


@dataclass(frozen=True)
class Settings:
    old: Database
    new: Database
    # The schema of the legacy database that holds the legacy tables (OLD_DB_SCHEMA; default public).
    legacy_schema: str = "public"
    # The legacy app's own currency (LEGACY_CURRENCY; default USD): a bare amount's, where nothing related names one,
    # and the reading of a symbol several currencies share (rule M2).
    legacy_currency: str = "USD"
    # The per-row corrections files, one CSV per legacy table (CORRECTIONS_DIR, relative to the project; default
    # corrections/). The default may be missing (no corrections); a directory named in the settings must exist.
    corrections_dir: Path = CORRECTIONS_DIR
    # The dask engine (ENGINE=dask): the scheduler to use (DASK_SCHEDULER_ADDRESS; unset: a local cluster of
    # DASK_WORKERS processes, default 2, each with DASK_WORKER_MEMORY, default 2GiB, beyond which dask spills to
    # disk), and the legacy rows per partition (DASK_PARTITION_ROWS, default 100 000).
    dask_scheduler_address: str | None = None
    dask_workers: int = DEFAULT_WORKERS
    dask_worker_memory: str = DEFAULT_WORKER_MEMORY
    dask_partition_rows: int = DEFAULT_PARTITION_ROWS


def _env_file_text(env_file: Path) -> str:
    try:
        data = env_file.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"{env_file} is a folder, not a .env file: fix {ENV_FILE_VARIABLE}") from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {env_file}: {exc.strerror}; fix its permissions or {ENV_FILE_VARIABLE}"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{env_file} is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}): "
            "save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _check_env_file(env_file: Path, text: str) -> None:
    """Every line parses, our keys have one-line values, and no key looks like ours but is misspelt."""
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:
            found = _LINE_KEY.match(binding.original.string)
            key = f" ({found.group(1)})" if found else ""
            # The line itself is never quoted: it may hold a password.
            raise ConfigError(
                f"{env_file} line {line}{key} cannot be parsed (an unclosed quote, a space in the name, text after "
                'the closing quote?): write it as KEY=value or KEY="value", or comment it out with #'
            )
        if binding.key is None:
            continue  # a comment or a blank line
        key = binding.key
        ours = key.upper().startswith(("OLD_", "NEW_", "LEGACY_"))
        # Dask reads its own DASK_* settings from the process environment, never from this file: here, a DASK_ key
        # that is not the dask engine's would be silently without effect.
        if key.upper().startswith("DASK_") and key not in DASK_KEYS:
            near = difflib.get_close_matches(key.upper(), sorted(DASK_KEYS), n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}?" if near else f"the dask engine reads {', '.join(sorted(DASK_KEYS))}"
            raise ConfigError(
                f"{env_file} line {line}: unknown setting {key}: {hint} (dask's own settings go in the environment "
                "or dask's config file; fix or remove the line)"
            )
        if ours and key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key.upper(), sorted(KNOWN_KEYS), n=1)
            hint = f"did you mean {close[0]}?" if close else "the known ones are OLD_DATABASE_URL, OLD_DB_HOST, …"
            raise ConfigError(f"{env_file} line {line}: unknown setting {key}: {hint} (fix or remove the line)")
        if not _VARIABLE_NAME.fullmatch(key):
            # The "name" is not printed: a URL pasted alone is read as one, password and all.
            raise ConfigError(
                f"{env_file} line {line} does not start with a variable name: write it as KEY=value, "
                "or comment it out with #"
            )
        if ours and binding.value is None:
            raise ConfigError(f"{env_file} line {line}: {key} has no `=`: write it as {key}=value")
        if ours and binding.value is not None and "\n" in binding.value.strip():
            raise ConfigError(
                f"{env_file} line {line}: the value of {key} runs over several lines, so a closing quote is missing "
                "or misplaced: close the quote on that line"
            )


def _read_env(env_file: Path, *, must_exist: bool) -> dict[str, str]:
    """`.env` values overlaid by the process environment, which wins (as python-dotenv's default).

    Misspelt keys are looked for in the file only: the process environment of a shell or CI job can hold
    unrelated OLD_* or NEW_* variables, and refusing to run over those would be wrong.
    """
    values: dict[str, str] = {}
    if env_file.exists() or must_exist:
        if not env_file.exists():
            raise ConfigError(f"{ENV_FILE_VARIABLE} names {env_file}, which does not exist: fix or unset it")
        text = _env_file_text(env_file)
        _check_env_file(env_file, text)
        values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    values.update(os.environ)
    return values


def _from_env(side: Side, env: dict[str, str]) -> Database | Literal["embedded"] | None:
    """The side's database as configured, EMBEDDED when asked for by name, None when nothing is set."""
    whole = env.get(f"{side}_DATABASE_URL", "").strip()
    if whole.lower() == EMBEDDED:
        return EMBEDDED
    if whole:
        try:
            url = make_url(whole)
        except (ArgumentError, ValueError):
            raise ConfigError(
                f"{side}_DATABASE_URL is not a valid database URL: "
                f"write it as postgresql://user:password@host:5432/dbname (or {EMBEDDED})"
            ) from None
        if not url.drivername.startswith("postgresql"):
            raise ConfigError(f"{side}_DATABASE_URL must be a postgresql:// URL, not {url.drivername}://")
        if not url.database:
            raise ConfigError(f"{side}_DATABASE_URL names no database: add /dbname at its end")
        query_port = url.query.get("port")
        if query_port is not None and not (isinstance(query_port, str) and query_port.isdigit()):
            raise ConfigError(f"{side}_DATABASE_URL has a port that is not a number: {query_port!r}")
        database = Database(side, url.set(drivername=DRIVER), "url")
        _refuse_other_parts(database, env)
        return database

    parts = {key: env.get(f"{side}_DB_{key}", "").strip() for key in PARTS}
    if not parts["HOST"]:
        if any(parts.values()):
            set_names = ", ".join(f"{side}_DB_{k}" for k, v in parts.items() if v)
            raise ConfigError(
                f"{set_names} set but {side}_DB_HOST is not: set {side}_DB_HOST too, "
                f"or remove the {side}_DB_* lines and write {side}_DATABASE_URL={EMBEDDED} to use the embedded server"
            )
        return None
    port = parts["PORT"] or "5432"
    if not port.isdigit():
        raise ConfigError(f"{side}_DB_PORT must be a number, got {port!r}")
    default_name = DEFAULT_OLD_DB_NAME if side == "OLD" else DEFAULT_NEW_DB_NAME
    host = parts["HOST"]
    # A host that is a folder is a Unix-socket directory (as PGHOST and psql take it); a URL keeps it in the
    # query, since a slash cannot stand in the URL's address.
    on_socket = host.startswith("/")
    url = URL.create(
        DRIVER,
        username=parts["USER"] or None,
        password=parts["PASSWORD"] or None,
        host=None if on_socket else host,
        port=None if on_socket else int(port),
        database=parts["NAME"] or default_name,
        query={"host": host, "port": port} if on_socket else {},
    )
    return Database(side, url, "parts")


def _refuse_other_parts(database: Database, env: dict[str, str]) -> None:
    """The URL is used whole: a *_DB_* part set beside it must say what the URL says, as `db-urls --dbt` exports it
    (where the URL names no host, port or user, what libpq takes: `Database.parts`), or the run would quietly
    connect otherwise than one of the two settings asks (a NEW_DB_PASSWORD beside a URL without one would go
    unused)."""
    side, exported = database.side, database.parts()
    differ = []
    for part in PARTS:
        raw = env.get(f"{side}_DB_{part}", "")
        value = raw if part == "PASSWORD" else raw.strip()
        if value and not _same_part(part, value, exported[part]):
            differ.append(f"{side}_DB_{part}")
    if differ:
        names = ", ".join(differ)
        raise ConfigError(
            f"{names} set beside {side}_DATABASE_URL, saying otherwise than the URL, which is used whole: remove "
            f"{names} (in .env or the environment), or first write what {'they say' if len(differ) > 1 else 'it says'} "
            "into the URL (a password %-escaped)"
        )


def _same_part(part: str, value: str, exported: str) -> bool:
    """Whether a *_DB_* value names what the URL does: a host in any case, with or without an IPv6 address's brackets
    or a socket folder's last slash, a port as a number."""
    if part == "HOST":
        return _host_key(value) == _host_key(exported)
    if part == "PORT":
        return value.isdigit() and int(value) == int(exported)
    return value == exported


def _host_key(host: str) -> str:
    host = host.strip("[]")
    return (host.rstrip("/") or "/") if host.startswith("/") else host.lower()


def env_file_path() -> Path:
    """`.env` in the project, unless LEGACY_MIGRATE_ENV_FILE names another file."""
    return Path(os.environ.get(ENV_FILE_VARIABLE) or PROJECT_ROOT / ".env")


def read_environment() -> dict[str, str]:
    """The settings from `.env` (checked: it must parse, as UTF-8, with no misspelt key) and the environment."""
    return _read_env(env_file_path(), must_exist=bool(os.environ.get(ENV_FILE_VARIABLE)))


def _set_names(side: Side, env: dict[str, str]) -> str:
    names = [f"{side}_DATABASE_URL", *(f"{side}_DB_{part}" for part in PARTS)]
    return ", ".join(name for name in names if env.get(name, "").strip())


def load_settings() -> Settings:
    """Resolve both databases: both configured, or both on the embedded server (nothing set, or `embedded`).

    All or nothing: a side left unset while the other is set is an error, never a quiet fall back to the
    embedded demo server, which would mix a real database with generated data.
    """
    env = read_environment()
    old, new = _from_env("OLD", env), _from_env("NEW", env)
    if (old is None) != (new is None):
        configured: Side = "OLD" if old is not None else "NEW"
        missing: Side = "NEW" if configured == "OLD" else "OLD"
        raise ConfigError(
            f"{_set_names(configured, env)} set for the {ROLE[configured]} database (in {env_file_path()} or the "
            f"environment) but nothing for the {ROLE[missing]} one: set {missing}_DATABASE_URL (or "
            f"{missing}_DB_HOST …), or write {missing}_DATABASE_URL={EMBEDDED} to run it on the embedded server"
        )
    if not isinstance(old, Database) or not isinstance(new, Database):
        base = embedded_url(env)
        if not isinstance(old, Database):
            old = Database("OLD", base.set(database=DEFAULT_OLD_DB_NAME), "embedded")
        if not isinstance(new, Database):
            new = Database("NEW", base.set(database=DEFAULT_NEW_DB_NAME), "embedded")
    # The cheap check, before anything connects; check_distinct_databases in loader.db asks the servers.
    # (URL.set(password=None) would keep the password: None there means "unchanged".)
    if old.display_url() == new.display_url():
        raise ConfigError(
            f"the legacy and target settings name the same database ({old.display_url()}): "
            "the target must be a different database"
        )
    return Settings(
        old=old,
        new=new,
        legacy_schema=env.get("OLD_DB_SCHEMA", "").strip() or "public",
        legacy_currency=_legacy_currency(env),
        corrections_dir=_corrections_dir(env),
        dask_scheduler_address=env.get("DASK_SCHEDULER_ADDRESS", "").strip() or None,
        dask_workers=_positive(env, "DASK_WORKERS", DEFAULT_WORKERS),
        dask_worker_memory=_memory(env, "DASK_WORKER_MEMORY", DEFAULT_WORKER_MEMORY),
        dask_partition_rows=_positive(env, "DASK_PARTITION_ROWS", DEFAULT_PARTITION_ROWS),
    )


def _positive(env: dict[str, str], key: str, default: int) -> int:
    written = env.get(key, "").strip().replace("_", "")
    if not written:
        return default
    # isascii: str.isdigit() also takes digits int() cannot read (²).
    if not (written.isascii() and written.isdigit()) or int(written) < 1:
        raise ConfigError(f"{key}={env[key].strip()} is not a whole number above 0: write e.g. {key}={default}")
    return int(written)


def _memory(env: dict[str, str], key: str, default: str) -> str:
    """An amount of memory with its unit (dask would read a bare 2 as two bytes, 0.5 as half the machine's)."""
    written = env.get(key, "").strip()
    if not written:
        return default
    found = _MEMORY.fullmatch(written)
    if not found:
        raise ConfigError(f"{key}={written} is not an amount of memory with its unit: write e.g. {key}=2GiB or 512MB")
    if float(found.group(1)) * _MEMORY_UNITS[found.group(2).lower()] < MIN_WORKER_MEMORY:
        raise ConfigError(f"{key}={written} is below 256MiB, less than a dask worker needs to start: write e.g. 2GiB")
    return written


def _corrections_dir(env: dict[str, str]) -> Path:
    """CORRECTIONS_DIR, relative to the project's folder; corrections/ when unset. A set one must exist: a typo
    there would otherwise drop every correction without a word."""
    written = env.get("CORRECTIONS_DIR", "").strip()
    if not written:
        return CORRECTIONS_DIR
    directory = PROJECT_ROOT / Path(written).expanduser()
    if not directory.is_dir():
        raise ConfigError(
            f"CORRECTIONS_DIR={written} is not a directory ({directory}): create it, or unset CORRECTIONS_DIR to "
            "use corrections/"
        )
    return directory


def _legacy_currency(env: dict[str, str]) -> str:
    """LEGACY_CURRENCY as an ISO 4217 code (any case written) the currency_names seed names; USD when unset."""
    written = env.get("LEGACY_CURRENCY", "").strip()
    if not written:
        return "USD"
    code = written.upper()
    with CURRENCY_SEED.open(encoding="utf-8", newline="") as seed:
        known = {row["currency"] for row in csv.DictReader(seed)}
    if code not in known:
        raise ConfigError(
            f"LEGACY_CURRENCY={written} is not an ISO 4217 currency code: write the legacy app's own currency "
            "as three letters, e.g. USD, EUR or GBP"
        )
    return code
