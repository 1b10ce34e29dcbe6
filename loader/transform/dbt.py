"""Transform: `dbt build` in dbt_project/, against the resolved target database, in this process through dbt's
Python API (`dbtRunner`); and `dbt docs generate`, the data dictionary.

What happened is read from dbt's result objects (a RunExecutionResult per node, or the exception that stopped
dbt before any node), never from its console. dbt keeps global state for the life of the process: its flags, its
adapter factory, its event manager and the loggers it attaches to it, and the environment it reads the profile
from. All of it is handled here, and only here: one invocation at a time (dbtRunner is not safe to call twice at
once), the profile's variables set in the environment for the invocation's length only, dbt's console turned off
(its events reach the loader's log through a callback instead: `-v` shows them) and its event manager emptied
afterwards. dbt writes its own full log to dbt_project/logs/dbt.log (DBT_LOG_PATH), and its artefacts, the
partial-parse file among them, to dbt_project/target (DBT_TARGET_PATH), as the dbt command line does.

In-process, dbt lives and dies with the loader: if the loader is killed, the kernel closes every connection dbt
had, and each server session ends with it (PGOPTIONS below makes a session that is busy or waiting on a lock
notice within seconds); nothing dbt had not committed is swapped in. Ctrl-C reaches dbt as a KeyboardInterrupt,
on which dbt cancels its running queries before it returns; the loader then raises it again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import psycopg

from loader.core.config import Settings
from loader.core.contract import DBT_PROJECT_DIR, STAGING_SCHEMA
from loader.core.db import SESSION_SETTINGS, connect, database_identity
from loader.core.errors import ConfigError, PipelineError
from loader.core.log import progress_bar

if TYPE_CHECKING:
    from dbt.cli.main import dbtRunnerResult
    from dbt_common.events.base_types import EventMsg

logger = logging.getLogger(__name__)
# dbt's own output (what its console would print), forwarded from its events: shown with -v.
dbt_output = logging.getLogger("dbt")

FAILED_STATUSES: Final = ("error", "fail", "runtime error")
DbtCommand = Literal["dbt build", "dbt docs generate"]
# dbtRunner is not reentrant, and dbt's state is the process's: one invocation at a time.
_INVOCATION = threading.Lock()


def dbt_environment(settings: Settings) -> dict[str, str]:
    """What dbt reads from the environment while it runs: the NEW_DB_* variables profiles.yml reads, and no
    usage statistics.

    PGOPTIONS makes the server check every 2 s that the client of each of dbt's sessions is still there: if the
    loader is killed, the statement a session was running (or waiting to run, behind a lock) then stops too,
    rather than run on, without the run lock, holding locks the next run's transform waits for. It also gives
    dbt's sessions the settings of every session of the pipeline (loader.core.db.SESSION_SETTINGS: no statement,
    transaction or idle timeout, dbt's sessions waiting between models), those the target's server version has
    (it is PostgreSQL 14 or newer); PGOPTIONS wins over the role's and database's own settings.
    """
    with closing(connect(settings.new, autocommit=True)) as conn:
        version = conn.info.server_version
    # In PGOPTIONS a space inside a value is escaped with a backslash (`-c datestyle=ISO,\ YMD`).
    ours = ["-c client_connection_check_interval=2s"]
    for name, value, since in SESSION_SETTINGS:
        if version >= since:
            escaped = value.replace(" ", "\\ ")
            ours.append(f"-c {name}={escaped}")
    options = " ".join(filter(None, (os.environ.get("PGOPTIONS"), *ours)))
    return {**settings.new.dbt_env(), "PGOPTIONS": options, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set these environment variables for the block, then put back what was there."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_target_dir() -> Path:
    """dbt's artefacts folder: dbt_project/target, or DBT_TARGET_PATH (tests give each session its own), which dbt
    reads relative to the project."""
    return DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")


def dbt_log_file() -> Path:
    """dbt's own log: dbt_project/logs/dbt.log, or in DBT_LOG_PATH."""
    configured = os.environ.get("DBT_LOG_PATH")
    return (Path(configured) if configured else DBT_PROJECT_DIR / "logs") / "dbt.log"


def _forward(message: EventMsg) -> None:
    """dbt's console lines (its info, warn and error events) to the `dbt` logger, at INFO: dbt's failures reach
    the person as the loader's one `error:` line, and dbt.log holds everything, debug events too."""
    # The text is there on every event, but dbt's EventInfo protocol does not declare it.
    text = getattr(message.info, "msg", "")
    if message.info.level != "debug" and text and dbt_output.isEnabledFor(logging.INFO):
        dbt_output.info("%s", text)


