"""The benchmark: for each size, seed, then each baseline right before the stage it measures, on the same data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import baselines
from bench.measure import CommandFailed, Measurement, run_measured
from bench.server import NEW_DB, OLD_DB, PROJECT_ROOT, BenchServer

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
WANTED_PROFILE = "dirty"
FALLBACK_PROFILE = "legacy"

# Stage names, in the order they run and are reported, and the baseline each one is compared with.
SEED = "seed"
STAGE = "stage (loader)"
TRANSFORM_DBT = "transform (dbt)"
TRANSFORM_PANDAS = "transform (pandas)"
TRANSFORM_DASK_1 = "transform (dask, 1 worker)"
TRANSFORM_DASK_2 = "transform (dask, 2 workers)"
# The dask engine's runs: stage name, workers of its local cluster.
DASK_RUNS = ((TRANSFORM_DASK_1, 1), (TRANSFORM_DASK_2, 2))
PUBLISH = "publish"
PUBLISH_RERUN = "publish (rerun, no change)"
MIGRATE = "migrate (whole)"
MIGRATE_PANDAS = "migrate (whole, pandas)"
STAGES = (
    SEED,
    STAGE,
    TRANSFORM_DBT,
    TRANSFORM_PANDAS,
    TRANSFORM_DASK_1,
    TRANSFORM_DASK_2,
    PUBLISH,
    PUBLISH_RERUN,
    MIGRATE,
    MIGRATE_PANDAS,
)

COPY_FROM_FILE = "COPY from file"
COPY_PIPE = "COPY pipe, psql to psql"
INSERT_LEGACY = "INSERT…SELECT of the staged legacy rows"
INSERT_MARTS = "INSERT…SELECT of the marts"
INSERT_TARGETS = "INSERT…SELECT into the target's table definitions"
SUM_OF_BASELINES = "COPY pipe + both INSERT…SELECTs"
BASELINE_OF = {
    SEED: COPY_FROM_FILE,
    STAGE: COPY_PIPE,
    TRANSFORM_DBT: INSERT_LEGACY,
    TRANSFORM_PANDAS: INSERT_LEGACY,
    TRANSFORM_DASK_1: INSERT_LEGACY,
    TRANSFORM_DASK_2: INSERT_LEGACY,
    PUBLISH: INSERT_MARTS,
    PUBLISH_RERUN: INSERT_MARTS,
    MIGRATE: SUM_OF_BASELINES,
    MIGRATE_PANDAS: SUM_OF_BASELINES,
}
# The stages held to a goal as well as to the floor above, and that goal: for the loader's stage the floor
# is the goal; publish's floor writes into unindexed tables, its goal into tables defined as its targets are.
GOAL_OF = {
    STAGE: COPY_PIPE,
    PUBLISH: INSERT_TARGETS,
    PUBLISH_RERUN: INSERT_TARGETS,
}
ROWS_MEANING = {
    SEED: "legacy rows generated",
    STAGE: "legacy rows read",
    TRANSFORM_DBT: "legacy rows read",
    TRANSFORM_PANDAS: "legacy rows read",
    TRANSFORM_DASK_1: "legacy rows read",
    TRANSFORM_DASK_2: "legacy rows read",
    PUBLISH: "target rows written",
    PUBLISH_RERUN: "target rows compared (none written)",
    MIGRATE: "legacy rows read",
    MIGRATE_PANDAS: "legacy rows read",
}


@dataclass(frozen=True)
class Step:
    """One timed run: a stage of the pipeline or a baseline."""

    name: str
    seconds: float
    rows: int
    peak_rss_bytes: int
    # A baseline's separate timings (before and after its stage, or after each publish); seconds is their mean.
    runs: tuple[float, ...] = ()
    # A loader command's own timing of its step, from its run report: the step alone, without the interpreter's
    # start, the imports and the run's bookkeeping that the whole-process seconds include.
    step_seconds: float | None = None
    # The dask engine's stages: the largest worker process's peak (the process tree's peak is peak_rss_bytes).
    worker_peak_bytes: int | None = None

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def step_rows_per_second(self) -> float | None:
        if self.step_seconds is None:
            return None
        return self.rows / self.step_seconds if self.step_seconds > 0 else 0.0


def _ratio(rows_per_second: float, baseline: Step) -> float:
    """A throughput as a share of a baseline's (1.0 = as fast, higher is better)."""
    baseline_rate = baseline.rows_per_second
    return rows_per_second / baseline_rate if baseline_rate > 0 else 0.0


def _step_ratio(step: Step, baseline: Step) -> float | None:
    """The step alone against a baseline; None for a stage the loader's run report does not time."""
    rate = step.step_rows_per_second
    return None if rate is None else _ratio(rate, baseline)


