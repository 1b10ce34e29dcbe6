"""The whole migration in order: seed if empty, target schema, stage, transform, publish, summary."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alembic.config import Config
from sqlalchemy import Engine, inspect

from alembic import command
from loader.cli_errors import PipelineError
from loader.config import PROJECT_ROOT, Settings
from loader.db import connect, engine
from loader.publish import DeletePolicy, PublishResult, check_conservation, publish, rejected_counts
from loader.runs import finish_run, start_run
from loader.stage import check_legacy_schema, stage
from loader.transform import transform

T = TypeVar("T")


@dataclass
class RunReport:
    run_id: int | None = None
    seeded: dict[str, int] | None = None
    rows_read: dict[str, int] = field(default_factory=dict)
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    published: PublishResult | None = None
    dry_run: bool = False
    seconds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "outcomes": self.outcomes,
            "rows_written": self.published.written if self.published else {},
            "rows_deleted": self.published.deleted if self.published else {},
            "ledger_rows": self.published.ledger_rows if self.published else 0,
            "seconds": {stage_name: round(s, 3) for stage_name, s in self.seconds.items()},
        }


def _timed(report: RunReport, name: str, step: Callable[[], T]) -> T:
    started = time.perf_counter()
    try:
        return step()
    finally:
        report.seconds[name] = time.perf_counter() - started


def alembic_config(settings: Settings) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["url"] = settings.new.url.render_as_string(hide_password=False)
    return config


def upgrade_schema(settings: Settings) -> None:
    command.upgrade(alembic_config(settings), "head")


def require_target_schema(target: Engine) -> None:
    if not inspect(target).has_table("migration_runs"):
        raise PipelineError("the target tables do not exist yet; run `make schema` (alembic upgrade head) first")


def seed_if_empty(settings: Settings) -> dict[str, int] | None:
    """Seed the legacy database only when its tables are missing or all empty; never touch existing data."""
    from seeder.generate import Sizes
    from seeder.seed import legacy_row_counts, seed

    with connect(settings.old) as conn:
        counts = legacy_row_counts(conn)
    if any(counts.values()):
        return None
    return seed(settings.old, seed_value=42, sizes=Sizes(orders=10_000), replace=False).rows


def outcome_counts(settings: Settings, rows_read: dict[str, int]) -> dict[str, dict[str, int]]:
    with engine(settings.new).connect() as conn:
        counts = rejected_counts(conn)
    for legacy_table, read in rows_read.items():
        table_counts = counts.setdefault(legacy_table, {})
        table_counts["migrated"] = read - sum(table_counts.values())
    return counts


def run_publish(settings: Settings, run_id: int, report: RunReport, delete_policy: DeletePolicy) -> None:
    """Publish the marts and close the run in one transaction: both commit, or neither does."""
    target = engine(settings.new)
    try:
        with target.begin() as conn:
            if report.dry_run:
                problems = check_conservation(conn)
                if problems:
                    raise PipelineError("conservation check failed: " + "; ".join(problems))
                finish_run(conn, run_id, "planned", report.as_json())
                return
            report.published = publish(conn, run_id, delete_policy)
            finish_run(conn, run_id, "published", report.as_json())
    except BaseException as exc:
        with target.begin() as conn:
            finish_run(
                conn, run_id, "failed", {**report.as_json(), "error": str(exc).splitlines()[0] if str(exc) else ""}
            )
        raise


def migrate(settings: Settings, *, dry_run: bool = False, delete_policy: DeletePolicy = "delete") -> RunReport:
    report = RunReport(dry_run=dry_run)
    # Fail on bad settings or a legacy database of the wrong shape before writing anything anywhere.
    with connect(settings.new):
        pass
    report.seeded = _timed(report, "seed", lambda: seed_if_empty(settings))
    with connect(settings.old) as conn:
        check_legacy_schema(conn, settings.old.describe())
    _timed(report, "schema", lambda: upgrade_schema(settings))
    run_id = start_run(engine(settings.new))
    report.run_id = run_id
    try:
        report.rows_read = _timed(report, "stage", lambda: stage(settings))
        _timed(report, "transform", lambda: transform(settings))
        report.outcomes = outcome_counts(settings, report.rows_read)
    except BaseException as exc:
        with engine(settings.new).begin() as conn:
            finish_run(
                conn, run_id, "failed", {**report.as_json(), "error": str(exc).splitlines()[0] if str(exc) else ""}
            )
        raise
    _timed(report, "publish", lambda: run_publish(settings, run_id, report, delete_policy))
    return report


def staged_counts(settings: Settings) -> dict[str, int]:
    """Rows per staged legacy table, for a publish run on its own."""
    from psycopg import sql

    from loader.legacy_schema import LEGACY_SCHEMA
    from loader.stage import STAGING_SCHEMA

    counts = {}
    with connect(settings.new) as conn:
        for legacy_table in LEGACY_SCHEMA:
            statement = sql.SQL("select count(*) from {}").format(sql.Identifier(STAGING_SCHEMA, legacy_table))
            row = conn.execute(statement).fetchone()
            counts[legacy_table] = int(row[0]) if row else 0
    return counts


def publish_only(settings: Settings, *, dry_run: bool = False, delete_policy: DeletePolicy = "delete") -> RunReport:
    """Publish what the last stage and transform left in the staging and dbt schemas."""
    target = engine(settings.new)
    require_target_schema(target)
    report = RunReport(dry_run=dry_run)
    report.rows_read = staged_counts(settings)
    report.outcomes = outcome_counts(settings, report.rows_read)
    report.run_id = start_run(target)
    _timed(report, "publish", lambda: run_publish(settings, report.run_id or 0, report, delete_policy))
    return report


def format_summary(report: RunReport) -> str:
    lines = [f"run {report.run_id}: {'planned (nothing published)' if report.dry_run else 'published'}"]
    if report.seeded:
        lines.append("seeded the empty legacy database: " + ", ".join(f"{t} {n}" for t, n in report.seeded.items()))
    lines.append("legacy rows read -> migrated / merged / rejected:")
    for legacy_table, read in report.rows_read.items():
        counts = report.outcomes.get(legacy_table, {})
        lines.append(
            f"  {legacy_table:<13} {read:>9}  -> {counts.get('migrated', 0)} / {counts.get('merged', 0)} / "
            f"{counts.get('rejected', 0)}"
        )
    if report.published:
        lines.append("target rows written (inserted or changed) / deleted:")
        for target_table, written in report.published.written.items():
            lines.append(f"  {target_table:<19} {written:>9} / {report.published.deleted.get(target_table, 0)}")
        lines.append(f"ledger rows appended (rejects, merges, warnings): {report.published.ledger_rows}")
    timings = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in report.seconds.items())
    lines.append(f"time: {timings}")
    lines.append(f"what happened to any legacy row: select * from migration_ledger where run_id = {report.run_id}")
    return "\n".join(lines)
