"""The loader's and the seeder's command lines: help when asked for nothing, -v/-q on every command, and
nothing but the summary on stdout and nothing on stderr when a command succeeds off a terminal."""

from __future__ import annotations

import pytest

from tests.support.databases import Databases, run_module


@pytest.mark.parametrize("module", ["loader"])
def test_a_bare_command_prints_its_help_and_runs_nothing(databases: Databases, module: str) -> None:
    result = run_module(module, env=databases.env())
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith(f"usage: python -m {module}")
    for command in ("migrate", "stage", "transform", "publish", "docs", "schema", "db-urls", "db-stop"):
        assert f"    {command} " in result.stdout, command
    with databases.new() as conn:
        assert conn.execute("select count(*) from pg_tables where schemaname = 'staging'").fetchone() == (0,)


@pytest.mark.parametrize(
    "args",
    [("-q", "db-urls"), ("db-urls", "-q"), ("-v", "db-urls"), ("db-urls", "--verbose")],
    ids=" ".join,
)
def test_verbosity_is_taken_before_or_after_the_command(databases: Databases, args: tuple[str, ...]) -> None:
    result = run_module("loader", *args, env=databases.env())
    assert result.stdout.startswith("OLD_DATABASE_URL=")


def test_quiet_and_verbose_exclude_each_other(databases: Databases) -> None:
    result = run_module("loader", "stage", "-q", "-v", env=databases.env(), check=False)
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: python -m loader stage: argument -v/--verbose: not allowed with argument -q")


def test_a_successful_command_prints_its_summary_alone(migrated: Databases) -> None:
    """No log line and no progress bar on stderr off a terminal; -v logs the steps there, never on stdout."""
    quiet = run_module("loader", "stage", env=migrated.env())
    assert quiet.stderr == ""
    assert quiet.stdout.startswith("run ") and quiet.stdout.count("\n") == 1
    verbose = run_module("loader", "stage", "-v", env=migrated.env())
    assert verbose.stdout.startswith("run ") and verbose.stdout.count("\n") == 1
    assert " INFO loader.pipeline: stage: " in verbose.stderr, verbose.stderr


def test_the_seeder_takes_the_same_verbosity_options(databases: Databases) -> None:
    databases.seed("--size", "50", "-q")
    result = run_module("seeder", "--configured-database", databases.old_name, "--if-empty", "-v", env=databases.env())
    assert result.returncode == 0 and result.stderr == ""
