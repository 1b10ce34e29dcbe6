"""The dask engine: the pandas engine's models, run by partition on a dask.distributed cluster (docs/dask-engine.md).

Every step is a function of loader.transform.pandas_engine.models, run on rows that hold what it reads:
- row by row, or by legacy id (the staging parse, K1, the classification, marts, rejects, warnings): on each id-range
  partition of the staging table, where it was read (partitions.py);
- by another key (U2 by username, U1 by email, O3 by the whole row, O1 by user key, O7 by legacy user id, O2 by
  product name): the narrow columns it reads are shuffled by that key (dask's p2p shuffle, on disk), the step runs on
  each shuffled partition, which holds every row of its keys, and writes its results to the run's stash (a table in
  the target), by the id-range partition each row is in (its row key says which). A step whose results another keyed
  step reads (U2's for U1, O1's for O7) passes them on from the shuffled partition, into that step's shuffle.
No table passes through one process: a partition of users or orders is read and parsed by one task, which keeps
only its keyed steps' inputs, and read and parsed again (in the same snapshot, so with the same row keys) by the task
that classifies and writes it, with its rows' results from the stash. (The products, few, are classified once and
held until O2 and their writes have read them.) Later steps run before earlier ones (task priorities), and the
driver holds no future it no longer needs, so each result leaves the worker's memory once used. The driver holds the
writes' futures, the corrections and the product categories.
Workers write their partitions' marts and quarantine with COPY into loading tables; the driver checks them in SQL
(conservation, the marts' data tests) and swaps them in, in one transaction, so a failure leaves the previous
tables (of any engine) as they were.
"""

from __future__ import annotations

import itertools
import logging
import operator
import resource
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from distributed import Client, Future, LocalCluster
from psycopg import sql

from loader.core.config import Database, Settings
from loader.core.contract import CORRECTIONS_TABLE, LEGACY_TABLE_MARTS
from loader.core.db import connect, connect_for_copy
from loader.core.errors import ConfigError, PipelineError
from loader.transform.dask_engine import partitions
from loader.transform.dask_engine.partitions import ROW_KEY_BITS, Partition
from loader.transform.pandas_engine import io, models, parse
from loader.transform.pandas_engine.engine import StagingShape, inspect_staging
from loader.transform.pandas_engine.io import OutputTable
from loader.transform.pandas_engine.pg_text import TextRules
from loader.transform.pandas_engine.project import Project, load_project

logger = logging.getLogger(__name__)
LOADING_SUFFIX = "__dask_loading"
# The side of a keyed step's input a row comes from: the rows to resolve, or what they are resolved against.
_ASKING, _ANSWERING = 0, 1
# Task priorities (dask runs a higher one first): what hands on what a worker holds (into a shuffle, which puts it on
# disk) first, then a partition's last task (which writes it), then the next partition's first read. So a worker
# passes on what it has read before it reads more, and the users' answers for the orders' keyed steps go into their
# shuffles as they are made. Without them dask runs the tasks in the order they were handed over: every partition's
# first step, then every partition's second, holding each step's results for every partition at once. Among tasks of
# one priority it still does: so each keyed step runs one higher than the step before (_Run._keyed), and its shuffle
# takes what that step passes on as each shuffled partition makes it, not once every one has.
_FIRST, _LAST, _KEYED = 0, 1, 2
# How long dropping a loading table or a stash waits for another session's lock before leaving it to the next run.
_DROP_LOCK_TIMEOUT = "5s"
# How many shuffle messages a worker of the local cluster sends at a time (dask's default is 10). Each of dask's
# sending coroutines keeps the last message it sent until it sends another (distributed 2026.8): with one worker
# that is a whole partition's shard per coroutine and shuffle, 150 to 280 MiB of a worker's peak at 1 M orders
# (tracemalloc and gc referrers in the worker). Two sends at a time keep one per destination with two workers.
_P2P_SENDS = 2
# What the local cluster's workers are started with: those sends, and no statistical profile of their tasks. A
# worker samples its running task's stack every 10 ms and keeps a profile per second for its last 1 000 seconds, for
# a dashboard this engine does not start, so its memory grew with the run's length (tracemalloc in a worker): at 10 M
# orders, between the orders' last tasks, from 516 to 714 MiB with it, 357 to 377 MiB without.
_WORKER_CONFIG = {"distributed.p2p.comm.concurrency": _P2P_SENDS, "distributed.worker.profile.enabled": False}


