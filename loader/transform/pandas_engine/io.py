"""The pandas engine's way in and out: staging tables read through COPY, marts and quarantine written through COPY.

Reading (psycopg2, whose COPY runs in C): `COPY (select …) TO STDOUT (FORMAT csv)` streams each staging table
into a temporary file, and Arrow's multithreaded CSV reader turns the file into Arrow-backed columns: text as
pandas `str` (Arrow strings, no Python object per value), integers as nullable Int16/32/64. CSV tells NULL
(unquoted empty) from '' (quoted empty), so nothing is lost on the way. Writing (psycopg 3, a block per write):
each output frame goes to Arrow, then to CSV in batches of BATCH_ROWS rows, into `COPY … FROM STDIN` on a fresh
table; all of them are swapped in at the end of one transaction, so a failure leaves the previous tables (dbt's
or this engine's) as they were.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import pandas as pd
import psycopg
import psycopg2.extensions
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql
from psycopg2 import sql as copy_sql

from loader.core.errors import PipelineError

ColumnKind = Literal["integer", "text", "json"]
# Output rows per CSV batch: a few MiB of CSV at a time, whatever the table's size.
BATCH_ROWS = 100_000
LOADING_SUFFIX = "__pandas_loading"
_INTEGER_TYPES = {"smallint": pa.int16(), "integer": pa.int32(), "bigint": pa.int64()}
_TEXT_TYPES = ("text", "character varying", "character")


@dataclass(frozen=True)
class StagedColumn:
    """A staging column as the engine reads it: integers and text as they are, any other type as its JSON."""

    name: str
    type_sql: str

    @property
    def kind(self) -> ColumnKind:
        if self.type_sql in _INTEGER_TYPES:
            return "integer"
        if self.type_sql.startswith(_TEXT_TYPES):
            return "text"
        # A column beyond the legacy contract (a timestamp, a boolean…) only travels in the legacy row's JSON and
        # in rule O3's comparison, so it is read as PostgreSQL's own to_jsonb() text: as the dbt models see it.
        return "json"

    def select_sql(self) -> copy_sql.Composable:
        column = copy_sql.Identifier(self.name)
        if self.kind == "json":
            return copy_sql.SQL("to_jsonb({})::text as {}").format(column, column)
        return column

    def arrow_type(self) -> pa.DataType:
        return _INTEGER_TYPES.get(self.type_sql, pa.string())


def staged_columns(cursor: psycopg2.extensions.cursor, schema: str, table: str) -> list[StagedColumn]:
    """A staging table's columns in order; an empty list when the table does not exist."""
    cursor.execute(
        """
        select attribute.attname, format_type(attribute.atttypid, null)
        from pg_attribute as attribute
        where attribute.attrelid = to_regclass(%s) and attribute.attnum > 0 and not attribute.attisdropped
        order by attribute.attnum
        """,
        (copy_sql.Identifier(schema, table).as_string(cursor),),
    )
    return [StagedColumn(str(name), str(type_sql)) for name, type_sql in cursor.fetchall()]


