"""The pandas engine's entry point: read the staging tables, run the models, check, write, in that order."""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import psycopg2.extensions

from loader.core.config import Settings
from loader.core.contract import CORRECTIONS_TABLE, SNAPSHOT_TABLE
from loader.core.db import connect, connect_for_copy
from loader.core.errors import PipelineError
from loader.core.legacy_schema import LEGACY_SCHEMA, required_columns
from loader.transform.pandas_engine import io, models
from loader.transform.pandas_engine.pg_text import TextRules, UnsupportedLocale, rules_for
from loader.transform.pandas_engine.project import Project, load_project

# The legacy contract's columns the models read as numbers; every other one is text.
_INTEGER_COLUMNS = {"id", "quantity"}


def _check_columns(table: str, columns: list[io.StagedColumn]) -> None:
    if not columns:
        raise PipelineError(f"the staging table {table} does not exist: run `python -m loader stage` first")
    kinds = {column.name: column.kind for column in columns}
    for name in required_columns(table):
        expected = "integer" if name in _INTEGER_COLUMNS else "text"
        if kinds.get(name) != expected:
            raise PipelineError(
                f"staging column {table}.{name} is {kinds.get(name, 'missing')}, where the legacy contract has "
                f"{expected}: run `python -m loader stage` again, or use the dbt engine"
            )


def _check_correction_columns(columns: list[io.StagedColumn]) -> None:
    """The staged corrections table as stage writes it (loader/stage/corrections.py), even when it is empty."""
    names = [column.name for column in columns]
    if names[: len(models.CORRECTION_COLUMNS)] != list(models.CORRECTION_COLUMNS):
        state = "does not exist" if not columns else f"has the columns {', '.join(names)}"
        raise PipelineError(
            f"the staging table {CORRECTIONS_TABLE} {state}, where stage writes "
            f"{', '.join(models.CORRECTION_COLUMNS)}: run `python -m loader stage` again"
        )


def _text_rules(provider: str, ctype: str) -> TextRules:
    try:
        return rules_for(provider, ctype)
    except UnsupportedLocale as exc:
        raise PipelineError(f"{exc}: transform with the dbt engine instead") from None


@dataclass(frozen=True)
class StagingShape:
    """What the staging schema holds, checked against the legacy contract before any row is read."""

    # The target database's locale, for the text rules (pg_text).
    provider: str
    ctype: str
    columns: dict[str, list[io.StagedColumn]]
    snapshot_taken_at: datetime | None
    correction_columns: list[io.StagedColumn]

    def text_rules(self) -> TextRules:
        return _text_rules(self.provider, self.ctype)


def inspect_staging(cursor: psycopg2.extensions.cursor, project: Project) -> StagingShape:
    """The staged tables' columns, checked (a clear error for a missing table or a column of the wrong type), and
    the snapshot's time."""
    cursor.execute("select datlocprovider::text, datctype from pg_database where datname = current_database()")
    provider, ctype = cursor.fetchone() or ("c", "C.UTF-8")
    columns: dict[str, list[io.StagedColumn]] = {
        table: io.staged_columns(cursor, project.staging_schema, table) for table in LEGACY_SCHEMA
    }
    for table, table_columns in columns.items():
        _check_columns(table, table_columns)
    if not io.staged_columns(cursor, project.staging_schema, SNAPSHOT_TABLE):
        raise PipelineError(f"the staging table {SNAPSHOT_TABLE} does not exist: run `python -m loader stage`")
    snapshot_taken_at = io.read_snapshot(cursor, project.staging_schema, SNAPSHOT_TABLE)
    correction_columns = io.staged_columns(cursor, project.staging_schema, CORRECTIONS_TABLE)
    _check_correction_columns(correction_columns)
    return StagingShape(str(provider), str(ctype), columns, snapshot_taken_at, correction_columns)


def _transformed(settings: Settings, project: Project) -> tuple[models.Outputs, datetime | None]:
    """Read the staging tables, run every model, and check conservation; the legacy rows are freed on return."""
    with closing(connect_for_copy(settings.new)) as source:
        # One snapshot for every table read, as a stage running meanwhile must not mix two loads.
        source.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with source.cursor() as cursor:
            shape = inspect_staging(cursor, project)
        legacy: dict[str, models.LegacyTable] = {
            table: models.LegacyTable(
                table, tuple(table_columns), io.read_staged(source, project.staging_schema, table, table_columns)
            )
            for table, table_columns in shape.columns.items()
        }
        # The per-row corrections (rule C2), staged with the legacy tables: from the same snapshot.
        corrections = io.read_staged(source, project.staging_schema, CORRECTIONS_TABLE, shape.correction_columns)
        source.rollback()
    outputs = models.transform(legacy, corrections, shape.snapshot_taken_at, project, shape.text_rules())
    models.check_conservation(legacy, outputs)
    models.check_mart_tests(outputs)
    return outputs, shape.snapshot_taken_at


def run(settings: Settings, variables: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Transform the staged legacy tables into the marts and the quarantine; return the rows written per table.

    Writes the tables dbt writes (dbt_marts.*, dbt_quarantine.rejects, warnings and corrections), with the same
    columns and types, so `python -m loader publish` reads either engine's output alike. Nothing is written unless
    every staged row is migrated or in rejects exactly once, and the marts pass the data tests dbt would fail on.
    `variables` override dbt_project.yml's vars, as `dbt build --vars` does (`{"strict_dates": True}`).
    """
    project = load_project(variables=variables)
    outputs, snapshot_taken_at = _transformed(settings, project)
    tables = {project.marts[name]: frame for name, frame in outputs.marts.items()}
    tables[project.rejects] = outputs.rejects
    tables[project.warnings] = outputs.warnings
    tables[project.corrections] = outputs.corrections
    # Swapped in with the rest, in the same transaction: the stamp names exactly the outputs beside it.
    tables[project.stamp] = pd.DataFrame({"snapshot_taken_at": [snapshot_taken_at]})
    del outputs
    with connect(settings.new) as target:
        return io.write_outputs(target, tables)
