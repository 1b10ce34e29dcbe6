"""The pipeline's commands in order — checks, target schema, stage, transform, publish — each one run
under the run lock, recorded in migration_runs, and ending with a report, whatever happens."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from loader.core.config import Settings
from loader.core.contract import LEGACY_TABLE_MARTS, MART_ORDER, MART_SCHEMA, PROJECT_ROOT, STAGING_SCHEMA
from loader.core.db import check_distinct_databases, connect, engine
from loader.core.errors import ConfigError, PipelineError, first_line
from loader.core.legacy_schema import LEGACY_SCHEMA
from loader.core.models import RunCommand, RunStatus
from loader.publish.gates import ChangeLimit, GateFailed, RejectBudget, rejected_counts
from loader.publish.ledger import DEFAULT_KEEP_RUNS
from loader.publish.publish import publish
from loader.publish.relations import relation
from loader.publish.write import DeletePolicy
from loader.runs.corrections import correction_outcomes
from loader.runs.history import earlier_runs
from loader.runs.lock import RunLock, close_abandoned_runs, finish_run, run_lock, start_run
from loader.runs.report import (
    RunReport,
    StageTiming,
    default_report_dir,
    peak_rss_mib,
    reason_counts,
    write_report,
    write_unrecognised,
)
from loader.stage.copy import LegacyShape, check_legacy_schema, require_legacy_rows, stage
from loader.transform.dbt import generate_docs as dbt_docs
from loader.transform.dbt import require_dbt_compatible, transform

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")
logger = logging.getLogger(__name__)
TransformEngine = Literal["dbt", "pandas", "dask"]


@dataclass(frozen=True)
class RunOptions:
    """How a run behaves: the CLI's options, with the defaults `make migrate` uses."""

    dry_run: bool = False
    delete_policy: DeletePolicy = "delete"
    budget: RejectBudget = field(default_factory=RejectBudget)
    wait: bool = False
    report_dir: Path = field(default_factory=default_report_dir)
    # Which engine turns staging into the marts and the quarantine; the rest of the pipeline is shared.
    engine: TransformEngine = "dbt"
    # How much one run may shrink a legacy table or change a target table before a person must confirm.
    change_limit: ChangeLimit = field(default_factory=ChangeLimit)
    # Reject an order dated before its user registered (rule O7), rather than migrate it with a warning.
    strict_dates: bool = False
    # The ledger keeps the partitions of the last this many published runs (this one included); publish drops older.
    keep_runs: int = DEFAULT_KEEP_RUNS


def dbt_vars(settings: Settings, strict_dates: bool = False) -> dict[str, Any]:
    """The transform's options as dbt vars: only those asked for (dbt_project.yml holds the defaults)."""
    variables: dict[str, Any] = {"strict_dates": True} if strict_dates else {}
    if settings.legacy_currency != "USD":
        variables["legacy_currency"] = settings.legacy_currency
    return variables


def run_transform(settings: Settings, engine_name: TransformEngine, strict_dates: bool = False) -> dict[str, int]:
    """dbt build, the pandas engine or the dask engine: the same staging in, the same mart and quarantine tables out.

    Both read their options as dbt vars (dbt_project.yml holds the defaults); only those asked for are passed.
    """
    variables = dbt_vars(settings, strict_dates)
    if engine_name == "pandas":
        from loader.transform.pandas_engine import run

        return run(settings, variables or None)
    if engine_name == "dask":
        from loader.transform.dask_engine import run as run_dask

        return run_dask(settings, variables or None)
    return transform(settings, variables or None)


def generate_docs(settings: Settings, folder: Path) -> Path:
    """dbt's documentation site of the project, its catalog read from the target database, into `folder`; return
    its index.html. No run lock: it writes nothing to the database."""
    # Fail on an unreachable target with the one clear line connect() gives, before dbt tries.
    with connect(settings.new):
        pass
    return dbt_docs(settings, folder, dbt_vars(settings) or None)