def read_staged(
    connection: psycopg2.extensions.connection,
    schema: str,
    table: str,
    columns: Sequence[StagedColumn],
    where: copy_sql.Composable | None = None,
    *,
    in_storage_order: bool = False,
) -> pd.DataFrame:
    """One staging table (or its rows `where` selects) as a DataFrame of Arrow-backed columns, streamed through COPY
    and a temporary file. `in_storage_order`: sorted by ctid, so a second read in the same snapshot gives the rows
    in the same order (a plain scan need not: a synchronized scan starts where another one is)."""
    query = copy_sql.SQL("copy (select {} from {} where {}{}) to stdout with (format csv)").format(
        copy_sql.SQL(", ").join(column.select_sql() for column in columns),
        copy_sql.Identifier(schema, table),
        where if where is not None else copy_sql.SQL("true"),
        copy_sql.SQL(" order by ctid" if in_storage_order else ""),
    )
    with tempfile.TemporaryFile(prefix="pandas-engine-") as spool:
        with connection.cursor() as cursor:
            cursor.copy_expert(query.as_string(connection), spool, size=1 << 16)
        # Arrow refuses a CSV of no bytes at all: a table without rows (no corrections, say) is its columns alone.
        if spool.tell() == 0:
            arrow = pa.schema([(column.name, column.arrow_type()) for column in columns]).empty_table()
        else:
            spool.seek(0)
            arrow = pa_csv.read_csv(
                spool,
                read_options=pa_csv.ReadOptions(column_names=[column.name for column in columns]),
                # COPY quotes a value holding a newline; the reader must allow one.
                parse_options=pa_csv.ParseOptions(newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(
                    column_types={column.name: column.arrow_type() for column in columns},
                    null_values=[""],
                    strings_can_be_null=True,
                    # COPY writes NULL as an unquoted empty field and '' as a quoted one.
                    quoted_strings_can_be_null=False,
                ),
            )
    integer_dtypes = {
        pa.int16(): pd.Int16Dtype(),
        pa.int32(): pd.Int32Dtype(),
        pa.int64(): pd.Int64Dtype(),
    }
    frame: pd.DataFrame = arrow.to_pandas(types_mapper=integer_dtypes.get, self_destruct=True)
    return frame


def read_snapshot(cursor: psycopg2.extensions.cursor, schema: str, table: str) -> datetime | None:
    """When the legacy snapshot was taken; the dbt models expect exactly one row (and test that they get it)."""
    cursor.execute(copy_sql.SQL("select taken_at from {}").format(copy_sql.Identifier(schema, table)))
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise PipelineError(
            f"{schema}.{table} holds {len(rows)} rows where the stage writes one; run `python -m loader stage` again"
        )
    value = rows[0][0]
    return value if isinstance(value, datetime) else None


@dataclass(frozen=True)
class OutputColumn:
    name: str
    type_sql: str
    constraints: str = ""


@dataclass(frozen=True)
class OutputTable:
    """A table the engine writes, in the shape dbt gives it (the marts' contracts, the quarantine's columns)."""

    schema: str
    name: str
    columns: tuple[OutputColumn, ...]

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]

    def create_sql(self, name: str) -> sql.Composed:
        definitions = sql.SQL(", ").join(
            sql.SQL("{} {} {}").format(sql.Identifier(c.name), sql.SQL(c.type_sql), sql.SQL(c.constraints))
            for c in self.columns
        )
        return sql.SQL("create table {} ({})").format(sql.Identifier(self.schema, name), definitions)


def _csv_batches(frame: pd.DataFrame) -> Any:
    """The frame as CSV for COPY, BATCH_ROWS rows at a time: NULL unquoted and empty, every value quoted."""
    options = pa_csv.WriteOptions(include_header=False, quoting_style="all_valid")
    for start in range(0, len(frame), BATCH_ROWS):
        batch = pa.Table.from_pandas(frame.iloc[start : start + BATCH_ROWS], preserve_index=False)
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, write_options=options)
        yield buffer.getvalue()


def copy_frame(cursor: psycopg.Cursor[Any], table: OutputTable, name: str, frame: pd.DataFrame) -> None:
    """The frame's rows into the table `name` of table's schema, in table's columns, through COPY in CSV batches."""
    statement = sql.SQL("copy {} ({}) from stdin with (format csv)").format(
        sql.Identifier(table.schema, name), sql.SQL(", ").join(map(sql.Identifier, table.column_names))
    )
    with cursor.copy(statement) as copy:
        for block in _csv_batches(frame[table.column_names]):
            copy.write(block)


def write_outputs(conn: psycopg.Connection[Any], outputs: Mapping[OutputTable, pd.DataFrame]) -> dict[str, int]:
    """Write every output into a fresh table and swap them all in, in the connection's one transaction."""
    written: dict[str, int] = {}
    with conn.cursor() as cursor:
        for schema in sorted({table.schema for table in outputs}):
            cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        for table, frame in outputs.items():
            loading = table.name + LOADING_SUFFIX
            cursor.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(table.schema, loading)))
            cursor.execute(table.create_sql(loading))
            copy_frame(cursor, table, loading, frame)
            written[table.name] = len(frame)
        swap_in(cursor, outputs, LOADING_SUFFIX)
    conn.commit()
    return written


def swap_in(cursor: psycopg.Cursor[Any], tables: Iterable[OutputTable], suffix: str) -> None:
    """Each table's loading copy (its name + suffix) in place of the table, in the cursor's transaction."""
    for table in tables:
        final = sql.Identifier(table.schema, table.name)
        cursor.execute(sql.SQL("drop table if exists {}").format(final))
        cursor.execute(
            sql.SQL("alter table {} rename to {}").format(
                sql.Identifier(table.schema, table.name + suffix), sql.Identifier(table.name)
            )
        )
        # Publish joins these next: plan it on real row counts, as dbt's post-hook does.
        cursor.execute(sql.SQL("analyze {}").format(final))
