"""One way for every command (loader, seeder) to fail: one line on stderr naming the problem, and exit code 2.

The line is printed, not logged: it is the command's answer, shown at every verbosity and in no log format.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import traceback
from collections.abc import Callable

import psycopg
import psycopg2
import sqlalchemy.exc

from loader.core.errors import ConfigError, PipelineError, first_line

EXIT_FAILURE = 2
DEBUG_VARIABLE = "LEGACY_MIGRATE_DEBUG"
# `scheme://user:password@` in a message (a URL some library quoted back): the password is never printed.
_URL_PASSWORD = re.compile(r"(\w[\w+.-]*://[^\s:/@]*:)\S*@")
logger = logging.getLogger(__name__)


def run_cli(body: Callable[[], int]) -> int:
    """Run a command body; known failures print `error: …` and return 2, with no traceback unless asked."""
    try:
        return body()
    except KeyboardInterrupt:
        print("error: interrupted; nothing was committed by the step that was running", file=sys.stderr)
        return 130
    except (ConfigError, PipelineError) as exc:
        failure: BaseException = exc
        message = str(exc)
    except sqlalchemy.exc.DBAPIError as exc:
        failure = exc
        message = _refused(first_line(exc.orig))
    except (psycopg.Error, psycopg2.Error) as exc:
        failure = exc
        message = _refused(first_line(exc))
    except Exception as exc:
        # Anything else (an Alembic CommandError, a UnicodeDecodeError, a bug): still one line, naming its type.
        failure = exc
        message = _unexpected(exc)
    if os.environ.get(DEBUG_VARIABLE):
        # Outside the except blocks a bare `raise` has nothing to re-raise: raise the failure itself.
        raise failure
    if logger.isEnabledFor(logging.DEBUG):
        # Only with -v: where the failure came from, before the one line that says what it was.
        where = "".join(traceback.format_exception(failure)).rstrip()
        logger.debug("%s", _URL_PASSWORD.sub(r"\1***@", where))
    shown = _URL_PASSWORD.sub(r"\1***@", message)
    print(f"error: {shown}", file=sys.stderr)
    return EXIT_FAILURE


# Server messages whose cause is a setting of the user's role or database, and what to do about it.
_HINTS = {
    "no schema has been selected to create in": (
        "the target role's search_path names no schema that exists: set one (alter role … set search_path = "
        "public) or create the schema it names"
    ),
    "would be affected by row-level security policy": (
        "a row-level security policy hides rows of that table from this role, and the pipeline reads every row or "
        "none: run as a role that sees them all (the table's owner, or one with BYPASSRLS)"
    ),
    "permission denied for": (
        "the role lacks a privilege there: the legacy side's role needs SELECT on every legacy table (every column), "
        "the target side's must own the target database's tables (run as the role that ran the first migration)"
    ),
    "in a read-only transaction": (
        "the database to write is read-only for this role (a standby server, or default_transaction_read_only on for "
        "the role or database): use a writable primary, or alter role … set default_transaction_read_only = off"
    ),
}


def _refused(said: str) -> str:
    hint = next((hint for cause, hint in _HINTS.items() if cause in said), None)
    return f"the database refused a statement: {said}" + (f"; {hint}" if hint else "")


def _unexpected(exc: Exception) -> str:
    # Alembic is imported only by the commands that migrate the schema; if it is not loaded, this is not its error.
    alembic_exc = sys.modules.get("alembic.util.exc")
    if alembic_exc is not None and isinstance(exc, alembic_exc.CommandError):
        return f"alembic: {first_line(exc)}"
    return f"{type(exc).__name__}: {first_line(exc)} (unexpected; {DEBUG_VARIABLE}=1 shows where it came from)"