def run(settings: Settings, variables: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Transform the staged legacy tables into the marts and the quarantine on a dask cluster; rows written per table.

    The same tables, columns and rows as the pandas engine (and dbt) write; `variables` as for the pandas engine.
    """
    project = load_project(variables=variables)
    with cluster_client(settings) as client:
        written = _Run(settings, project, client).execute()
        peaks = client.run(_peak_rss_mib)
    logger.info(
        "dask workers' peak memory: %s MiB", ", ".join(f"{peak:.0f}" for peak in sorted(peaks.values(), reverse=True))
    )
    return written


@contextmanager
def cluster_client(settings: Settings) -> Iterator[Client]:
    """A client of the scheduler DASK_SCHEDULER_ADDRESS names, or of a local cluster of DASK_WORKERS processes."""
    # Dask's own progress is noise in the run's log; the p2p shuffle logs every shuffle it starts at WARNING.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    address = settings.dask_scheduler_address
    if address:
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(
                f"cannot reach the dask scheduler at {address} (DASK_SCHEDULER_ADDRESS): {exc}; start it "
                "(`dask scheduler`, then `dask worker <address>` on each machine), or unset it for a local cluster"
            ) from None
        with client:
            yield client
        return
    with (
        # Read by each worker's process as the nanny starts it.
        dask.config.set(_WORKER_CONFIG),
        LocalCluster(
            n_workers=settings.dask_workers,
            threads_per_worker=1,
            processes=True,
            memory_limit=settings.dask_worker_memory,
            # No dashboard; the scheduler's HTTP server (health, metrics) starts anyway, on a free port rather than
            # on 8787, which a second local cluster found taken (and warned about).
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.ERROR,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass(frozen=True)
class _Reading:
    """What a task needs to read a partition of staging: in the run's exported snapshot, the table's columns."""

    database: Database
    snapshot: str
    schema: str
    columns: Mapping[str, tuple[io.StagedColumn, ...]]

    def read(self, partition: Partition) -> models.LegacyTable:
        return partitions.read(self.database, self.snapshot, self.schema, self.columns[partition.table], partition)


@dataclass(frozen=True)
class _Answers:
    """What the orders' keyed steps read of the users, per user partition: O1's answering side (user_candidates) and
    the registration dates O7 reads (the users not rejected: legacy_user_id, registered_at)."""

    candidates: list[Future[Any]]
    registrations: list[Future[Any]]


class _Run:
    def __init__(self, settings: Settings, project: Project, client: Client) -> None:
        self.settings = settings
        self.project = project
        self.client = client
        # This run's loading tables: a name of their own, so a task of an earlier run never writes into them.
        self.loading_suffix = f"{LOADING_SUFFIX}_{secrets.token_hex(4)}"
        self.keyed_steps = 0

    def submit(self, function: Callable[..., Any], *args: Any, priority: int = 0) -> Future[Any]:
        # The driver keeps a future only while it needs it: a future it holds keeps its result in a worker's memory.
        # If the run fails, closing the client releases every task it handed over (run()'s `with`): those queued
        # never start, and a running one's writes go to this run's loading tables and stash, which the failure drops.
        return self.client.submit(function, *args, pure=False, priority=priority)

    def item(self, future: Future[Any], position: int, priority: int) -> Future[Any]:
        """One part of a task's tuple, as a future of its own."""
        return self.submit(operator.getitem, future, position, priority=priority)

    def execute(self) -> dict[str, int]:
        settings, project = self.settings, self.project
        schema = project.staging_schema
        with closing(connect_for_copy(settings.new)) as source:
            # One snapshot for every partition of every table: the workers import the one this transaction exports.
            # It stays open to the end of the run: the users' and orders' partitions are read twice (see _users), those
            # holding a corrected id once more first, and a worker lost mid-run has its partitions read again alike.
            source.set_session(isolation_level="REPEATABLE READ", readonly=True)
            with source.cursor() as cursor:
                # Idle in its transaction while the workers run: a server-wide timeout must not end it midway.
                cursor.execute("set idle_in_transaction_session_timeout = 0")
                shape = inspect_staging(cursor, project)
                cursor.execute("select pg_export_snapshot()")
                snapshot = str((cursor.fetchone() or ("",))[0])
                plans = {
                    table: partitions.plan(cursor, schema, table, settings.dask_partition_rows)
                    for table in shape.columns
                }
            corrections = io.read_staged(source, schema, CORRECTIONS_TABLE, shape.correction_columns)
            self.reading = _Reading(
                settings.new, snapshot, schema, {table: tuple(columns) for table, columns in shape.columns.items()}
            )
            self.stash = _Stash(settings.new, project.rejects.schema, "dask_stash" + self.loading_suffix)
            tables = self._create_loading_tables()
            swapped = False
            try:
                writes, staged_corrections, corrected_legacy = self._transform(plans, corrections, shape)
                counts: dict[str, int] = {}
                categories: list[pd.Series] = []
                for written, found in self.client.gather(writes):
                    for name, rows in written.items():
                        counts[name] = counts.get(name, 0) + rows
                    categories.append(found)
                _drop(settings.new, [(self.stash.schema, self.stash.name)])
                snapshot_taken_at = shape.snapshot_taken_at
                counts |= self._finish(tables, categories, staged_corrections, corrected_legacy, snapshot_taken_at)
                swapped = True
            finally:
                if not swapped:
                    _drop(
                        settings.new,
                        [(table.schema, table.name + self.loading_suffix) for table in tables]
                        + [(self.stash.schema, self.stash.name)],
                    )
            source.rollback()
        return {table.name: counts.get(table.name, 0) for table in tables}

    def _transform(
        self, plans: Mapping[str, Sequence[Partition]], corrections: pd.DataFrame, shape: StagingShape
    ) -> tuple[list[Future[Any]], pd.DataFrame, dict[str, models.LegacyTable]]:
        """Every partition's tasks, handed to the cluster: the futures of its writes (rows written per table, the
        product categories it names), the staged corrections and the legacy rows they name.

        Only the writes' futures leave: as each task's dependants finish, its result leaves the worker's memory."""
        rules = shape.text_rules()
        project, currencies = models.prepare(self.project, rules)
        self.project = project
        # Sent to every worker once, not with every task: the project holds the seeds, the rules the locale's tables.
        self.shared_project, shared_rules, shared_currencies = self.client.scatter(
            [project, rules, currencies], broadcast=True
        )
        # Each correction as if its row were gone (stale); then the partitions that hold a corrected id say otherwise.
        staged_corrections = models.stage_corrections(corrections, {}, project, rules, currencies)
        staged_corrections, corrected_legacy = self._stage_corrections(
            plans, corrections, staged_corrections, shared_rules, shared_currencies
        )
        corrections_future = self.client.scatter(staged_corrections, broadcast=True)
        # What dask.dataframe must know of two keyed steps' inputs before they are handed over: O3's columns and O2's
        # schema, from the first partition of the orders and of the products, read for it before any other task.
        # Asked for later, at dask's lowest priority, it waited behind every user partition's last task, and the
        # users' registration dates for O7 (handed over after it) waited in a worker's memory as long.
        first_rows, product_schema = self.submit(
            _input_schemas,
            self.reading,
            plans["old_orders"][0],
            plans["old_products"][0],
            corrections_future,
            shared_rules,
            shared_currencies,
            self.shared_project,
        ).result()

        users, writes = self._users(plans["old_users"], corrections_future, shared_rules)
        raw_products = [self.submit(self.reading.read, part) for part in plans["old_products"]]
        products = [
            self.submit(_products, part, corrections_future, shared_rules, shared_currencies, self.shared_project)
            for part in raw_products
        ]
        database, suffix = self.settings.new, self.loading_suffix
        writes += [
            self.submit(_write_partition, database, suffix, part, rows, self.shared_project, priority=_LAST)
            for part, rows in zip(raw_products, products, strict=True)
        ]
        writes += self._orders(
            plans["old_orders"],
            corrections_future,
            shared_rules,
            shared_currencies,
            users,
            products,
            shape,
            first_rows,
            product_schema,
        )
        return writes, staged_corrections, corrected_legacy

    # Corrections (rule C2): few; each partition that holds a corrected id finds the ones naming its ids.

    def _stage_corrections(
        self,
        plans: Mapping[str, Sequence[Partition]],
        corrections: pd.DataFrame,
        unheld: pd.DataFrame,
        rules: Future[Any],
        currencies: Future[Any],
    ) -> tuple[pd.DataFrame, dict[str, models.LegacyTable]]:
        """The staged corrections, from `unheld` (staged against no rows), and the legacy rows they name (for the
        corrections table's legacy_row). Only the partitions whose range holds a corrected id are read."""
        ids = {
            table: [int(value) for value in corrections.loc[of_table, "legacy_id"].dropna()]
            for table in plans
            if (of_table := models._bools(corrections["legacy_table"] == table)).any()
        }
        found = self.client.gather(
            [
                self.submit(_corrections_of, self.reading, part, corrections, self.shared_project, rules, currencies)
                for table, parts in plans.items()
                for part in parts
                if any(part.holds(legacy_id) for legacy_id in ids.get(table, ()))
            ]
        )
        # A legacy id is in one partition at most: each correction takes the status of the one that holds its id.
        staged = unheld.copy()
        for partial, _ in found:
            held = models._bools(partial["legacy_rows"] > 0)
            staged.loc[held] = partial.loc[held]
        named = [rows for _, rows in found]
        legacy = {
            name: models.LegacyTable(name, columns, pd.concat([part.rows for part in named if part.name == name]))
            for name, columns in {part.name: part.columns for part in named}.items()
        }
        return staged, legacy

    # Users: K1, U4, L1 by partition; U2 by username; U1 by email.

    def _users(
        self, plan: Sequence[Partition], corrections: Future[Any], rules: Future[Any]
    ) -> tuple[_Answers, list[Future[Any]]]:
        """The users' writes, and what the orders' keyed steps read of them."""
        kept = [self.submit(_user_keys, self.reading, part, corrections, rules, self.shared_project) for part in plan]
        emailed = self._keyed(kept, "username", _DUPLICATE_USERNAMES, plan, _frame(_USERNAME_INPUT))
        del kept  # as in _orders: a future the driver holds keeps its result in memory
        lowest = self._keyed(emailed, "email", _LOWEST_EMAILS, plan, _frame(_EMAIL_INPUT))
        del emailed
        # Every shuffled partition of U1 comes after every one of U2 (its shuffle reads them all): U1's are enough.
        stashed = self.submit(_stashed, *lowest, priority=_LAST)
        del lowest
        # Read and parsed again to be classified and written, with the keyed steps' results from the stash.
        finished = [
            self.submit(
                _finish_users,
                self.reading,
                part,
                corrections,
                rules,
                self.stash,
                stashed,
                self.shared_project,
                self.loading_suffix,
                priority=_LAST,
            )
            for part in plan
        ]
        # All three parts at once: the task's result (the answers with it) stays until its last part is taken. At the
        # writes' priority the rows written came after every user partition's last task, and held its answers as long.
        answers = _Answers(
            candidates=[self.item(done, 1, _KEYED) for done in finished],
            registrations=[self.item(done, 2, _KEYED) for done in finished],
        )
        return answers, [self.item(done, 0, _KEYED) for done in finished]

    # Orders: K1 and the parse by partition; O3 by the row; O1 by user key; O7 by user id; O2 by product name.

    def _orders(
        self,
        plan: Sequence[Partition],
        corrections: Future[Any],
        rules: Future[Any],
        currencies: Future[Any],
        users: _Answers,
        products: list[Future[Any]],
        shape: StagingShape,
        first_rows: pd.DataFrame,
        product_schema: dict[str, Any],
    ) -> list[Future[Any]]:
        # The driver drops each list of futures once handed to its step (`del`): a future it holds keeps its result
        # in a worker's memory.
        keys = [self.submit(_order_keys, self.reading, part, corrections, rules, currencies) for part in plan]
        rows, asking_users, asking_products = ([self.item(key, n, _KEYED) for key in keys] for n in range(3))
        del keys
        first_ids = self._keyed(rows, "digest", _FIRST_IDS, plan, first_rows)
        del rows
        # O1's results go on to O7 (the legacy user id each order matched) as well as into the stash.
        matched = self._keyed(asking_users + users.candidates, "key", _USER_MATCH, plan, _frame(_USER_MATCH_SCHEMA))
        del asking_users
        product_match = self._keyed(
            [self.submit(_product_match_asking, part, product_schema, priority=_KEYED) for part in asking_products]
            + [self.submit(_product_match_answering, part, product_schema, priority=_KEYED) for part in products],
            "key",
            _PRODUCT_MATCH,
            plan,
            _frame(product_schema),
        )
        del asking_products
        registered = self._keyed(
            matched + [self.submit(_registration_answering, part, priority=_KEYED) for part in users.registrations],
            "key",
            _REGISTRATION,
            plan,
            _frame(_REGISTRATION_SCHEMA),
        )
        del matched
        # O1's stashing is done once O7's is (O7's shuffle reads every shuffled partition of O1's).
        stashed = self.submit(_stashed, *first_ids, *product_match, *registered, priority=_LAST)
        del first_ids, product_match, registered
        # The partition is read and parsed again to be classified and written, rather than held, parsed, from its
        # first read to its write; the keyed steps' results come from the stash.
        return [
            self.submit(
                _finish_orders,
                self.reading,
                part,
                corrections,
                rules,
                currencies,
                self.stash,
                stashed,
                self.shared_project,
                shape.snapshot_taken_at,
                self.loading_suffix,
                priority=_LAST,
            )
            for part in plan
        ]

    def _keyed(
        self,
        inputs: list[Future[Any]],
        key: str,
        step: _KeyedStep,
        plan: Sequence[Partition],
        input_meta: pd.DataFrame,
    ) -> list[Future[Any]]:
        """Run the step on the rows of each key together (a shuffle by `key` into as many partitions as `plan`), its
        results (indexed by row key) into the stash, by the id-range partition of `plan` each row is in. The
        futures of what each shuffled partition passes on (step.then): the next keyed step's input, or nothing
        (an empty frame, whose future says the step's results are in the stash)."""
        frame = dd.from_delayed(inputs, meta=input_meta, verify_meta=False)
        shuffled = frame.shuffle(on=key, npartitions=max(1, len(plan)))
        passed = shuffled.map_partitions(_Stashing(step, self.stash), meta=step.passes_on)
        # One higher than the step before (see _KEYED).
        priority, self.keyed_steps = _KEYED + self.keyed_steps, self.keyed_steps + 1
        futures: list[Future[Any]] = self.client.compute(passed.to_delayed(), priority=priority)
        return futures

    # Writing: workers COPY their partitions into loading tables; the driver checks and swaps them in.

    def _create_loading_tables(self) -> list[OutputTable]:
        """This run's loading tables, created empty, after dropping any that a killed run left behind (the run lock
        keeps any other run from being under way)."""
        project = self.project
        tables = [*project.marts.values(), project.rejects, project.warnings, project.corrections, project.stamp]
        schemas = sorted({table.schema for table in tables})
        with connect(self.settings.new, autocommit=True) as conn, conn.cursor() as cursor:
            for schema in schemas:
                cursor.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
            cursor.execute(
                "select relnamespace::regnamespace::text, relname from pg_class "
                "where relnamespace::regnamespace::text = any(%s) and relkind = 'r' and relname like %s escape '!'",
                (schemas, "%" + f"{LOADING_SUFFIX}_".replace("_", "!_") + "%"),
            )
            _drop(self.settings.new, cursor.fetchall())
            for table in tables:
                cursor.execute(table.create_sql(table.name + self.loading_suffix))
            cursor.execute(self.stash.create_sql())
        return tables

    def _finish(
        self,
        tables: Sequence[OutputTable],
        categories: Sequence[pd.Series],
        staged_corrections: pd.DataFrame,
        corrected_legacy: Mapping[str, models.LegacyTable],
        snapshot_taken_at: datetime | None,
    ) -> dict[str, int]:
        """The driver's own outputs (the product categories, the corrections, the stamp), then the checks and the
        swap, in one transaction; the rows it wrote per table."""
        project, suffix = self.project, self.loading_suffix
        driver_outputs = {
            project.marts["product_categories"]: models.conform_marts(
                {"product_categories": pd.DataFrame({"name": pd.concat(categories).drop_duplicates()})}, project
            )["product_categories"],
            project.corrections: models.build_corrections(staged_corrections, corrected_legacy, project),
            project.stamp: pd.DataFrame({"snapshot_taken_at": [snapshot_taken_at]}),
        }
        with connect(self.settings.new) as conn:
            with conn.cursor() as cursor:
                for table, frame in driver_outputs.items():
                    io.copy_frame(cursor, table, table.name + suffix, frame)
                _check(cursor, project, suffix)
                io.swap_in(cursor, tables, suffix)
            conn.commit()
        return {table.name: len(frame) for table, frame in driver_outputs.items()}


def _drop(database: Database, tables: Sequence[tuple[str, str]]) -> None:
    """Best effort: an earlier run's leftovers before a run, this run's loading tables after a failure, its stash once
    every partition is written; the next run drops any left. A table another session holds a lock on (a straggling
    task, someone reading it) is left and named, not waited for."""
    try:
        with connect(database, autocommit=True) as conn, conn.cursor() as cursor:
            cursor.execute(sql.SQL("set lock_timeout = {}").format(sql.Literal(_DROP_LOCK_TIMEOUT)))
            for schema, name in tables:
                try:
                    cursor.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(schema, name)))
                except psycopg.errors.LockNotAvailable:
                    logger.warning(
                        "left %s.%s in place: another session holds a lock on it; the next dask run drops it",
                        schema,
                        name,
                    )
    except Exception:  # a failure that brought us here is the one to report; a stash left costs only space
        logger.warning("could not drop the dask engine's loading tables or its stash; the next run drops them")


