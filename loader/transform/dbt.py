"""Transform: `dbt build` in dbt_project/, against the resolved target database, in a child process that dies
with this one.

Why a child process and not dbt's in-process `dbtRunner`, which the style guide prefers: dbt configures logging
and keeps global state (flags, adapter factory, event manager) for the life of the process, and it holds every
model's result set and manifest in memory; in a child, none of that touches the loader, its memory is reported
for the transform alone (the run report's peak memory counts children for it, so this process's high-water mark
stays the loader's own), and when dbt is killed (the OOM killer picks the biggest process) the loader lives on to
say so, record the run as failed and release the lock. What the subprocess used to get wrong is fixed here: dbt
dies with the process that started it (`PR_SET_PDEATHSIG`), and its failure is read from dbt's own result
objects, run_results.json, rather than from its console.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loader.core.config import Settings
from loader.core.contract import DBT_PROJECT_DIR
from loader.core.errors import PipelineError

# <linux/prctl.h>: send this signal to the calling process when its parent dies.
PR_SET_PDEATHSIG = 1
# After an interrupt, how long dbt has to cancel its queries on the server before it is killed.
STOP_GRACE_SECONDS = 10
FAILED_STATUSES = ("error", "fail", "runtime error")
# The time dbt writes before each line it prints.
_CONSOLE_TIME = re.compile(r"^\d{2}:\d{2}:\d{2}(\.\d+)?\s+")


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The process environment plus what profiles.yml reads; dbt never phones home.

    PGOPTIONS makes the server check every 2 s that dbt is still there: dbt dies with the loader, and the
    statement its session was running then stops too, rather than run on, without the run lock, holding locks
    the next run's transform waits for. It also turns off the server's idle timeouts for dbt's sessions, which
    wait between models (the target is PostgreSQL 14 or newer, which has every setting).
    """
    ours = "-c client_connection_check_interval=2s -c idle_session_timeout=0 -c idle_in_transaction_session_timeout=0"
    options = " ".join(filter(None, (os.environ.get("PGOPTIONS"), ours)))
    return {
        **os.environ,
        **settings.new.dbt_env(),
        "PGOPTIONS": options,
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_executable() -> str:
    """dbt from the same virtual environment as this interpreter."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def dbt_target_dir() -> Path:
    """dbt's artefacts folder: dbt_project/target, or DBT_TARGET_PATH (tests give each session its own)."""
    configured = os.environ.get("DBT_TARGET_PATH")
    return Path(configured) if configured else DBT_PROJECT_DIR / "target"


def dbt_log_file() -> Path:
    """dbt's own log: dbt_project/logs/dbt.log, or in DBT_LOG_PATH."""
    configured = os.environ.get("DBT_LOG_PATH")
    return (Path(configured) if configured else DBT_PROJECT_DIR / "logs") / "dbt.log"


def _die_with_parent() -> Callable[[], None] | None:
    """A function for the child to run before it execs dbt: it is SIGKILLed when this process dies (Linux).

    prctl is looked up here, in the parent, so the child between fork and exec only calls it. The death signal
    follows the thread that forked the child: run_dbt forks from the thread that then waits for dbt.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    parent = os.getpid()

    def in_child() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        # The parent may have died before prctl took effect: then no signal would ever come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return in_child


def _stop(process: subprocess.Popen[str]) -> None:
    """Interrupt dbt's process group (dbt cancels its running queries on SIGINT), then kill what is left."""
    for sent, wait in ((signal.SIGINT, STOP_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sent)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@dataclass(frozen=True)
class DbtRun:
    """How a dbt command ended: its exit code (negative: the signal that killed it) and its console output."""

    returncode: int
    output: str


def run_dbt(settings: Settings, *args: str) -> DbtRun:
    """Run dbt in dbt_project/ and wait for it; an interrupt or error here stops it, and so does this process dying.

    dbt gets its own process group, so a terminal's Ctrl-C reaches this process alone, which then stops dbt and
    anything dbt started, as one.
    """
    with subprocess.Popen(
        [dbt_executable(), *args],
        cwd=DBT_PROJECT_DIR,
        env=dbt_environment(settings),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        process_group=0,
        # preexec_fn is unsafe while other threads may hold locks: migrate's stage threads have ended by now (its
        # pools are shut down), and the child only calls prctl before exec.
        preexec_fn=_die_with_parent(),
    ) as process:
        try:
            output, _ = process.communicate()
        except BaseException:
            _stop(process)
            raise
    return DbtRun(process.returncode, output)


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return None


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


def failed_nodes_message(results: list[dict[str, Any]]) -> str | None:
    """`at model X: <its error>`, plus how many more failed and were skipped; None if no node failed."""
    failed = [node for node in results if node.get("status") in FAILED_STATUSES]
    if not failed:
        return None
    first = failed[0]
    others = []
    if len(failed) > 1:
        others.append(f"{len(failed) - 1} more failed")
    skipped = sum(1 for node in results if node.get("status") == "skipped")
    if skipped:
        others.append(f"{skipped} skipped")
    more = f" ({', '.join(others)})" if others else ""
    return f"at {_node_name(str(first.get('unique_id', '')))}: {_cause(first.get('message'))}{more}"


def _error_from_output(output: str) -> str | None:
    """dbt's `Encountered an error:` block, for a failure before or between nodes (a profile, a parse, a lost
    connection), which run_results.json does not hold: `Database Error: server closed the connection …`."""
    lines = [_CONSOLE_TIME.sub("", line).strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("Encountered an error"):
            said = [text for text in lines[index + 1 :] if text][:2]
            return ": ".join(said) if said else None
    return None


def failure_message(run: DbtRun, results: list[dict[str, Any]] | None) -> str:
    """One line on why dbt build failed, naming the first failing node and its cause, and where dbt's log is."""
    log = f"dbt's log: {dbt_log_file()}"
    if run.returncode < 0:
        number = -run.returncode
        try:
            name = f" ({signal.Signals(number).name})"
        except ValueError:
            name = ""
        killed = "; the kernel's out-of-memory killer sends SIGKILL" if number == signal.SIGKILL else ""
        return (
            f"dbt build was killed by signal {number}{name} before it finished, with no message{killed}; {log}; "
            "nothing was published"
        )
    at_node = failed_nodes_message(results or [])
    if at_node is not None:
        return f"dbt build failed {at_node}; {log}; nothing was published"
    said = _error_from_output(run.output)
    if said is not None:
        return f"dbt build failed: {said}; {log}; nothing was published"
    return f"dbt build exited with code {run.returncode} with no message; {log}; nothing was published"


def _results_written(results_file: Path, before: int | None) -> list[dict[str, Any]] | None:
    """The nodes' results of the build that just ran, if it wrote them (dbt writes none when it fails early, and
    a file left from an earlier build says nothing of this one); None if not, or if it is cut short."""
    if _mtime(results_file) in (None, before):
        return None
    try:
        results = json.loads(results_file.read_text())["results"]
    except (ValueError, KeyError):
        return None
    return results if isinstance(results, list) else None


def require_dbt_compatible(settings: Settings) -> None:
    """Refuse, before anything is written, a target dbt cannot build in: one whose name holds a quote, which
    dbt-postgres writes into its own SQL without doubling it."""
    if any(quote in settings.new.name for quote in "'\""):
        raise PipelineError(
            f"dbt cannot build in a target database whose name holds a quote ({settings.new.describe()}); rename "
            "the database (alter database … rename to …), or run the transform with --engine pandas"
        )


def transform(settings: Settings, variables: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Run `dbt build`; return how many nodes passed per kind, or raise naming the first failure and its cause."""
    require_dbt_compatible(settings)
    results_file = dbt_target_dir() / "run_results.json"
    before = _mtime(results_file)
    # Only the vars asked for: dbt_project.yml holds the defaults, which the unit tests pin where they matter.
    extra = ("--vars", json.dumps(dict(variables))) if variables else ()
    run = run_dbt(settings, "build", "--no-use-colors", *extra)
    results = _results_written(results_file, before)
    if run.returncode != 0:
        raise PipelineError(failure_message(run, results))
    passed: Counter[str] = Counter()
    for node in results or []:
        passed[node["unique_id"].split(".")[0]] += 1
    return dict(passed)
