"""Run one command and measure it: wall seconds and the peak resident memory of its whole process tree."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Often enough to catch dbt's peak; seldom enough that the polling itself costs nothing measurable on 2 cores.
POLL_SECONDS = 0.05


class CommandFailed(Exception):
    """A measured command exited non-zero; the message carries the end of what it printed."""


@dataclass(frozen=True)
class Measurement:
    seconds: float
    peak_rss_bytes: int
    stdout: str
    # The largest single descendant process's peak (a dask worker's, for the dask engine); 0 without children.
    largest_child_rss_bytes: int = 0


def _tree_rss(root: psutil.Process) -> tuple[int, int]:
    """Resident memory of a process and all its descendants (dbt runs as a grandchild of the loader), and of the
    largest descendant alone."""
    total = largest = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for process in processes:
        try:
            rss = int(process.memory_info().rss)
        except psutil.Error:
            # A child that exited between listing and reading: its memory is gone, so it adds nothing.
            continue
        total += rss
        if process is not root:
            largest = max(largest, rss)
    return total, largest


def run_measured(
    argv: Sequence[str], *, env: dict[str, str], cwd: Path, timeout: float = 3600.0, input_text: str | None = None
) -> Measurement:
    """Run argv to completion, polling its process tree for peak RSS; raise CommandFailed on a non-zero exit."""
    peak = largest_child = 0
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE if input_text is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watched = psutil.Process(process.pid)
    done = threading.Event()

    def poll() -> None:
        nonlocal peak, largest_child
        while not done.is_set():
            total, largest = _tree_rss(watched)
            peak, largest_child = max(peak, total), max(largest_child, largest)
            done.wait(POLL_SECONDS)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        # communicate() drains both pipes, so a chatty child never blocks on a full pipe.
        stdout, stderr = process.communicate(input=input_text, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise CommandFailed(f"{' '.join(argv)} ran past {timeout:.0f} s and was stopped") from None
    finally:
        seconds = time.perf_counter() - started
        done.set()
        poller.join()
    if process.returncode != 0:
        tail = "\n".join((stdout + stderr).strip().splitlines()[-20:])
        raise CommandFailed(f"{' '.join(argv)} exited {process.returncode}:\n{tail}")
    return Measurement(seconds=seconds, peak_rss_bytes=peak, stdout=stdout, largest_child_rss_bytes=largest_child)