@dataclass(frozen=True)
class Figure:
    """A stage and its baselines from the same run on the same data."""

    stage: Step
    baseline: Step
    # The machine's 1-minute load average when the stage ended: how much else was running (2 cores here).
    load_average: float = 0.0
    # A second baseline, the stage's goal, when baseline (a physical floor) is not it: publish's target definitions.
    goal: Step | None = None

    @property
    def ratio(self) -> float:
        """The whole command's throughput as a share of PostgreSQL's bare operation's (1.0 = as fast)."""
        return _ratio(self.stage.rows_per_second, self.baseline)

    @property
    def step_ratio(self) -> float | None:
        """The step alone, as the loader timed it, against the same baseline."""
        return _step_ratio(self.stage, self.baseline)

    @property
    def goal_baseline(self) -> Step:
        """What the stage is held to in the goals table: its goal, or its baseline when that is the goal."""
        return self.goal or self.baseline

    @property
    def goal_ratio(self) -> float:
        return _ratio(self.stage.rows_per_second, self.goal_baseline)

    @property
    def goal_step_ratio(self) -> float | None:
        return _step_ratio(self.stage, self.goal_baseline)


@dataclass
class SizeResult:
    size: int
    legacy_rows: dict[str, int] = field(default_factory=dict)
    target_rows: dict[str, int] = field(default_factory=dict)
    # pg_database_size of each bench database once the size's last stage ran (staging, dbt's tables, the target).
    database_bytes: dict[str, int] = field(default_factory=dict)
    figures: list[Figure] = field(default_factory=list)
    baselines: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class Options:
    """What the CLI found out about the pipeline before the first size: seeder profile, transform engines."""

    profile: str
    profile_note: str | None
    pandas_transform: bool
    pandas_migrate: bool
    dbt_engine_flag: bool
    dask_transform: bool = False
    # The pandas engine holds every staged table in one process (about 2.5 GB per million legacy orders): above
    # this size it is not run, so the largest sizes fit the machine.
    pandas_up_to: int = 2_000_000
    # dbt's build, publish and the whole migrate are not run above this size (None: at every size), so a bench can
    # follow the dask engine to sizes where they would take an hour each.
    dbt_up_to: int | None = None

    def pandas_at(self, size: int) -> bool:
        return self.pandas_engine and size <= self.pandas_up_to

    def dbt_at(self, size: int) -> bool:
        return self.dbt_up_to is None or size <= self.dbt_up_to

    @property
    def pandas_engine(self) -> bool:
        return self.pandas_transform or self.pandas_migrate


def _help_text(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", *args, "--help"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False
    )
    return result.stdout


def _choices(help_text: str, option: str) -> list[str]:
    match = re.search(re.escape(option) + r"\s+\{([^}]*)\}", help_text)
    return [choice.strip() for choice in match.group(1).split(",")] if match else []


def detect_options(pandas_up_to: int = Options.pandas_up_to, dbt_up_to: int | None = None) -> Options:
    """Read the CLIs' --help: the seeder's profiles and the loader's transform engines change under us."""
    profiles = _choices(_help_text("seeder"), "--profile")
    if WANTED_PROFILE in profiles:
        profile, note = WANTED_PROFILE, None
    else:
        profile = FALLBACK_PROFILE
        note = (
            f"the seeder offers no --profile {WANTED_PROFILE} (choices: {', '.join(profiles) or 'none'}); "
            f"measured on --profile {FALLBACK_PROFILE}"
        )
    transform_engines = set(_choices(_help_text("loader", "transform"), "--engine"))
    migrate_engines = set(_choices(_help_text("loader", "migrate"), "--engine"))
    return Options(
        profile,
        note,
        pandas_transform="pandas" in transform_engines,
        pandas_migrate="pandas" in migrate_engines,
        dbt_engine_flag="dbt" in transform_engines,
        dask_transform="dask" in transform_engines,
        pandas_up_to=pandas_up_to,
        dbt_up_to=dbt_up_to,
    )


def _mean_step(name: str, measurements: Sequence[Measurement], rows: int) -> Step:
    """A baseline timed more than once (before and after a stage): mean seconds, highest peak."""
    runs = tuple(m.seconds for m in measurements)
    return Step(name, sum(runs) / len(runs), rows, max(m.peak_rss_bytes for m in measurements), runs)