def _loading(table: OutputTable, suffix: str) -> sql.Identifier:
    return sql.Identifier(table.schema, table.name + suffix)


def _check(cursor: Any, project: Project, suffix: str) -> None:
    """What the pandas engine checks before writing, checked in SQL on the loading tables: every staged row migrated
    or in rejects as often as staged (NULL ids one group), and the marts' data tests."""
    problems = []
    for legacy_table, (mart, key) in LEGACY_TABLE_MARTS.items():
        cursor.execute(
            sql.SQL(
                """
                with staged as (
                    select id is null as null_id, coalesce(id, 0) as id, count(*) as times from {staged}
                    group by 1, 2
                ),
                accounted as (
                    select {key} as legacy_id from {mart}
                    union all
                    select legacy_id from {rejects} where legacy_table = %s
                ),
                found as (
                    select legacy_id is null as null_id, coalesce(legacy_id, 0) as id, count(*) as times
                    from accounted group by 1, 2
                )
                select count(*) from staged full join found using (null_id, id)
                where coalesce(staged.times, 0) <> coalesce(found.times, 0)
                """
            ).format(
                staged=sql.Identifier(project.staging_schema, legacy_table),
                key=sql.Identifier(key),
                mart=_loading(project.marts[mart], suffix),
                rejects=_loading(project.rejects, suffix),
            ),
            (legacy_table,),
        )
        differing = int((cursor.fetchone() or (0,))[0])
        if differing:
            problems.append(f"{legacy_table}: {differing} ids not accounted for as often as staged")
    if problems:
        raise PipelineError("conservation check failed, nothing was written: " + "; ".join(problems))
    failures = []
    for unique_mart, column in models.MART_UNIQUE:
        cursor.execute(
            sql.SQL("select count({column}) - count(distinct {column}) from {mart}").format(
                column=sql.Identifier(column), mart=_loading(project.marts[unique_mart], suffix)
            )
        )
        repeats = int((cursor.fetchone() or (0,))[0])
        if repeats:
            failures.append(f"{unique_mart}.{column} is not unique ({repeats} repeats)")
    for child, column, parent, key in models.MART_REFERENCES:
        cursor.execute(
            sql.SQL(
                "select count(*) from {mart} as child where child.{column} is not null "
                "and not exists (select from {parent} as parent where parent.{key} = child.{column})"
            ).format(
                mart=_loading(project.marts[child], suffix),
                column=sql.Identifier(column),
                parent=_loading(project.marts[parent], suffix),
                key=sql.Identifier(key),
            )
        )
        orphans = int((cursor.fetchone() or (0,))[0])
        if orphans:
            failures.append(f"{child}.{column} names {orphans} rows missing from {parent}.{key}")
    if failures:
        raise PipelineError("the marts fail dbt's data tests, nothing was written: " + "; ".join(failures))


