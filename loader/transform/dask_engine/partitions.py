"""The dask engine's partitions: ranges of legacy ids, each read by a worker straight from the staging table.

A partition holds the rows whose id falls in its range, so every copy of a repeated id is in one partition (rule K1
reads the copies of one id together); the rows without an id are a partition of their own. Each row is named by a
row key, its partition's number times 2**ROW_KEY_BITS plus its position there: unique across the table, and a
result keyed by row key names its partition (the key shifted right by ROW_KEY_BITS; engine.py's stash).

Every worker reads in the snapshot the engine exported (`SET TRANSACTION SNAPSHOT`), so all partitions of all
tables are one consistent state of staging, as the pandas engine's single transaction reads it. A partition is read
in storage (ctid) order, so reading it again in that snapshot gives every row the same row key.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

import pandas as pd
import psycopg2.extensions
from psycopg2 import sql as copy_sql

from loader.core.config import Database
from loader.core.db import connect_for_copy
from loader.core.errors import PipelineError
from loader.transform.pandas_engine import io
from loader.transform.pandas_engine.models import LegacyTable

# A partition holds fewer rows than 2**40; a table fewer than 2**23 partitions (row keys stay in a bigint).
ROW_KEY_BITS = 40
MAX_PARTITIONS = 2 ** (63 - ROW_KEY_BITS)


@dataclass(frozen=True)
class Partition:
    """The rows of one staging table a task reads: ids in [low, high) (an open end where None), or no id at all."""

    table: str
    number: int
    low: int | None
    high: int | None
    null_ids: bool = False

    def holds(self, legacy_id: int) -> bool:
        """Whether this partition's range holds the id (never the partition of the rows without one)."""
        return (
            not self.null_ids
            and (self.low is None or legacy_id >= self.low)
            and (self.high is None or legacy_id < self.high)
        )

    @property
    def first_key(self) -> int:
        return self.number << ROW_KEY_BITS

    def where(self) -> copy_sql.Composable:
        if self.null_ids:
            return copy_sql.SQL("id is null")
        bounds: list[copy_sql.Composable] = [copy_sql.SQL("id is not null")]
        if self.low is not None:
            bounds.append(copy_sql.SQL("id >= {}").format(copy_sql.Literal(self.low)))
        if self.high is not None:
            bounds.append(copy_sql.SQL("id < {}").format(copy_sql.Literal(self.high)))
        return copy_sql.SQL(" and ").join(bounds)


def plan(cursor: psycopg2.extensions.cursor, schema: str, table: str, rows_per_partition: int) -> list[Partition]:
    """The table's partitions: id ranges of about rows_per_partition rows (more where one id repeats across a
    boundary: its copies stay together), then the rows without an id. The server sorts the ids; none is fetched
    but the boundaries."""
    cursor.execute(
        copy_sql.SQL(
            """
            select numbered.id from (
                select id, row_number() over (order by id) as position from {} where id is not null
            ) as numbered
            where (numbered.position - 1) %% %s = 0
            order by numbered.id
            """
        ).format(copy_sql.Identifier(schema, table)),
        (rows_per_partition,),
    )
    # A boundary inside a run of one repeated id appears once: the run stays in one partition.
    starts = list(dict.fromkeys(int(row[0]) for row in cursor.fetchall()))
    partitions = [
        Partition(
            table, number, None if number == 0 else start, starts[number + 1] if number + 1 < len(starts) else None
        )
        for number, start in enumerate(starts)
    ]
    if not partitions:
        partitions = [Partition(table, 0, None, None)]
    if len(partitions) >= MAX_PARTITIONS:
        raise PipelineError(
            f"{schema}.{table} would be {len(partitions)} partitions of DASK_PARTITION_ROWS={rows_per_partition} "
            f"rows, more than the {MAX_PARTITIONS - 1} the row keys can number: set DASK_PARTITION_ROWS higher"
        )
    partitions.append(Partition(table, len(partitions), None, None, null_ids=True))
    return partitions


def read(
    database: Database, snapshot: str, schema: str, columns: tuple[io.StagedColumn, ...], partition: Partition
) -> LegacyTable:
    """One partition of a staging table (a dask task), read through COPY in the engine's exported snapshot."""
    with closing(connect_for_copy(database)) as connection:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("set transaction snapshot %s", (snapshot,))
        # In storage order: a partition read again later in the run (engine.py) gets the same row keys.
        rows = io.read_staged(
            connection, schema, partition.table, columns, where=partition.where(), in_storage_order=True
        )
        connection.rollback()
    if len(rows) >= 1 << ROW_KEY_BITS:
        raise PipelineError(f"{partition.table}: a partition of {len(rows)} rows, more than its row keys can number")
    rows.index = pd.RangeIndex(partition.first_key, partition.first_key + len(rows), name="row_key")
    return LegacyTable(partition.table, columns, rows)