def _timed(report: RunReport, name: str, rows_meaning: str, step: Callable[[], T], rows: Callable[[T], int]) -> T:
    logger.info("%s: started", name)
    started = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - started
    # Every step runs in this process, dbt's too: the process's high-water mark so far.
    memory = peak_rss_mib()
    report.stages[name] = StageTiming(seconds, rows(result), rows_meaning, memory)
    logger.info("%s: %s %s in %.1f s", name, rows(result), rows_meaning, seconds)
    return result


def alembic_config(settings: Settings) -> Config:
    # Imported here: Alembic takes a fifth of a second to import, and only migrate upgrades the schema.
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["url"] = settings.new.url.render_as_string(hide_password=False)
    return config


def _schema_revision(settings: Settings) -> str | None:
    with connect(settings.new) as conn:
        found = conn.execute("select to_regclass('alembic_version') is not null").fetchone()
        if not (found and found[0]):
            return None
        row = conn.execute("select string_agg(version_num, ',' order by version_num) from alembic_version").fetchone()
    return str(row[0]) if row and row[0] else None


def require_schema_at_head(settings: Settings) -> None:
    """A plan changes nothing, the target's schema included: refuse one while an Alembic upgrade is pending."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    current = _schema_revision(settings)
    if current != head:
        raise PipelineError(
            f"a plan changes nothing, but the target schema needs an upgrade ({current or 'none'} -> {head}) "
            "before it can run: run `make schema` first (see the README on schema upgrades), then the plan"
        )


def upgrade_schema(settings: Settings) -> str | None:
    """alembic upgrade head, quietly; return what changed ("0004 -> 0005", "none -> 0005"), or None."""
    from alembic import command

    before = _schema_revision(settings)
    config = alembic_config(settings)
    config.attributes["quiet"] = True
    command.upgrade(config, "head")
    after = _schema_revision(settings)
    return None if after == before else f"{before or 'none'} -> {after}"


def require_target_schema(target: Engine) -> None:
    columns = {c["name"] for c in inspect(target).get_columns("migration_runs")} if _has_runs(target) else set()
    if "command" not in columns:
        raise PipelineError(
            "the target tables do not exist yet or are out of date; run `make schema` (alembic upgrade head) first"
        )


def _has_runs(target: Engine) -> bool:
    return inspect(target).has_table("migration_runs")


class WrongDatabase(PipelineError):
    """A database that is not what its side says: a target as the legacy side, or the legacy tables as target."""


def check_sides(settings: Settings) -> None:
    """Refuse, before anything is written, a legacy database that is a migration target, and a target that
    holds the legacy tables (OLD and NEW swapped); the servers are asked whether both name one database."""
    check_distinct_databases(settings)
    schema = settings.legacy_schema
    with connect(settings.old) as conn:
        # Both of the pipeline's own tables, in one schema: a legacy app may well have a table of either name.
        targets = conn.execute(
            "select count(*) from pg_class as runs inner join pg_class as ledger on ledger.relnamespace = "
            "runs.relnamespace where runs.relname = 'migration_runs' and ledger.relname = 'migration_ledger' "
            "and runs.relkind = 'r' and ledger.relkind in ('r', 'p')"
        ).fetchone()
    if targets and targets[0]:
        raise WrongDatabase(
            f"the legacy database {settings.old.describe()} holds legacy-migrate's own tables (migration_runs): it "
            "is a migration target, not a legacy database; are OLD_ and NEW_ swapped in .env?"
        )
    with connect(settings.new) as conn:
        found = conn.execute(
            "select array_agg(relname::text order by relname) filter (where relname = any(%s) and relnamespace = "
            "(select oid from pg_namespace where nspname = %s)), bool_or(relname = 'migration_runs') "
            "from pg_class where relkind in ('r', 'p')",
            (list(LEGACY_SCHEMA), schema),
        ).fetchone()
    legacy_tables, is_target = found or (None, None)
    if legacy_tables and not is_target:
        raise WrongDatabase(
            f"the target database {settings.new.describe()} holds the legacy tables ({', '.join(legacy_tables)}) "
            "and no migration_runs: it looks like the legacy database; are OLD_ and NEW_ swapped in .env? The "
            "target must be a database of its own"
        )


def legacy_shape(settings: Settings) -> LegacyShape:
    """The legacy tables as they will be staged, checked against the contract before anything is written."""
    with connect(settings.old) as conn:
        shape = check_legacy_schema(conn, settings.old.describe(), settings.legacy_schema)
        require_legacy_rows(conn, settings.old.describe(), settings.legacy_schema)
    return shape


def staged_counts(target: Engine) -> dict[str, int]:
    """Rows per staged legacy table, for a publish or transform run on its own."""
    counts: dict[str, int] = {}
    with target.connect() as conn:
        for legacy_table in LEGACY_SCHEMA:
            staged = relation(STAGING_SCHEMA, legacy_table, "id")
            counts[legacy_table] = int(conn.execute(select(func.count()).select_from(staged)).scalar_one())
    return counts


def _mart_rows(target: Engine) -> int:
    with target.connect() as conn:
        return sum(
            int(conn.execute(select(func.count()).select_from(relation(MART_SCHEMA, name))).scalar_one())
            for name in MART_ORDER
        )


def _classify(report: RunReport, target: Engine, folder: Path) -> None:
    """What the transform made of each legacy row: outcome counts and reasons with examples, for the report."""
    with target.connect() as conn:
        report.set_outcomes(rejected_counts(conn))
        report.reasons = reason_counts(conn)
        # Each reason's raw values ranked, from the quarantine this run publishes (or plans, or is refused on).
        write_unrecognised(conn, report, folder)
        report.corrections = correction_outcomes(conn)
        # The published runs before this one, for the report's progress across runs (from their summaries).
        report.earlier_runs = earlier_runs(conn, report.run_id or 0)


def _publish_step(report: RunReport, target: Engine, options: RunOptions, lock: RunLock) -> None:
    """Publish and close the run in one transaction: both commit, or neither does. A plan rolls back.

    The run lock is checked last before the commit: a run that lost it may have another run beside it.
    """
    run_id = report.run_id or 0
    rows = _mart_rows(target)

    def step() -> None:
        with target.connect() as conn:
            transaction = conn.begin()
            try:
                result = publish(
                    conn,
                    run_id,
                    options.delete_policy,
                    budget=options.budget,
                    change_limit=options.change_limit,
                    keep_runs=options.keep_runs,
                )
            except GateFailed as failed:
                transaction.rollback()
                report.gates = list(failed.gates)
                raise
            except BaseException:
                transaction.rollback()
                raise
            report.published = result
            report.gates = list(result.gates)
            if options.dry_run:
                # Everything up to the commit ran, gates included; rolling back publishes nothing.
                transaction.rollback()
                report.status = "planned"
                with conn.begin():
                    finish_run(conn, run_id, "planned", report.as_json())
                return
            finish_run(conn, run_id, "published", {**report.as_json(), "status": "published"})
            # Raising here leaves the transaction uncommitted: closing the connection rolls it back.
            lock.ensure_held()
            transaction.commit()
            report.status = "published"

    _timed(report, "publish", "mart rows compared or written", step, lambda _: rows)


@contextmanager
def recorded_run(
    settings: Settings, command_name: RunCommand, options: RunOptions
) -> Iterator[tuple[RunReport, RunLock]]:
    """The frame of every command: the run lock, a run row, and a report at the end, however it ends.

    The run row is opened once the target schema exists and closed as failed on any exception; runs that a
    killed process left `running` are closed first (holding the lock, nobody else can be running).
    """
    report = RunReport(
        command=command_name,
        dry_run=options.dry_run,
        delete_policy=options.delete_policy,
        max_reject_share={legacy_table: options.budget.limit(legacy_table) for legacy_table in LEGACY_TABLE_MARTS},
        max_change_share=options.change_limit.share,
        allow_mass_change=options.change_limit.allowed,
    )
    # Fail on an unreachable target before anything else, with the one clear line connect() gives.
    with connect(settings.new):
        pass
    with run_lock(settings.new, command_name, wait=options.wait) as lock:
        try:
            yield report, lock
        except BaseException as exc:
            report.status = "failed"
            report.error = first_line(exc)
            if report.run_id is not None:
                _record_failure(settings, report)
            raise
        finally:
            # A run that never opened (a legacy database of the wrong shape, say) has nothing to report, and
            # must not overwrite the report of the last run that did.
            if report.run_id is not None:
                _write_report_quietly(report, options.report_dir)


def _record_failure(settings: Settings, report: RunReport) -> None:
    """Close the run as failed; if the target cannot be reached (it is restarting, say), the run's own error is
    the one to report, and the next run closes this one as abandoned."""
    try:
        with engine(settings.new).begin() as conn:
            finish_run(conn, report.run_id or 0, "failed", report.as_json())
    except (ConfigError, SQLAlchemyError) as exc:
        # Not a second error line: the run's own error is the one to act on, and the next run closes this one.
        logger.info("could not record run %s as failed: %s", report.run_id, first_line(exc))


def _write_report_quietly(report: RunReport, folder: Path) -> None:
    try:
        write_report(report, folder)
    except OSError as exc:
        # The run's outcome is already decided and recorded in the database; a report folder that cannot be
        # written must not turn a published run into an error, nor hide the error of a failed one.
        logger.warning("could not write the report to %s: %s", folder, exc)


def _open_run(report: RunReport, target: Engine, command_name: RunCommand) -> None:
    report.abandoned_runs = close_abandoned_runs(target)
    report.run_id = start_run(target, command_name)


def migrate(settings: Settings, options: RunOptions | None = None) -> RunReport:
    options = options or RunOptions()
    with recorded_run(settings, "migrate", options) as (report, lock):
        # Fail on a swapped configuration or a legacy database of the wrong shape before writing anything.
        if options.engine == "dbt":
            require_dbt_compatible(settings)
        check_sides(settings)
        report.legacy_notes = list(legacy_shape(settings).notes)
        if options.dry_run:
            require_schema_at_head(settings)
        else:
            report.schema_upgrade = upgrade_schema(settings)
        target = engine(settings.new)
        _open_run(report, target, "migrate")
        report.rows_read = _timed_stage(report, settings, lock)
        _timed_transform(report, settings, options)
        lock.ensure_held()
        _classify(report, target, options.report_dir)
        _publish_step(report, target, options, lock)
    return report


def publish_only(settings: Settings, options: RunOptions | None = None) -> RunReport:
    """Publish what the last stage and transform left in the staging and dbt schemas."""
    options = options or RunOptions()
    with recorded_run(settings, "publish", options) as (report, lock):
        target = engine(settings.new)
        require_target_schema(target)
        _open_run(report, target, "publish")
        report.rows_read = staged_counts(target)
        _classify(report, target, options.report_dir)
        _publish_step(report, target, options, lock)
    return report


def stage_only(settings: Settings, options: RunOptions | None = None) -> RunReport:
    options = options or RunOptions()
    with recorded_run(settings, "stage", options) as (report, lock):
        check_sides(settings)
        report.legacy_notes = list(legacy_shape(settings).notes)
        target = engine(settings.new)
        require_target_schema(target)
        _open_run(report, target, "stage")
        report.rows_read = _timed_stage(report, settings, lock)
        _close(report, target, "staged")
    return report


def _timed_stage(report: RunReport, settings: Settings, lock: RunLock) -> dict[str, int]:
    # The lock is checked before the stage swaps its tables in: a run that lost it may have another beside it.
    return _timed(
        report,
        "stage",
        "legacy rows read",
        lambda: stage(settings, settings.legacy_schema, before_commit=lock.ensure_held),
        _total,
    )


def _timed_transform(report: RunReport, settings: Settings, options: RunOptions) -> dict[str, int]:
    return _timed(
        report,
        "transform",
        "legacy rows read",
        lambda: run_transform(settings, options.engine, options.strict_dates),
        lambda _: _total(report.rows_read),
    )


def transform_only(settings: Settings, options: RunOptions | None = None) -> dict[str, int]:
    options = options or RunOptions()
    with recorded_run(settings, "transform", options) as (report, lock):
        target = engine(settings.new)
        require_target_schema(target)
        _open_run(report, target, "transform")
        report.rows_read = staged_counts(target)
        passed = _timed_transform(report, settings, options)
        lock.ensure_held()
        _classify(report, target, options.report_dir)
        _close(report, target, "transformed")
    return passed


def _close(report: RunReport, target: Engine, status: RunStatus) -> None:
    report.status = status
    with target.begin() as conn:
        finish_run(conn, report.run_id or 0, status, report.as_json())


def _total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def format_summary(report: RunReport, report_dir: Path | None = None) -> str:
    headline = {
        "published": "published",
        "planned": "planned (nothing published)",
        "staged": "staged",
        "transformed": "transformed",
    }.get(report.status, report.status)
    lines = [f"run {report.run_id}: {headline}"]
    if report.abandoned_runs:
        lines.append("closed as failed, abandoned by a killed run: run " + ", ".join(map(str, report.abandoned_runs)))
    if report.schema_upgrade:
        lines.append(f"target schema upgraded (Alembic): {report.schema_upgrade}")
    lines.extend(f"note: {note}" for note in report.legacy_notes)
    if report.outcomes:
        lines.append("legacy rows read -> migrated / merged / rejected:")
        for legacy_table, read in report.rows_read.items():
            counts = report.outcomes.get(legacy_table, {})
            lines.append(
                f"  {legacy_table:<13} {read:>9}  -> {counts.get('migrated', 0)} / {counts.get('merged', 0)} / "
                f"{counts.get('rejected', 0)}"
            )
    elif report.rows_read:
        lines.append("legacy rows read: " + ", ".join(f"{t} {n}" for t, n in report.rows_read.items()))
    if report.gates:
        failed = [gate for gate in report.gates if not gate.passed]
        lines.append(f"gates: {len(report.gates) - len(failed)} of {len(report.gates)} passed")
        lines.extend(f"  FAILED {gate.gate} {gate.subject}: {gate.detail}" for gate in failed)
    if report.published:
        verb = "that would be written" if report.dry_run else "written"
        lines.append(f"target rows {verb} (inserted or changed) / deleted:")
        for target_table, written in report.published.written.items():
            lines.append(f"  {target_table:<19} {written:>9} / {report.published.deleted.get(target_table, 0)}")
        kept = {t: n for t, n in report.published.kept.items() if n}
        if kept:
            lines.append(
                "kept, their legacy row gone or no longer migrating (--on-missing keep): "
                + ", ".join(f"{t} {n}" for t, n in kept.items())
            )
        lines.append(f"ledger rows appended (rejects, merges, warnings, corrections): {report.published.ledger_rows}")
        if report.published.ledger_partitions_dropped:
            verb = "that would be dropped" if report.dry_run else "dropped"
            lines.append(
                f"ledger partitions {verb}, older than the last {report.published.keep_runs} published runs: "
                + ", ".join(report.published.ledger_partitions_dropped)
            )
    timings = ", ".join(
        f"{name} {timing.seconds:.1f}s ({timing.rows_per_second:,.0f} rows/s)" for name, timing in report.stages.items()
    )
    if timings:
        lines.append(f"time: {timings}")
    if report_dir is not None:
        lines.append(f"report: {report_dir / 'migration_report.md'}")
    lines.append(f"what happened to any legacy row: select * from migration_ledger where run_id = {report.run_id}")
    return "\n".join(lines)
