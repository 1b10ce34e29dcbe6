"""The migration ledger: each run's quarantine, appended as the run's own partition of migration_ledger."""

from __future__ import annotations

from sqlalchemy import Connection, cast, column, func, insert, literal, select, table, text
from sqlalchemy.dialects.postgresql import REGCLASS

from loader.core.contract import QUARANTINE_TABLES
from loader.publish.relations import ledger, quarantine


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
