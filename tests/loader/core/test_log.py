"""One logging setup for every command: the project's loggers at the level asked for, bars only when wanted."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from loader.core.log import OUR_LOGGERS, Verbosity, configure_logging, progress_bar


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in OUR_LOGGERS}
    yield
    configure_logging("normal")  # the bars back on, as a process starts
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, saved in levels.items():
        logging.getLogger(name).setLevel(saved)


@pytest.mark.parametrize(
    ("verbosity", "shown"),
    [("quiet", ["WARNING"]), ("normal", ["WARNING"]), ("verbose", ["DEBUG", "INFO", "WARNING"])],
)
def test_each_verbosity_shows_its_levels_on_stderr_in_one_format(
    verbosity: Verbosity, shown: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(verbosity)
    configure_logging(verbosity)  # configured twice, still one handler: every line once
    log = logging.getLogger("loader.somewhere")
    log.debug("detail")
    log.info("step")
    log.warning("attention")
    logging.getLogger("sqlalchemy.engine").info("select 1")  # a library's INFO stays out even under -v
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert [line.split(" ")[1] for line in lines] == shown, lines
    assert all(" loader.somewhere: " in line for line in lines)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("verbosity", "disabled"), [("quiet", True), ("normal", False), ("verbose", False)])
def test_progress_bars_show_on_a_terminal_unless_quiet(
    verbosity: Verbosity, disabled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure_logging(verbosity)
    monkeypatch.setattr(sys, "stderr", _Terminal())
    with progress_bar(total=3, desc="x") as bar:
        assert bool(bar.disable) is disabled
    # Off a terminal (a pipe, a CI log, pytest's capture), never.
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with progress_bar(total=3, desc="x") as bar:
        assert bar.disable