def invoke_dbt(
    settings: Settings, command: Sequence[str], on_event: Callable[[EventMsg], None] | None = None
) -> dbtRunnerResult:
    """Run one dbt command (`["build", …]`) in dbt_project/ against the target database; return its result.

    dbt's state is isolated here (see the module's docstring); a KeyboardInterrupt or other non-Exception dbt
    caught is raised again, after dbt has cancelled its queries.
    """
    # Imported here: dbt takes seconds to import, and most commands never run it.
    from dbt.cli.main import dbtRunner
    from dbt_common.events.event_manager_client import cleanup_event_logger

    callbacks: list[Callable[[EventMsg], None]] = [_forward]
    if on_event is not None:
        callbacks.append(on_event)
    arguments = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        # The console off: this process's stdout is the summary's. dbt.log keeps dbt's own full account (named
        # too, or --log-level would turn the file off with the console).
        "--log-level",
        "none",
        "--log-level-file",
        "debug",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
    ]
    with _INVOCATION, _environment(dbt_environment(settings)), warnings.catch_warnings(record=True) as caught:
        # dbt's libraries' Python warnings went to a child's console before; they go to the debug log now.
        warnings.simplefilter("always")
        try:
            result = dbtRunner(callbacks=callbacks).invoke(arguments)
        finally:
            # Empty dbt's event manager (the callbacks and whatever they hold), and close its log file: dbt drops
            # the file's handler without closing it when it sets up the next invocation.
            cleanup_event_logger()
            for handler in list(logging.getLogger("file_log").handlers):
                logging.getLogger("file_log").removeHandler(handler)
                handler.close()
    for warning in caught:
        logger.debug("warning raised in dbt: %s", warning.message)
    failure = result.exception
    if isinstance(failure, SystemExit):
        # dbt meant to end the process; the loader ends it its own way, with one line saying so.
        raise PipelineError(f"dbt {command[0]} stopped (exit code {failure.code}); dbt's log: {dbt_log_file()}")
    if failure is not None and not isinstance(failure, Exception):
        # KeyboardInterrupt (dbt has cancelled its queries): dbtRunner catches it, the loader must not.
        raise failure
    return result


@dataclass(frozen=True)
class NodeResult:
    """One node's outcome, as dbt's RunResult gives it: `model.legacy_migrate.x`, `success`, dbt's message."""

    unique_id: str
    status: str
    message: str | None = None


def node_results(run: object) -> list[NodeResult]:
    """The nodes' results of a build (a dbtRunnerResult's `result`), in dbt's order; none if dbt stopped before
    running any node."""
    from dbt.artifacts.schemas.run import RunExecutionResult

    if not isinstance(run, RunExecutionResult):
        return []
    return [
        NodeResult(node.node.unique_id, str(getattr(node.status, "value", node.status)), node.message)
        for node in run.results
    ]


def _node_name(unique_id: str) -> str:
    """`model.legacy_migrate.stg_legacy__orders` → `model stg_legacy__orders`; a test's hash suffix dropped, a unit
    test named with its model."""
    kind, _, rest = unique_id.partition(".")
    parts = rest.split(".")
    if kind == "unit_test" and len(parts) > 2:
        return f"unit test {parts[2]} of {parts[1]}"
    return f"{kind.replace('_', ' ')} {parts[1] if len(parts) > 1 else rest}"