# The tasks, run on the workers. Each is a function of models on one partition, or on one shuffled partition.


def _frame(dtypes: Mapping[str, Any]) -> pd.DataFrame:
    """An empty frame of these columns, indexed by row key: a step's dask meta."""
    return pd.DataFrame(
        {name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()},
        index=pd.Index([], dtype="int64", name="row_key"),
    )


def _empty(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[0:0]


@dataclass(frozen=True)
class _KeyedStep:
    """A step that reads the rows of one key together: its name in the stash, the function (on a shuffled
    partition, its result indexed by row key), its result's columns, and what a shuffled partition passes on to the
    next keyed step (`then`, from the step's input and result; none by default) in `passes`' columns."""

    name: str
    run: Callable[[pd.DataFrame], pd.DataFrame]
    result: Mapping[str, Any]
    then: Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame] | None = None
    passes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passes_on(self) -> pd.DataFrame:
        return _frame(self.passes)


@dataclass(frozen=True)
class _Stash:
    """Where the keyed steps leave their results until each id-range partition's last task reads its own: an
    unlogged table of this run in the target, a row per step, id-range partition and shuffled partition, holding
    those results as Arrow IPC (exact types, compressed). A worker so holds only the results of the partition it
    works on, whatever the table's size; and the stash is on the server every worker reaches, not on a worker's
    disk. The run drops it once every partition is written, or when it fails; a run killed midway leaves it to the
    next run, which drops it with the loading tables (its name ends like theirs)."""

    database: Database
    schema: str
    name: str

    @property
    def table(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.name)

    def create_sql(self) -> sql.Composed:
        return sql.SQL(
            "create unlogged table {table} (step text, source integer, partition integer, results bytea not null, "
            "primary key (step, source, partition)); create index on {table} (step, partition)"
        ).format(table=self.table)

    def put(self, step: _KeyedStep, source: int, result: pd.DataFrame) -> None:
        """A shuffled partition's results of the step, one row per id-range partition they belong to. In one
        transaction that first drops what an earlier attempt of the same task left (a task run again after its
        worker was lost; an attempt still running waits for the lock), so each row's result is stashed once."""
        ordered = result.sort_index()
        numbers = ordered.index.to_numpy() >> ROW_KEY_BITS
        starts = np.flatnonzero(np.diff(numbers, prepend=-1))
        # No pandas metadata in each blob (it would outweigh a few rows): get() restores the types from step.result.
        table = pa.Table.from_pandas(ordered.reset_index(), preserve_index=False).replace_schema_metadata(None)
        options = pa.ipc.IpcWriteOptions(compression="lz4")
        rows = []
        for start, end in itertools.pairwise([*starts, len(ordered)]):
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
                writer.write_table(table.slice(start, end - start))
            rows.append((step.name, source, int(numbers[start]), sink.getvalue().to_pybytes()))
        with connect(self.database) as conn, conn.cursor() as cursor:
            cursor.execute("select pg_advisory_xact_lock(hashtext(%s), %s)", (f"{self.name} {step.name}", source))
            cursor.execute(
                sql.SQL("delete from {} where step = %s and source = %s").format(self.table), (step.name, source)
            )
            cursor.executemany(
                sql.SQL("insert into {} (step, source, partition, results) values (%s, %s, %s, %s)").format(self.table),
                rows,
            )

    def get(self, partition: Partition, *steps: _KeyedStep) -> list[pd.DataFrame]:
        """Each step's results for the rows of one id-range partition (through one connection), indexed by row key,
        in step.result's types."""
        query = sql.SQL("select results from {} where step = %s and partition = %s order by source").format(self.table)
        with connect(self.database) as conn, conn.cursor() as cursor:
            found = []
            for step in steps:
                cursor.execute(query, (step.name, partition.number))
                found.append(_frame_of(step, [pa.ipc.open_stream(row[0]).read_all() for row in cursor]))
        return found


