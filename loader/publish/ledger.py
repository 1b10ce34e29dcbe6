"""The migration ledger: each run's quarantine, appended as the run's own partition of migration_ledger, and
the partitions of runs older than the last few published ones dropped."""

from __future__ import annotations

import logging
import re

from sqlalchemy import Connection, cast, column, func, insert, literal, select, table, text
from sqlalchemy.dialects.postgresql import REGCLASS

from loader.core.contract import QUARANTINE_TABLES
from loader.core.models import MigrationRun, table_of
from loader.publish.relations import ledger, quarantine

logger = logging.getLogger(__name__)

# Every run's partition is as large as the quarantine, so the ledger is bounded at ten of them: enough to compare
# the last runs of a review loop (mappings and corrections landing), while each run's figures stay in its
# migration_runs summary for good.
DEFAULT_KEEP_RUNS = 10

# The upper bound of a range partition, as pg_get_expr prints it: "FOR VALUES FROM ('41') TO ('42')".
_UPPER_BOUND = re.compile(r"\bTO \('?(-?\d+)'?\)")


def ledger_partition(run_id: int) -> str:
    """The name of the ledger partition that holds one run's entries."""
    return f"{ledger.name}_run_{run_id}"


def append_ledger(conn: Connection, run_id: int) -> int:
    """Append this run's rejects, merges and warnings to the ledger, which keeps every run.

    They go into a new table without keys, which is then attached as the run's partition of the ledger:
    attaching builds its indexes from the sorted rows and checks the foreign key to the run in one join,
    where inserting into the ledger itself would update both indexes and check the key once per row.
    """
    quote = conn.dialect.identifier_preparer.quote
    name = ledger_partition(run_id)
    conn.execute(text(f"create table {quote(name)} (like {quote(ledger.name)} including defaults)"))
    partition = table(name, *(column(c.name) for c in ledger.c))
    # The partition has no identity of its own: its ids come from the ledger's, so they never repeat. The
    # sequence is looked up once here, not once per row.
    sequence: str = conn.execute(select(func.pg_get_serial_sequence(ledger.name, ledger.c.ledger_id.name))).scalar_one()
    next_id = func.nextval(cast(literal(sequence), REGCLASS))
    total = 0
    for source_name in QUARANTINE_TABLES:
        source = quarantine(source_name)
        rows = select(
            next_id.label("ledger_id"),
            literal(run_id).label("run_id"),
            source.c.legacy_table,
            source.c.legacy_id,
            cast(source.c.outcome, ledger.c.outcome.type).label("outcome"),
            source.c.stage,
            source.c.reason_code,
            source.c.column_name,
            source.c.raw_value,
            source.c.merged_into_legacy_id,
            source.c.legacy_row.label("raw_row"),
            source.c.evidence,
        )
        total += int(
            conn.execute(insert(partition).from_select([c.name for c in rows.selected_columns], rows)).rowcount
        )
    bounds = f"from ({int(run_id)}) to ({int(run_id) + 1})"  # DDL takes no parameters; two integers
    conn.execute(text(f"alter table {quote(ledger.name)} attach partition {quote(name)} for values {bounds}"))
    return total


def drop_old_ledger_partitions(conn: Connection, run_id: int, keep_runs: int) -> tuple[str, ...]:
    """Drop the ledger partitions that hold only runs older than the last `keep_runs` published runs, this one
    counted; return their names, oldest first.

    Published runs are the ones that count: a plan or a failed run rolls back and attaches nothing. A partition
    that also holds a kept run (the one revision 0004 made of all the runs before it) stays whole. Dropping is
    DDL in the caller's transaction: a rollback, or a kill before the commit, keeps every partition.
    """
    if keep_runs < 1:
        raise ValueError(f"keep_runs must be 1 or more, not {keep_runs}")
    runs = table_of(MigrationRun)
    kept = (
        select(runs.c.run_id)
        .where(runs.c.status == "published", runs.c.run_id < run_id)
        .order_by(runs.c.run_id.desc())
        .limit(keep_runs - 1)
    )
    # The oldest run kept: this one, or the oldest of the published runs before it that are kept with it.
    oldest_kept = min([run_id, *conn.execute(kept).scalars()])
    partitions = conn.execute(
        text(
            "select child.relname, pg_get_expr(child.relpartbound, child.oid) from pg_inherits "
            "inner join pg_class as child on child.oid = pg_inherits.inhrelid "
            "where pg_inherits.inhparent = cast(:ledger as regclass)"
        ),
        {"ledger": ledger.name},
    ).all()
    doomed: list[tuple[int, str]] = []
    for name, bound in partitions:
        upper = _UPPER_BOUND.search(str(bound or ""))
        # A partition's runs are all below its upper bound; one with no upper bound (a default one) is kept.
        if upper and int(upper.group(1)) <= oldest_kept and str(name) != ledger_partition(run_id):
            doomed.append((int(upper.group(1)), str(name)))
    quote = conn.dialect.identifier_preparer.quote
    dropped = tuple(name for _, name in sorted(doomed))
    for name in dropped:
        conn.execute(text(f"drop table {quote(name)}"))
    if dropped:
        logger.info("ledger: dropped %d partition(s) of runs before run %d: %s", len(dropped), oldest_kept, dropped)
    return dropped
