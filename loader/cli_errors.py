"""One way for every command to fail: a single line on stderr that names the problem, and exit code 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import psycopg
import psycopg2
import sqlalchemy.exc

from loader.config import ConfigError


class PipelineError(Exception):
    """A failure the user can act on; its message is the whole explanation."""


EXIT_FAILURE = 2


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


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
        message = f"the database refused a statement: {_first_line(exc.orig)}"
    except (psycopg.Error, psycopg2.Error) as exc:
        failure = exc
        message = f"the database refused a statement: {_first_line(exc)}"
    if os.environ.get("LEGACY_MIGRATE_DEBUG"):
        # Outside the except blocks a bare `raise` has nothing to re-raise: raise the failure itself.
        raise failure
    print(f"error: {message}", file=sys.stderr)
    return EXIT_FAILURE