def _frame_of(step: _KeyedStep, parts: list[pa.Table]) -> pd.DataFrame:
    """The stashed Arrow tables of one step as one frame, indexed by row key, in step.result's types."""
    if not parts:
        return _frame(step.result)
    # Integers as nullable Int64 straight from Arrow: through float64 a large id would lose its last digits.
    frame = pa.concat_tables(parts, promote_options="permissive").to_pandas(
        types_mapper={pa.int64(): pd.Int64Dtype()}.get
    )
    results: pd.DataFrame = frame.set_index(frame["row_key"].astype("int64")).drop(columns="row_key")
    return results[list(step.result)].astype(dict(step.result))


@dataclass(frozen=True)
class _Stashing:
    """A keyed step run on one shuffled partition (dask's map_partitions): its results into the stash, what it
    passes on returned."""

    step: _KeyedStep
    stash: _Stash

    @property
    def __name__(self) -> str:  # what dask names its tasks by
        return f"stash_{self.step.name}"

    def __call__(self, frame: pd.DataFrame, partition_info: Mapping[str, Any] | None = None) -> pd.DataFrame:
        if partition_info is None:  # dask numbers the partitions it maps: the stash's key needs the number
            raise PipelineError(f"the dask engine's step {self.step.name} ran without its partition's number")
        result = self.step.run(frame)
        result = result[list(self.step.result)].astype(dict(self.step.result))
        result.index = result.index.astype("int64").rename("row_key")
        self.stash.put(self.step, int(partition_info["number"]), result)
        return self.step.passes_on if self.step.then is None else self.step.then(frame, result)


