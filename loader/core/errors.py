"""The project's two kinds of failure the user can act on; their message is the whole explanation."""

from __future__ import annotations


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which one and what to do."""


class PipelineError(Exception):
    """A failure the user can act on; its message is the whole explanation."""


def first_line(exc: BaseException | None) -> str:
    """The first line of an exception's message, or its type's name when it has none."""
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__