class SizeRun:
    """One size: seeds, then times each stage between two runs of its baseline, so machine noise hits both.

    Other work on a shared machine comes and goes while a stage runs for minutes; a baseline taken right
    before and right after it, averaged, sees the same weather. The seed's baseline can only come after it.
    """

    def __init__(
        self, server: BenchServer, env: dict[str, str], options: Options, seed: int, log: Callable[[str], None]
    ) -> None:
        self.server = server
        self.env = env
        self.options = options
        self.seed = seed
        self.log = log
        # Where stage_env points the loader's run reports; each loader command rewrites this file.
        self.loader_report = Path(env["LEGACY_MIGRATE_REPORT_DIR"]) / "migration_report.json"

    def _module(self, *args: str, extra_env: dict[str, str] | None = None) -> Measurement:
        self.server.checkpoint()
        return run_measured([sys.executable, "-m", *args], env={**self.env, **(extra_env or {})}, cwd=PROJECT_ROOT)

    def _loader_step(self, command: str) -> tuple[Measurement, float]:
        """Time `python -m loader <command>` whole, and read the seconds its run report gives the step alone.

        The loader times each step inside its process, without the interpreter's start, the imports and the
        run's bookkeeping. The previous command's report is removed first, so a command that writes none fails
        here instead of lending another's timing.
        """
        self.loader_report.unlink(missing_ok=True)
        measurement = self._module("loader", command)
        try:
            step_seconds = float(json.loads(self.loader_report.read_text())["stages"][command]["seconds"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandFailed(
                f"python -m loader {command} left no timing of its {command} step in {self.loader_report}: {exc!r}"
            ) from exc
        return measurement, step_seconds

    def _figure(
        self,
        result: SizeResult,
        name: str,
        measurement: Measurement,
        rows: int,
        baseline: Step,
        *,
        step_seconds: float | None = None,
        goal: Step | None = None,
        worker_peak_bytes: int | None = None,
    ) -> None:
        stage = Step(
            name,
            measurement.seconds,
            rows,
            measurement.peak_rss_bytes,
            step_seconds=step_seconds,
            worker_peak_bytes=worker_peak_bytes,
        )
        figure = Figure(stage, baseline, os.getloadavg()[0], goal)
        result.figures.append(figure)
        line = (
            f"  {stage.name:<27} {stage.seconds:8.2f} s {stage.rows_per_second:>11,.0f} rows/s "
            f"peak {stage.peak_rss_bytes / 2**20:6.0f} MiB | {baseline.name}: {baseline.seconds:.2f} s, "
            f"ratio {figure.ratio:.3f}"
        )
        if figure.step_ratio is not None:
            line += f" (step alone {stage.step_seconds:.2f} s: {figure.step_ratio:.3f})"
        if worker_peak_bytes is not None:
            line += f" | largest worker {worker_peak_bytes / 2**20:.0f} MiB"
        if goal is not None:
            line += f" | {goal.name}: {goal.seconds:.2f} s, ratio {figure.goal_ratio:.3f}"
            if figure.goal_step_ratio is not None:
                line += f" (step alone: {figure.goal_step_ratio:.3f})"
        self.log(line)

    def run(self, result: SizeResult) -> None:
        """Fill result stage by stage, so a failure part-way leaves the figures taken before it."""
        size = result.size
        server, env = self.server, self.env
        self.server.recreate(NEW_DB)
        # The target schema is not part of any stage's figure; migrate's own upgrade is timed with it.
        self._module("alembic", "upgrade", "head")

        seed = self._module(
            "seeder",
            "--configured-database",
            OLD_DB,
            "--size",
            str(size),
            "--profile",
            self.options.profile,
            "--seed",
            str(self.seed),
            "--replace",
        )
        result.legacy_rows = baselines.count_rows(server, OLD_DB, baselines.legacy_tables())
        legacy_rows = sum(result.legacy_rows.values())
        with tempfile.TemporaryDirectory(prefix="bench-dump-") as dump_dir:
            from_file = _mean_step(COPY_FROM_FILE, [baselines.copy_from_file(server, env, Path(dump_dir))], legacy_rows)
        self._figure(result, SEED, seed, legacy_rows, from_file)

        pipe_runs = [baselines.copy_pipe(server, env)]
        stage, stage_seconds = self._loader_step("stage")
        pipe_runs.append(baselines.copy_pipe(server, env))
        pipe = _mean_step(COPY_PIPE, pipe_runs, legacy_rows)
        self._figure(result, STAGE, stage, legacy_rows, pipe, step_seconds=stage_seconds)

        staged = baselines.staged_legacy_tables()
        legacy_runs = [baselines.insert_select(server, env, staged)]
        if self.options.pandas_transform and self.options.pandas_at(size):
            pandas = self._module("loader", "transform", "--engine", "pandas")
            legacy_runs.append(baselines.insert_select(server, env, staged))
            self._figure(
                result, TRANSFORM_PANDAS, pandas, legacy_rows, _mean_step(INSERT_LEGACY, legacy_runs[-2:], legacy_rows)
            )
        if self.options.dask_transform:
            for name, workers in DASK_RUNS:
                dask = self._module("loader", "transform", "--engine", "dask", extra_env={"DASK_WORKERS": str(workers)})
                legacy_runs.append(baselines.insert_select(server, env, staged))
                self._figure(
                    result,
                    name,
                    dask,
                    legacy_rows,
                    _mean_step(INSERT_LEGACY, legacy_runs[-2:], legacy_rows),
                    worker_peak_bytes=dask.largest_child_rss_bytes,
                )
        if not self.options.dbt_at(size):
            self.log(f"  dbt, publish, migrate: not run above {self.options.dbt_up_to:,} legacy orders (--dbt-up-to)")
            result.database_bytes = baselines.database_sizes(server, (OLD_DB, NEW_DB))
            result.baselines = [from_file, pipe, _mean_step(INSERT_LEGACY, legacy_runs, legacy_rows)]
            return
        # dbt runs last, so publish reads the marts of the reference engine.
        engine_flag = ("--engine", "dbt") if self.options.dbt_engine_flag else ()
        dbt = self._module("loader", "transform", *engine_flag)
        legacy_runs.append(baselines.insert_select(server, env, staged))
        insert_legacy = _mean_step(INSERT_LEGACY, legacy_runs[-2:], legacy_rows)
        self._figure(result, TRANSFORM_DBT, dbt, legacy_rows, insert_legacy)

        marts = baselines.mart_tables()
        mart_rows = sum(baselines.count_rows(server, NEW_DB, marts).values())
        targets = baselines.target_tables()
        mart_runs = [baselines.insert_select(server, env, marts)]
        publish, publish_seconds = self._loader_step("publish")
        mart_runs.append(baselines.insert_select(server, env, marts))
        # The goal copies what publish wrote, so it can only run once publish has written it: after each run.
        target_runs = [baselines.insert_into_target_definitions(server, env, targets)]
        rerun, rerun_seconds = self._loader_step("publish")
        mart_runs.append(baselines.insert_select(server, env, marts))
        target_runs.append(baselines.insert_into_target_definitions(server, env, targets))
        # On a fresh target every row publish leaves in the target tables is a row it wrote.
        result.target_rows = baselines.count_rows(server, NEW_DB, targets)
        target_rows = sum(result.target_rows.values())
        insert_marts = _mean_step(INSERT_MARTS, mart_runs[:2], mart_rows)
        insert_targets = _mean_step(INSERT_TARGETS, target_runs, target_rows)
        self._figure(
            result, PUBLISH, publish, target_rows, insert_marts, step_seconds=publish_seconds, goal=insert_targets
        )
        self._figure(
            result,
            PUBLISH_RERUN,
            rerun,
            target_rows,
            _mean_step(INSERT_MARTS, mart_runs[1:], mart_rows),
            step_seconds=rerun_seconds,
            goal=insert_targets,
        )

        # The physical floor of the whole job: move the rows, write them once transformed, write them published.
        whole = Step(
            SUM_OF_BASELINES,
            pipe.seconds + insert_legacy.seconds + insert_marts.seconds,
            legacy_rows,
            max(pipe.peak_rss_bytes, insert_legacy.peak_rss_bytes, insert_marts.peak_rss_bytes),
        )
        self.server.recreate(NEW_DB)
        self._figure(result, MIGRATE, self._module("loader", "migrate"), legacy_rows, whole)
        if self.options.pandas_migrate and self.options.pandas_at(size):
            self.server.recreate(NEW_DB)
            migrate_pandas = self._module("loader", "migrate", "--engine", "pandas")
            self._figure(result, MIGRATE_PANDAS, migrate_pandas, legacy_rows, whole)

        result.database_bytes = baselines.database_sizes(server, (OLD_DB, NEW_DB))
        result.baselines = [
            from_file,
            pipe,
            _mean_step(INSERT_LEGACY, legacy_runs, legacy_rows),
            _mean_step(INSERT_MARTS, mart_runs, mart_rows),
            insert_targets,
            whole,
        ]


def run_bench(
    server: BenchServer,
    sizes: list[int],
    *,
    options: Options,
    seed: int,
    work_dir: Path,
    log: Callable[[str], None],
    write: Callable[[list[SizeResult], str | None], None],
) -> list[SizeResult]:
    """Every size, smallest first; results are written after each, and on a failure with the error."""
    env = server.stage_env(work_dir)
    server.recreate(OLD_DB)
    results: list[SizeResult] = []
    runner = SizeRun(server, env, options, seed, log)
    for size in sorted(sizes):
        log(f"size {size:,} legacy orders ({options.profile} profile)")
        result = SizeResult(size)
        results.append(result)
        try:
            runner.run(result)
        except CommandFailed as exc:
            write(results, str(exc))
            raise
        write(results, None)
    return results