def _stashed(*passed: pd.DataFrame) -> None:
    """Done once every shuffled partition of the steps it is given has stashed its results."""


def _union(frame: pd.DataFrame, side: int, schema: Mapping[str, Any]) -> pd.DataFrame:
    """A keyed step's input rows in its one schema (columns of the other side empty), tagged with their side."""
    columns = {
        name: frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index)
        for name in schema
        if name not in ("side", "row_key")
    }
    union = pd.DataFrame(columns, index=frame.index)
    union["side"] = side
    union["row_key"] = frame.index.to_series() if side == _ASKING else pd.NA
    return union[list(schema)].astype(dict(schema)).reset_index(drop=True)


def _sides(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A shuffled keyed partition's asking rows (indexed by row key) and answering rows."""
    asking = frame[models._bools(frame["side"] == _ASKING)]
    asking = asking.set_index(pd.Index(asking["row_key"].astype("int64"), name="row_key"))
    return asking, frame[models._bools(frame["side"] == _ANSWERING)]


def _corrections_of(
    reading: _Reading,
    partition: Partition,
    corrections: pd.DataFrame,
    project: Project,
    rules: TextRules,
    currencies: Mapping[str, str | None],
) -> tuple[pd.DataFrame, models.LegacyTable]:
    """The corrections as this partition's rows find them (stage_corrections), and its rows whose id one names."""
    part = reading.read(partition)
    ids = corrections.loc[models._bools(corrections["legacy_table"] == part.name), "legacy_id"].astype("Int64")
    named = part.rows[models._bools(part.rows["id"].astype("Int64").isin(ids.dropna()))]
    found = models.stage_corrections(corrections, {part.name: part}, project, rules, currencies)
    return found, models.LegacyTable(part.name, part.columns, named)


def _stage_users(part: models.LegacyTable, corrections: pd.DataFrame, rules: TextRules) -> pd.DataFrame:
    return models.stage_users(models.corrected_rows(part, corrections), rules)


def _user_keys(
    reading: _Reading, partition: Partition, corrections: pd.DataFrame, rules: TextRules, project: Project
) -> pd.DataFrame:
    """One partition of users, read and parsed: U2's input, the users its rows' own checks (K1, U4, L1) keep, with
    the e-mail address U1 then reads. The partition itself leaves with the task."""
    users = _stage_users(reading.read(partition), corrections, rules)
    kept = users.loc[~models._bools(models.user_row_reasons(users, project).notna()), list(_USERNAME_INPUT)]
    return kept.astype(_USERNAME_INPUT)


def _finish_users(
    reading: _Reading,
    partition: Partition,
    corrections: pd.DataFrame,
    rules: TextRules,
    stash: _Stash,
    stashed: None,
    project: Project,
    suffix: str,
) -> tuple[tuple[dict[str, int], pd.Series], pd.DataFrame, pd.DataFrame]:
    """One partition of users, read and parsed again (the same rows, the same row keys), classified with the keyed
    steps' results (in the stash once `stashed` is) and written; with what the orders' keyed steps read of it
    (_Answers)."""
    part = reading.read(partition)
    users = _stage_users(part, corrections, rules)
    duplicates, lowest = stash.get(partition, _DUPLICATE_USERNAMES, _LOWEST_EMAILS)
    duplicate = _aligned_bools(duplicates["duplicate"], users.index)
    lowest_with_email = lowest["lowest"].reindex(users.index).astype(users["legacy_user_id"].dtype)
    reasons = models.user_row_reasons(users, project)
    classified = models.classify_users(users, reasons, duplicate, lowest_with_email, project)
    written = _write_partition(reading.database, suffix, part, classified, project)
    kept = classified.loc[models._bools(classified["outcome"] != "rejected"), models.KEPT_USER_COLUMNS]
    return written, _user_match_answering(kept), kept[["legacy_user_id", "registered_at"]]


_USERNAME_INPUT = {"legacy_user_id": "Int64", "username": "str", "email": "str"}
_EMAIL_INPUT = {"legacy_user_id": "Int64", "email": "str"}


def _username_step(kept: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"duplicate": models._bools(models.username_duplicates(kept))}, index=kept.index)


