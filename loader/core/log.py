"""Logging and progress bars for every command: one format, set once by each CLI's main, on stderr.

Library code logs through module loggers (`logging.getLogger(__name__)`) and shows progress with
`progress_bar()`; only a CLI prints, and only what a person reads (the summary, on stdout).

Default verbosity shows warnings and errors only, not INFO: stderr then holds what needs attention, so a failing
command prints exactly its one `error:` line (the tests hold it to that), and the progress bars, which vanish
when done, stand in for "now staging…". `-v` adds INFO and DEBUG, dbt's own output included; `-q` keeps
warnings and errors and drops the bars too (a CI job on a pseudo-terminal).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Final, Literal

from tqdm import tqdm

Verbosity = Literal["quiet", "normal", "verbose"]

# The project's own loggers, and dbt's output as the transform forwards it (loader.transform.dbt). Third-party
# loggers stay at WARNING even under -v: SQLAlchemy logs every statement once its logger allows INFO.
OUR_LOGGERS: Final = ("loader", "seeder", "dbt")
FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT: Final = "%H:%M:%S"
_LEVELS: Final[dict[Verbosity, int]] = {"quiet": logging.WARNING, "normal": logging.WARNING, "verbose": logging.DEBUG}

_show_progress = True


class _TqdmHandler(logging.Handler):
    """Writes each record to stderr through tqdm, which clears the bars on screen first and redraws them after."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Looked up now, not when configured: a test's captured stderr, or a redirected one, is the one used.
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging's contract: a failing handler reports itself, never raises
            self.handleError(record)


def configure_logging(verbosity: Verbosity = "normal") -> None:
    """Send the project's log records to stderr in one format, at the level `verbosity` asks for; set the bars."""
    global _show_progress  # one setting per process, made by its CLI before any work starts
    _show_progress = verbosity != "quiet"
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _TqdmHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(_LEVELS[verbosity])


def add_verbosity_options(parser: argparse.ArgumentParser) -> None:
    """-v/--verbose and -q/--quiet, the same on every CLI and on each of its subcommands (before or after the
    subcommand's name: no default is set, so a subcommand's parser never overwrites what the main one read)."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="log progress and debug detail to stderr, dbt's own output included",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="only warnings and errors on stderr, and no progress bars",
    )


def verbosity_of(args: argparse.Namespace) -> Verbosity:
    """The -v/-q flags a CLI parsed, as one setting."""
    if getattr(args, "verbose", False):
        return "verbose"
    return "quiet" if getattr(args, "quiet", False) else "normal"


def progress_bar(**options: Any) -> tqdm[Any]:
    """A tqdm bar on stderr that vanishes when done, shown only on a terminal (tqdm's `disable=None`) and never
    under --quiet, so tests and CI logs see none."""
    settings: dict[str, Any] = {"leave": False, "file": sys.stderr, "dynamic_ncols": True}
    settings.update(options)
    settings["disable"] = None if _show_progress else True
    return tqdm(**settings)