def _cause(message: str | None) -> str:
    """The database's own words from a node's message: dbt puts them under a `Database Error` line, itself under
    a `Runtime Error in unit_test …` or the like, and the SQL's position below."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    for index, line in enumerate(lines[:-1]):
        if line.startswith("Database Error"):
            return lines[index + 1]
    if len(lines) > 1 and " Error in " in lines[0]:
        lines = lines[1:]
    return lines[0] if lines else "dbt gave no message"


def failed_nodes_message(results: Sequence[NodeResult]) -> str | None:
    """`at model X: <its error>`, plus how many more failed and were skipped; None if no node failed."""
    failed = [node for node in results if node.status in FAILED_STATUSES]
    if not failed:
        return None
    first = failed[0]
    others = []
    if len(failed) > 1:
        others.append(f"{len(failed) - 1} more failed")
    skipped = sum(1 for node in results if node.status == "skipped")
    if skipped:
        others.append(f"{skipped} skipped")
    more = f" ({', '.join(others)})" if others else ""
    return f"at {_node_name(first.unique_id)}: {_cause(first.message)}{more}"


def _exception_said(failure: BaseException) -> str:
    """What an exception that stopped dbt before or between nodes says, on one line: dbt's own (`Runtime Error:
    Could not find profile named 'x'`), or, for anything else, its type as well."""
    said = [line.strip() for line in str(failure).splitlines() if line.strip()][:2]
    text = ": ".join(said) if said else "no message"
    from dbt_common.exceptions import DbtBaseException

    return text if isinstance(failure, DbtBaseException) else f"{type(failure).__name__}: {text}"


def failure_message(
    command: DbtCommand, results: Sequence[NodeResult], failure: BaseException | None, *, consequence: str
) -> str:
    """One line on why a dbt command failed, naming the first failing node and its cause, and where dbt's log is."""
    log = f"dbt's log: {dbt_log_file()}"
    at_node = failed_nodes_message(results)
    if at_node is not None:
        return f"{command} failed {at_node}; {log}; {consequence}"
    if failure is not None:
        return f"{command} failed: {_exception_said(failure)}; {log}; {consequence}"
    return f"{command} failed with no message; {log}; {consequence}"


def require_dbt_compatible(settings: Settings) -> None:
    """Refuse, before anything is written, a target dbt cannot build in: one whose name holds a quote, which
    dbt-postgres writes into its own SQL without doubling it."""
    if any(quote in settings.new.name for quote in "'\""):
        raise PipelineError(
            f"dbt cannot build in a target database whose name holds a quote ({settings.new.describe()}); rename "
            "the database (alter database … rename to …), or run the transform with --engine pandas"
        )


class _BuildProgress:
    """A progress bar over dbt's nodes, fed by its events (from dbt's worker threads: tqdm takes its own lock)."""

    def __init__(self) -> None:
        self.bar = progress_bar(desc="transform (dbt)", unit=" nodes")
        # Until the first node starts, dbt parses the project (seconds, unless its partial-parse file is current).
        self.bar.set_postfix_str("parsing the project")

    def __call__(self, message: EventMsg) -> None:
        name = message.info.name
        if name == "LogStartLine" and not self.bar.total:
            # `1 of 80 START …`: the first node says how many the build will run.
            self.bar.total = int(message.data.total)
            self.bar.refresh()
        elif name == "NodeStart":
            self.bar.set_postfix_str(str(message.data.node_info.node_name), refresh=True)
        elif name == "NodeFinished":
            self.bar.update(1)


def _vars_arguments(variables: Mapping[str, Any] | None) -> tuple[str, ...]:
    # Only the vars asked for: dbt_project.yml holds the defaults, which the unit tests pin where they matter.
    return ("--vars", json.dumps(dict(variables))) if variables else ()


# The unit tests prove the parsing rules on the target's server, whose version, collation and character
# classification the regular expressions, lower() and the casts follow, and on the staged tables' columns (types
# and widths), which their fixtures take. Once they passed there for the project's files, the vars and dbt's version
# as they are, the next builds leave them out (a quarter of a small database's build) until one of those changes,
# the server restarts or the database is another (a server that cannot say which runs them). The record is a file
# beside dbt's artefacts: deleting it, or the folder, runs them again.
UNIT_TESTS_RECORD: Final = "unit_tests_passed.json"
_KEPT_RECORDS: Final = 20
SERVER_FACTS_QUERY = """
select
    version(),
    (select to_jsonb(d) - array['datfrozenxid', 'datminmxid', 'datacl', 'datconnlimit', 'datlastsysoid']
        from pg_database as d where d.datname = current_database()),
    (select jsonb_agg(
            jsonb_build_array(c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation::regcollation)
            order by c.relname, a.attnum)
        from pg_attribute as a
        inner join pg_class as c on a.attrelid = c.oid
        where c.relnamespace = to_regnamespace(%s) and c.relkind in ('r', 'p') and a.attnum > 0 and not a.attisdropped)
"""


# What of the dbt project the unit tests read: its SQL, YAML and seeds (not dbt's output, nor its .user.yml).
_PROJECT_PARTS: Final = ("dbt_project.yml", "packages.yml", "models", "macros", "seeds", "tests")


def _project_fingerprint() -> str:
    """A digest of the dbt project's files that the unit tests read."""
    digest = hashlib.sha256()
    for part in _PROJECT_PARTS:
        top = DBT_PROJECT_DIR / part
        for path in sorted([top, *top.rglob("*")] if top.is_dir() else [top]):
            if path.is_file():
                digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def unit_tests_key(settings: Settings, variables: Mapping[str, Any] | None) -> str | None:
    """What the unit tests' outcome depends on, as one digest: the project's files, the vars, the target database
    (which one, its server's version, its collation and ctype) and the staged tables' columns; None where the server
    cannot say (the unit tests then run)."""
    from dbt.adapters.postgres.__version__ import version as adapter_version
    from dbt.version import __version__ as dbt_version

    try:
        fingerprint = _project_fingerprint()
        with connect(settings.new, autocommit=True) as conn:
            facts = conn.execute(SERVER_FACTS_QUERY, (STAGING_SCHEMA,)).fetchone()
        identity = database_identity(settings.new)
    except (OSError, psycopg.Error, ConfigError) as exc:
        logger.debug("the unit tests run: what they depend on could not be read (%s)", exc)
        return None
    if identity is None:
        return None
    versions = (dbt_version, adapter_version)
    parts = [fingerprint, dict(variables or {}), versions, list(facts or ()), repr(identity)]
    described = json.dumps(parts, default=str, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()


def _passed_keys() -> list[str]:
    record = dbt_target_dir() / UNIT_TESTS_RECORD
    try:
        keys = json.loads(record.read_text())
    except (OSError, ValueError):
        return []
    return [key for key in keys if isinstance(key, str)] if isinstance(keys, list) else []


def _record_passed(key: str) -> None:
    """Add the key to the record (written whole, then renamed); a record that cannot be written only means the
    unit tests run again next time."""
    record = dbt_target_dir() / UNIT_TESTS_RECORD
    keys = [key, *(other for other in _passed_keys() if other != key)][:_KEPT_RECORDS]
    try:
        record.parent.mkdir(parents=True, exist_ok=True)
        written = record.with_name(f".{record.name}.{os.getpid()}")
        written.write_text(json.dumps(keys))
        written.replace(record)
    except OSError as exc:
        logger.warning("could not record that the dbt unit tests passed (%s): they will run again", exc)


def transform(settings: Settings, variables: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run `dbt build`; return how many nodes passed per kind, or raise naming the first failure and its cause.

    The unit tests are left out where they passed before for the same project, vars, server and staged columns
    (UNIT_TESTS_RECORD)."""
    require_dbt_compatible(settings)
    key = unit_tests_key(settings, variables)
    proven = key is not None and key in _passed_keys()
    if proven:
        logger.info(
            "dbt unit tests left out: they passed on this server for this project and these staged columns "
            "(delete %s to run them again)",
            dbt_target_dir() / UNIT_TESTS_RECORD,
        )
    leave_out = ("--exclude-resource-type", "unit_test") if proven else ()
    progress = _BuildProgress()
    with progress.bar:
        result = invoke_dbt(settings, ["build", *leave_out, *_vars_arguments(variables)], on_event=progress)
    results = node_results(result.result)
    if not result.success:
        raise PipelineError(
            failure_message("dbt build", results, result.exception, consequence="nothing was published")
        )
    passed: Counter[str] = Counter(node.unique_id.split(".")[0] for node in results)
    if key is not None and not proven and passed["unit_test"]:
        _record_passed(key)
    logger.info("dbt build passed: %s", dict(passed))
    return dict(passed)


def generate_docs(settings: Settings, folder: Path, variables: Mapping[str, Any] | None = None) -> Path:
    """`dbt docs generate` into `folder` (index.html, manifest.json, catalog.json, static_index.html), its catalog
    read from the target database; return the site's index.html. The project is parsed from the transform's
    partial-parse file when it is current."""
    require_dbt_compatible(settings)
    folder.mkdir(parents=True, exist_ok=True)
    parsed = dbt_target_dir() / "partial_parse.msgpack"
    arguments = [
        "docs",
        "generate",
        "--target-path",
        str(folder.resolve()),
        # static_index.html too: the site in one file, which a browser opens from disk (index.html fetches the
        # JSON beside it, which browsers refuse over file://).
        "--static",
        # dbt refuses a partial-parse file named but missing (no transform ran yet): then it parses in full.
        *(("--partial-parse-file-path", str(parsed)) if parsed.exists() else ()),
        *_vars_arguments(variables),
    ]
    result = invoke_dbt(settings, arguments)
    if not result.success:
        raise PipelineError(docs_failure_message(result.result, result.exception, folder))
    return folder / "index.html"


def docs_failure_message(catalog: object, failure: BaseException | None, folder: Path) -> str:
    """Why `dbt docs generate` failed, on one line: dbt reports a node that did not compile in the catalog's
    compile results and a catalog query that failed in its errors, with no exception."""
    consequence = f"the site in {folder} is incomplete"
    nodes = node_results(getattr(catalog, "_compile_results", None))
    errors = [line.strip() for error in getattr(catalog, "errors", None) or [] for line in str(error).splitlines()]
    if failure is None and not failed_nodes_message(nodes) and any(errors):
        said = next(line for line in errors if line)
        return f"dbt docs generate failed: {said}; dbt's log: {dbt_log_file()}; {consequence}"
    return failure_message("dbt docs generate", nodes, failure, consequence=consequence)