def _email_input(kept: pd.DataFrame, result: pd.DataFrame) -> pd.DataFrame:
    """U1's input from a shuffled partition of U2's: the users U2 keeps that have an e-mail address."""
    duplicate = _aligned_bools(result["duplicate"], kept.index)
    return kept.loc[~duplicate & models._bools(kept["email"].notna()), list(_EMAIL_INPUT)].astype(_EMAIL_INPUT)


def _email_step(emailed: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"lowest": models.email_survivors(emailed)}, index=emailed.index)


def _aligned_bools(values: pd.Series, index: pd.Index) -> np.ndarray[Any, np.dtype[np.bool_]]:
    return models._bools(values.reindex(index))


def _products(
    part: models.LegacyTable,
    corrections: pd.DataFrame,
    rules: TextRules,
    currencies: Mapping[str, str | None],
    project: Project,
) -> pd.DataFrame:
    """Products by partition: every product rule reads one row, or the copies of one id (K1)."""
    rows = models.corrected_rows(part, corrections)
    return models.classify_products(models.stage_products(rows, rules, currencies, project.legacy_currency), project)


def _duplicate_input(rows: pd.DataFrame) -> pd.DataFrame:
    """Rule O3's input from the corrected rows: every legacy column but the id, the row's own id (K1) and a digest
    to shuffle by (equal rows, equal digests; the step then groups on the columns themselves)."""
    others = row_values(rows.drop(columns="id"))
    return others.assign(own_id=models.own_legacy_ids(rows["id"]), digest=row_digests(others))


