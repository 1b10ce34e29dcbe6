"""Publish: upsert the dbt marts into the Alembic tables, set-based, in one transaction, behind gates.

Every statement is an INSERT … SELECT, UPDATE or DELETE run inside PostgreSQL; no row passes through Python.
Rows are keyed by their legacy ids, so surrogate ids stay the same from run to run, and only rows whose
values changed are written, so a second run writes nothing.

Two write paths, chosen per table:
- incremental (the table holds rows): `INSERT … SELECT … ON CONFLICT (legacy key) DO UPDATE` of the rows
  that are new or differ (a hash join against the table finds them, so unchanged rows are neither written
  nor locked); foreign keys and the unique username/email are deferred to the commit, so rows may be
  re-pointed, swapped and deleted in any order. Deferred keys are checked per written row, which is cheap
  for a few thousand changed rows.
- bulk (the table is empty: a first migration): its keys and indexes are dropped, the rows inserted in
  legacy-id order, and the keys rebuilt and validated, each in one pass. Checking a million foreign keys
  row by row at commit costs more than the whole insert; one validating join costs a fraction. DDL is
  transactional, so a failure or a kill before the commit leaves the tables, keys and all, as they were.

Gates: before writing, conservation (every staged legacy row migrated, merged or rejected, exactly once;
every per-row correction applied, stale or unparseable, and each applied one still true of its legacy row)
and the error budget (rejected share per legacy table); after writing and before the commit, a
reconciliation of business values between the staged legacy rows and the target. A failed gate raises
GateFailed and the caller rolls back: nothing is published.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, delete, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError

from loader.core.contract import LOCK_CLASS, PUBLISH_LOCK
from loader.core.errors import PipelineError
from loader.core.log import progress_bar
from loader.publish.gates import (
    ChangeLimit,
    GateFailed,
    GateResult,
    RejectBudget,
    budget_gates,
    classified_counts,
    conservation_gates,
    correction_gates,
    legacy_high_water,
    legacy_shrink_gates,
    require_current_transform,
    row_counts,
    target_change_gates,
)
from loader.publish.ledger import DEFAULT_KEEP_RUNS, append_ledger, drop_old_ledger_partitions
from loader.publish.reconcile import reconciliation_gates
from loader.publish.relations import WRITE_ORDER, categories, categories_mart, products
from loader.publish.write import (
    DeletePolicy,
    bulk_tables,
    delete_or_count_missing,
    drop_keys,
    insert_all,
    mart_sources,
    restore_keys,
    upsert,
)

# How long publish waits for another publish's transaction (a killed run's, until its server session
# notices, within seconds) before giving up.
PUBLISH_LOCK_WAIT = "60s"


@dataclass(frozen=True)
class PublishResult:
    written: dict[str, int]
    deleted: dict[str, int]
    ledger_rows: int
    gates: tuple[GateResult, ...]
    # Tables written on the bulk path (empty before, keys rebuilt), for the report.
    bulk_tables: tuple[str, ...] = ()
    # Target rows whose legacy row is gone or no longer migrates, left in place by --on-missing keep.
    kept: dict[str, int] = field(default_factory=dict)
    # Ledger partitions of runs older than the last `keep_runs` published ones, dropped in this transaction.
    ledger_partitions_dropped: tuple[str, ...] = ()
    keep_runs: int = DEFAULT_KEEP_RUNS


# --- gates before writing -----------------------------------------------------------------------------------


# --- reconciliation after writing ---------------------------------------------------------------------------


# --- writing ------------------------------------------------------------------------------------------------


def _take_publish_lock(conn: Connection) -> None:
    conn.execute(text(f"set local lock_timeout = '{PUBLISH_LOCK_WAIT}'"))
    try:
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, PUBLISH_LOCK)))
    except OperationalError as exc:
        if "lock timeout" not in str(exc.orig):
            raise
        raise PipelineError(
            f"another run has been publishing to this target database for over {PUBLISH_LOCK_WAIT}; "
            "wait for it to finish and retry"
        ) from None
    conn.execute(text("set local lock_timeout = 0"))


def publish(
    conn: Connection,
    run_id: int,
    delete_policy: DeletePolicy = "delete",
    *,
    budget: RejectBudget | None = None,
    change_limit: ChangeLimit | None = None,
    keep_runs: int = DEFAULT_KEEP_RUNS,
) -> PublishResult:
    """Write the marts into the target tables within the caller's transaction, behind the gates.

    Raises GateFailed (after writing, for the reconciliation) when a gate fails: the caller must then roll
    back, as it must for any exception. The caller commits; a dry run rolls back instead.
    """
    budget = budget or RejectBudget()
    change_limit = change_limit or ChangeLimit()
    _take_publish_lock(conn)
    # Per sort and hash: room for the million-row sorts and joins in memory rather than in temporary files.
    conn.execute(text("set local work_mem = '64MB'"))
    conn.execute(text("set local maintenance_work_mem = '256MB'"))
    # A killed publish's statement stops within seconds instead of running on for nobody.
    conn.execute(text("set local client_connection_check_interval = '2s'"))

    require_current_transform(conn)
    counts = classified_counts(conn)
    gates = [
        *conservation_gates(conn, counts),
        *correction_gates(conn),
        *budget_gates(counts, budget),
        *legacy_shrink_gates(counts, legacy_high_water(conn), change_limit),
    ]
    if not all(gate.passed for gate in gates):
        raise GateFailed(gates)
    held = row_counts(conn)

    # Foreign keys and secondary unique keys are checked at commit, once every table is in its final state.
    conn.execute(text("set constraints all deferred"))
    bulk = bulk_tables(conn)
    drop_keys(conn, bulk)
    bulk_names = {t.name for t in bulk}
    deleted, kept = delete_or_count_missing(conn, delete_policy, skip=bulk_names)

    written: dict[str, int] = {}
    written["product_categories"] = int(
        conn.execute(
            pg_insert(categories)
            .from_select(["name"], select(categories_mart.c.name))
            .on_conflict_do_nothing(index_elements=["name"])
        ).rowcount
    )
    sources = mart_sources()
    with progress_bar(total=len(WRITE_ORDER), desc="publish", unit=" tables") as bar:
        for target in WRITE_ORDER:
            bar.set_postfix_str(target.name)
            key, source = sources[target.name]
            write = insert_all if target in bulk else upsert
            written[target.name] = write(conn, target, key, source)
            bar.update(1)
    restore_keys(conn, bulk)
    if delete_policy == "delete":
        used = exists().where(products.c.category_id == categories.c.category_id)
        deleted["product_categories"] = int(conn.execute(delete(categories).where(~used)).rowcount)
    # Reported with the reconciliation's results, so a failed run names every gate that failed.
    gates += target_change_gates(held, row_counts(conn), written, deleted, change_limit)

    ledger_rows = append_ledger(conn, run_id)
    gates += reconciliation_gates(conn, delete_policy)
    if not all(gate.passed for gate in gates):
        raise GateFailed(gates)
    # Last, once every gate has passed: a run that publishes nothing drops nothing.
    dropped = drop_old_ledger_partitions(conn, run_id, keep_runs)
    return PublishResult(
        written=written,
        deleted=deleted,
        ledger_rows=ledger_rows,
        gates=tuple(gates),
        bulk_tables=tuple(sorted(bulk_names, key=[t.name for t in WRITE_ORDER].index)),
        kept=kept,
        ledger_partitions_dropped=dropped,
        keep_runs=keep_runs,
    )