def row_values(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows in one schema whatever their partition: integers as Int64 (a corrected quantity is Int64 where the
    staged one is Int32, and pandas hashes a negative integer by its bits: the same value would hash two ways)."""
    return rows.astype({name: "Int64" for name, dtype in rows.dtypes.items() if pd.api.types.is_integer_dtype(dtype)})


def row_digests(rows: pd.DataFrame) -> np.ndarray[Any, Any]:
    """A 64-bit hash of each row's values (row_values first): rule O3's shuffle key."""
    digests: np.ndarray[Any, Any] = pd.util.hash_pandas_object(rows, index=False).to_numpy()
    return digests


def _duplicate_step(frame: pd.DataFrame) -> pd.DataFrame:
    others = frame.drop(columns=["own_id", "digest"])
    return pd.DataFrame({"first_id": models.lowest_equal_rows(others, frame["own_id"])}, index=frame.index)


_USER_MATCH_SCHEMA = {"key": "str", "side": "int8", "row_key": "Int64", "matched_by": "str", "surviving": "Int64"}


def _user_match_asking(orders: pd.DataFrame) -> pd.DataFrame:
    # An order without a key matches no one: it stays home (_finish_orders reads it as no match), so the orders
    # without a user never pile up in one shuffled partition. The same for O7 and O2 below.
    named = orders[models._bools(orders["user_identifier_key"].notna())]
    return _union(named.rename(columns={"user_identifier_key": "key"}), _ASKING, _USER_MATCH_SCHEMA)


def _user_match_answering(kept: pd.DataFrame) -> pd.DataFrame:
    candidates = models.user_candidates(kept).rename(columns={"user_key": "key"})
    return _union(candidates, _ANSWERING, _USER_MATCH_SCHEMA)


def _user_match_step(frame: pd.DataFrame) -> pd.DataFrame:
    asking, answering = _sides(frame)
    candidates = answering[["key", "matched_by", "surviving"]].rename(columns={"key": "user_key"})
    return models.match_users(asking["key"], candidates)


_REGISTRATION_SCHEMA = {"key": "Int64", "side": "int8", "row_key": "Int64", "registered_at": parse.TIMESTAMP_DTYPE}


def _registration_asking(_: pd.DataFrame, user_match: pd.DataFrame) -> pd.DataFrame:
    """O7's asking side, from a shuffled partition of O1's results: the orders that matched a user."""
    matched = user_match[models._bools(user_match["legacy_user_id"].notna())]
    return _union(matched.rename(columns={"legacy_user_id": "key"}), _ASKING, _REGISTRATION_SCHEMA)


def _registration_answering(kept: pd.DataFrame) -> pd.DataFrame:
    dates = kept[["legacy_user_id", "registered_at"]]
    return _union(dates.rename(columns={"legacy_user_id": "key"}), _ANSWERING, _REGISTRATION_SCHEMA)


def _registration_step(frame: pd.DataFrame) -> pd.DataFrame:
    asking, answering = _sides(frame)
    kept = answering[["key", "registered_at"]].rename(columns={"key": "legacy_user_id"})
    return pd.DataFrame({"registered_at": models.registration_dates(asking["key"], kept)}, index=asking.index)


_PRODUCT_MATCH_OUTPUT = {
    "name_count": "float64",
    "legacy_product_id": "Int64",
    "product_price": "Int64",
    "product_currency": "str",
    "product_price_raw": "str",
    "named_by_product": "str",
    "product_unknown": "bool",
    "product_candidate_legacy_ids": "str",
}


def _product_match_schema(orders: pd.DataFrame, products: pd.DataFrame) -> dict[str, Any]:
    """The keyed input of rule O2: the order's columns it reads and the product's, keyed by product name key."""
    schema: dict[str, Any] = {"key": orders["product_name_key"].dtype, "side": "int8", "row_key": "Int64"}
    schema |= {name: orders[name].dtype for name in models.PRODUCT_MATCH_INPUT if name != "product_name_key"}
    schema |= {name: products[name].dtype for name in models.MIGRATED_PRODUCT_COLUMNS if name != "product_name_key"}
    # Text as str whatever a partition made of it (a category, say): one schema for every partition.
    return {name: "str" if str(dtype) in ("category", "object") else dtype for name, dtype in schema.items()}


def _product_match_asking(orders: pd.DataFrame, schema: Mapping[str, Any]) -> pd.DataFrame:
    named = orders[models._bools(orders["product_name_key"].notna())]
    return _union(named.rename(columns={"product_name_key": "key"}), _ASKING, schema)


def _product_match_answering(products: pd.DataFrame, schema: Mapping[str, Any]) -> pd.DataFrame:
    migrated = products.loc[models._bools(products["outcome"] == "migrated"), models.MIGRATED_PRODUCT_COLUMNS]
    return _union(migrated.rename(columns={"product_name_key": "key"}), _ANSWERING, schema)


def _product_match_step(frame: pd.DataFrame) -> pd.DataFrame:
    asking, answering = _sides(frame)
    orders = asking.rename(columns={"key": "product_name_key"})[models.PRODUCT_MATCH_INPUT]
    products = answering.rename(columns={"key": "product_name_key"})[models.MIGRATED_PRODUCT_COLUMNS]
    return models.match_products(orders, products)


def _order_keys(
    reading: _Reading,
    partition: Partition,
    corrections: pd.DataFrame,
    rules: TextRules,
    currencies: Mapping[str, str | None],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One partition of orders, read and parsed: the inputs of its keyed steps (O3's rows, O1's user keys, the
    columns O2 reads). The partition itself leaves with the task."""
    rows = models.corrected_rows(reading.read(partition), corrections)
    staged = models.stage_orders(rows, rules, currencies)
    named = staged.loc[models._bools(staged["product_name_key"].notna()), models.PRODUCT_MATCH_INPUT]
    return _duplicate_input(rows), _user_match_asking(staged), named


def _input_schemas(
    reading: _Reading,
    orders: Partition,
    products: Partition,
    corrections: pd.DataFrame,
    rules: TextRules,
    currencies: Mapping[str, str | None],
    project: Project,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """O3's input without rows and O2's schema, from a partition of the orders and one of the products."""
    rows, _, asking = _order_keys(reading, orders, corrections, rules, currencies)
    classified = _products(reading.read(products), corrections, rules, currencies, project)
    return _empty(rows), _product_match_schema(asking, classified)


def _finish_orders(
    reading: _Reading,
    partition: Partition,
    corrections: pd.DataFrame,
    rules: TextRules,
    currencies: Mapping[str, str | None],
    stash: _Stash,
    stashed: None,
    project: Project,
    snapshot_taken_at: datetime | None,
    suffix: str,
) -> tuple[dict[str, int], pd.Series]:
    """One partition of orders, read and parsed again (the same rows, the same row keys), classified with the keyed
    steps' results (in the stash once `stashed` is) and written."""
    part = reading.read(partition)
    orders = models.stage_orders(models.corrected_rows(part, corrections), rules, currencies)
    index = orders.index
    first_ids, user_match, registered, product_match = stash.get(
        partition, _FIRST_IDS, _USER_MATCH, _REGISTRATION, _PRODUCT_MATCH
    )
    # An order the keyed steps did not see (no key) is what match_users and match_products give a NULL key.
    classified = models.classify_orders(
        orders,
        first_ids["first_id"].reindex(index),
        user_match.reindex(index).fillna({"user_match_count": 0}),
        registered["registered_at"].reindex(index),
        product_match.reindex(index).fillna({"name_count": 0, "product_unknown": False}),
        project,
        snapshot_taken_at,
    )
    return _write_partition(reading.database, suffix, part, classified, project)


def _copy(database: Database, suffix: str, outputs: Mapping[OutputTable, pd.DataFrame]) -> dict[str, int]:
    with connect(database) as conn, conn.cursor() as cursor:
        for table, frame in outputs.items():
            io.copy_frame(cursor, table, table.name + suffix, frame)
    return {table.name: len(frame) for table, frame in outputs.items()}


def _write_partition(
    database: Database, suffix: str, part: models.LegacyTable, classified: pd.DataFrame, project: Project
) -> tuple[dict[str, int], pd.Series]:
    """One partition's marts, rejects and warnings into the loading tables; the product categories it names (the
    process that starts the run writes them once, deduplicated)."""
    if part.name == "old_users":
        marts = models.user_marts(classified, project)
        rejects = models.user_rejects(part, classified, project)
        warnings = models.user_warnings(part, classified, project.mappings)
    elif part.name == "old_products":
        marts = models.product_marts(classified)
        rejects = models.product_rejects(part, classified, project)
        warnings = models.product_warnings(part, classified)
    else:
        marts = models.order_marts(classified)
        rejects = models.order_rejects(part, classified, project)
        warnings = models.order_warnings(part, classified)
    categories = marts.pop("product_categories")["name"] if "product_categories" in marts else pd.Series([])
    outputs = {project.marts[name]: frame for name, frame in models.conform_marts(marts, project).items()}
    outputs[project.rejects] = models.quarantine([rejects], outcome=None)
    outputs[project.warnings] = models.quarantine([warnings], outcome="warning")
    return _copy(database, suffix, outputs), categories.astype("str")


# The keyed steps, in the order they run.

_DUPLICATE_USERNAMES = _KeyedStep("U2", _username_step, {"duplicate": "bool"}, _email_input, _EMAIL_INPUT)
_LOWEST_EMAILS = _KeyedStep("U1", _email_step, {"lowest": "Int64"})
_FIRST_IDS = _KeyedStep("O3", _duplicate_step, {"first_id": "Int64"})
_USER_MATCH = _KeyedStep(
    "O1",
    _user_match_step,
    {"user_match_count": "float64", "legacy_user_id": "Int64", "user_candidate_legacy_ids": "str"},
    _registration_asking,
    _REGISTRATION_SCHEMA,
)
_PRODUCT_MATCH = _KeyedStep("O2", _product_match_step, _PRODUCT_MATCH_OUTPUT)
_REGISTRATION = _KeyedStep("O7", _registration_step, {"registered_at": parse.TIMESTAMP_DTYPE})
