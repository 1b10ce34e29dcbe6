"""The dask engine: the same marts and quarantine as dbt, with the rules between rows crossing partitions.

The hard-rows and corrections tests run it too (tests/support/hard_rows.py's both_engines, in about eight
partitions); this file runs it on the dirty seeder profile and through a whole migrate, checks that its partitions
hold every staged row once and come back alike when read again, that the stash gives each partition its keyed
steps' results once and in their types, that no partition stays in a worker's memory once used, that equal rows hash
alike whatever their partition's types, that a kill mid-run leaves the previous outputs, and that a scheduler it
cannot reach is one clear error."""

from __future__ import annotations

import signal
import time
import warnings
from contextlib import closing
from typing import Any

import dask
import pandas as pd
import psutil
import psycopg2
import pytest
from dask.utils import key_split
from distributed.diagnostics.plugin import SchedulerPlugin
from sqlalchemy import make_url

from loader.core.config import Database, Settings, load_settings
from loader.transform.dask_engine import engine, partitions
from loader.transform.dask_engine.engine import row_digests, row_values
from loader.transform.pandas_engine import io
from tests.support.databases import Databases, Server, run_module
from tests.support.differential import (
    TABLES,
    add_edge_rows,
    column_types,
    set_aside_dbt_outputs,
    table_differences,
)
from tests.support.hard_rows import query_rows
from tests.support.helpers import canonical, count, drop_new, fresh_pair
from tests.support.processes import blocked_on_lock, start_module, table_fingerprint, wait_for

ROWS_PER_PARTITION = 50


def _partition_of(databases: Databases, table: str, legacy_id: int) -> int:
    """The partition partitions.plan gives a legacy id of a staging table, as the engine plans them."""
    with closing(psycopg2.connect(databases.new_url)) as connection, connection.cursor() as cursor:
        plan = partitions.plan(cursor, "staging", table, ROWS_PER_PARTITION)
    return next(
        part.number
        for part in plan
        if not part.null_ids
        and (part.low is None or legacy_id >= part.low)
        and (part.high is None or legacy_id < part.high)
    )


def test_dask_engine_writes_what_dbt_writes_across_partitions(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--profile", "dirty", "--size", "2000", "--seed", "11")
    add_edge_rows(databases)
    with databases.old() as conn:
        # A user merged (U1) and an order merged (O3) into rows of the first partition from the last one.
        conn.execute(
            "insert into old_users (id, username, email) values "
            "(-5, 'twin_first', 'twins@example.com'), (950001, 'twin_last', 'TWINS@example.com')"
        )
        conn.execute(
            "insert into old_orders (id, user_identifier_text, order_date_str, status_text, product_name_redundant, "
            "quantity, unit_price_str_redundant, total_order_amount_str) values "
            "(-5, 'twin_first', '2021-05-05', 'shipped', 'a twin product', 1, '1.00', '1.00'), "
            "(950001, 'twin_first', '2021-05-05', 'shipped', 'a twin product', 1, '1.00', '1.00')"
        )
    run_module("loader", "schema", env=env)
    run_module("loader", "migrate", "--dry-run", env=env)
    with databases.new() as conn:
        dbt_columns = set_aside_dbt_outputs(conn)

    dask_env = {**env, "DASK_PARTITION_ROWS": str(ROWS_PER_PARTITION), "DASK_WORKERS": "2"}
    result = run_module("loader", "transform", "--engine", "dask", env=dask_env)
    assert "dask transform wrote" in result.stdout

    with databases.new() as conn:
        for schema, table in TABLES:
            assert column_types(conn, schema, table) == dbt_columns[table], f"{schema}.{table}: columns differ"
        counts = {table: query_rows(conn, f"select count(*) from {schema}.{table}")[0][0] for schema, table in TABLES}
        assert all(count > 0 for count in counts.values()), counts
        differences = [text for schema, table in TABLES if (text := table_differences(conn, schema, table))]
        assert not differences, "the dask engine and dbt disagree:\n" + "\n".join(differences)

        # The rules between rows did cross partitions: merges into rows of another partition, both kinds.
        merges = query_rows(
            conn,
            "select legacy_table, legacy_id, merged_into_legacy_id from dbt_quarantine.rejects "
            "where outcome = 'merged'",
        )
        crossing = {
            table
            for table, legacy_id, survivor in merges
            if _partition_of(databases, table, legacy_id) != _partition_of(databases, table, survivor)
        }
        assert crossing == {"old_users", "old_orders"}, merges[:10]
        orders = query_rows(conn, "select count(*) from staging.old_orders")[0][0]
        assert orders // ROWS_PER_PARTITION >= 10, "too few partitions to cross"

    # Publish's gates take the dask engine's tables as they take the others'.
    published = run_module("loader", "publish", "--dry-run", env=env)
    assert "planned" in published.stdout


@pytest.mark.parametrize("profile", ["dirty", "wild"])
def test_migrate_with_dask_publishes_what_migrate_with_dbt_publishes(
    databases: Databases, server: Server, profile: str
) -> None:
    databases.seed("--profile", profile, "--size", "600", "--seed", "5")
    run_module("loader", "migrate", env=databases.env())
    fresh = fresh_pair(server, databases, "dask")
    try:
        env = {**fresh.env(), "DASK_PARTITION_ROWS": "100"}
        result = run_module("loader", "migrate", "--engine", "dask", env=env)
        assert "published" in result.stdout
        with databases.new() as by_dbt, fresh.new() as by_dask:
            expected, published = canonical(by_dbt), canonical(by_dask)
    finally:
        drop_new(server, fresh)
    assert all(expected[table] for table in ("users", "orders", "order_items", "ledger")), "nothing to compare"
    for table in expected:
        assert published[table] == expected[table], f"{table} differs from dbt's migration ({profile})"


def _read_all(database: Database, table: str, rows_per_partition: int) -> list[pd.DataFrame]:
    with closing(psycopg2.connect(database.libpq_url())) as connection:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("select pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            plan = partitions.plan(cursor, "public", table, rows_per_partition)
            columns = tuple(io.staged_columns(cursor, "public", table))
        return [partitions.read(database, snapshot, "public", columns, part).rows for part in plan]


def test_partitions_hold_every_row_once_and_each_id_whole(databases: Databases) -> None:
    ids: list[int | None] = [None, 3, 1, 5, 5, 5, 5, 2, None, 2**40, 2**31 + 7, 4, 5, 6, -9]
    with databases.new() as conn:
        conn.execute("create table public.ranged (id bigint, note text)")
        with conn.cursor() as cursor:
            cursor.executemany(
                "insert into public.ranged values (%s, %s)", [(value, f"row {n}") for n, value in enumerate(ids)]
            )
    database = Database("NEW", make_url(databases.new_url), "url")
    parts = _read_all(database, "ranged", 2)

    together = pd.concat(parts)
    assert sorted(together["note"]) == sorted(f"row {n}" for n in range(len(ids))), "every row once"
    assert together.index.is_unique and together.index.is_monotonic_increasing, "row keys"
    holding_five = [n for n, part in enumerate(parts) if (part["id"] == 5).any()]
    assert len(holding_five) == 1 and (parts[holding_five[0]]["id"] == 5).sum() == 5, "a repeated id stays whole"
    assert parts[-1]["id"].isna().all() and len(parts[-1]) == 2, "the rows without an id, apart"
    assert len(parts) >= 5 and all(len(part) <= 5 for part in parts)

    with databases.new() as conn:
        conn.execute("create table public.nothing (id bigint)")
    empty = _read_all(database, "nothing", 2)
    assert [len(part) for part in empty] == [0, 0]


def test_a_partition_read_again_in_its_snapshot_has_the_same_row_keys(databases: Databases) -> None:
    """The users' and orders' partitions are read twice in a run (classified from a second read): each row must
    come back under the row key its first read gave it. Between the reads, another session rewrites rows (new
    versions elsewhere in the table), adds rows, and is halfway through its own scan of the table, which a plain
    scan of a table this large would join (a synchronized scan, starting where the other one is)."""
    with databases.new() as conn:
        conn.execute("create table public.reread (id bigint, note text)")
        conn.execute(
            "insert into public.reread select n % 50000, repeat('x', 120) || n from generate_series(1, 300000) as n"
        )
        conn.execute("insert into public.reread select null, 'no id ' || n from generate_series(1, 30) as n")
        larger = conn.execute(
            "select pg_relation_size('public.reread') * 4 > setting::bigint * 8192 from pg_settings "
            "where name = 'shared_buffers'"
        ).fetchone()
        assert larger == (True,), "the table must be large enough for a synchronized scan"
    database = Database("NEW", make_url(databases.new_url), "url")
    with closing(psycopg2.connect(database.libpq_url())) as connection:
        connection.set_session(isolation_level="REPEATABLE READ", readonly=True)
        with connection.cursor() as cursor:
            cursor.execute("select pg_export_snapshot()")
            snapshot = cursor.fetchone()[0]
            plan = partitions.plan(cursor, "public", "reread", 200_000)
            columns = tuple(io.staged_columns(cursor, "public", "reread"))
        first = [partitions.read(database, snapshot, "public", columns, part).rows for part in plan]
        with databases.new() as other, databases.new() as scanning, scanning.transaction():
            other.execute("update public.reread set note = note || ' (changed)' where id % 7 = 0 or id is null")
            other.execute("insert into public.reread select n, 'added ' || n from generate_series(1, 1000) as n")
            scanning.execute("declare halfway no scroll cursor for select * from public.reread")
            scanning.execute("fetch 150000 from halfway")
            again = [partitions.read(database, snapshot, "public", columns, part).rows for part in plan]
    assert len(plan) == 3 and sum(len(part) for part in first) == 300_030
    for before, after in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(before, after)


def test_the_stash_gives_a_partition_its_results_once_and_in_their_types(databases: Databases) -> None:
    """The keyed steps' results wait in the stash (a table of the target) for their partition's last task: it must
    give back exactly the rows of that partition and step, once each even when a shuffled partition's task stashed
    twice (a task run again after its worker was lost), with their types and NULLs as they were ('' is not NULL)."""
    database = Database("NEW", make_url(databases.new_url), "url")
    stash = engine._Stash(database, "public", "stash_under_test")
    with databases.new() as conn:
        conn.execute(stash.create_sql())
    types = {"number": "Int64", "text": "str", "moment": "datetime64[us]", "flag": "bool", "count": "float64"}
    step = engine._KeyedStep("O2", lambda frame: frame, types)
    other = engine._KeyedStep("O3", lambda frame: frame, types)

    def results(keys: list[int], text: list[Any]) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "number": pd.array([7, None, -(2**62)][: len(keys)], dtype="Int64"),
                "text": pd.array(text, dtype="str"),
                "moment": pd.array(
                    pd.to_datetime(["2021-03-04 05:06:07.123456", None, "1900-01-01 00:00:00.5"][: len(keys)]),
                    "datetime64[us]",
                ),
                "flag": [True, False, True][: len(keys)],
                "count": [0.0, 2.0, 1.5][: len(keys)],
            },
            index=pd.Index(keys, dtype="int64", name="row_key"),
        )
        return frame.astype(types)

    first_key = partitions.Partition("old_orders", 3, None, None).first_key
    one = results([first_key + 2, 5, first_key], ["", None, 'éß\n,"x'])
    two = results([first_key + 1], ["second source"])
    stash.put(step, 0, one)
    stash.put(step, 1, two)
    stash.put(step, 0, one)  # the same shuffled partition again
    stash.put(step, 2, one.iloc[0:0])  # a shuffled partition without rows
    stash.put(other, 0, results([first_key + 9], ["another step"]))

    got = stash.get(partitions.Partition("old_orders", 3, None, None), step)[0]
    expected = pd.concat([one.loc[[first_key + 2, first_key]], two])
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index())
    assert got.loc[first_key + 2, "text"] == ""
    without_text = stash.get(partitions.Partition("old_orders", 0, None, None), step)[0]
    pd.testing.assert_frame_equal(without_text, one.loc[[5]])
    assert pd.isna(without_text.loc[5, "text"]) and pd.isna(without_text.loc[5, "number"])
    nothing = stash.get(partitions.Partition("old_orders", 1, None, None), step)[0]
    assert nothing.empty and nothing.dtypes.to_dict() == got.dtypes.to_dict()


def test_an_unreachable_scheduler_is_one_clear_line(databases: Databases) -> None:
    env = databases.env(DASK_SCHEDULER_ADDRESS="tcp://127.0.0.1:9")
    databases.seed("--size", "50")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    refused = run_module("loader", "transform", "--engine", "dask", env=env, check=False)
    assert refused.returncode != 0
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the dask scheduler at tcp://127.0.0.1:9" in lines[0], refused.stderr
    assert "DASK_SCHEDULER_ADDRESS" in lines[0]


def test_two_local_clusters_at_once_take_no_port_the_other_holds() -> None:
    # Two runs on one machine (into two targets, or pytest-xdist's workers) each start a local cluster.
    database = Database("NEW", make_url("postgresql+psycopg://nobody@/unused"), "url")
    settings = Settings(database, database, dask_workers=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with engine.cluster_client(settings) as first, engine.cluster_client(settings) as second:
            assert first.scheduler is not None and second.scheduler is not None
            assert first.scheduler.address != second.scheduler.address
    assert not [str(w.message) for w in caught if "already in use" in str(w.message)]


def test_equal_rows_hash_alike_whatever_their_partitions_integer_type() -> None:
    """A partition holding a corrected quantity has it as Int64, another as the staged Int32: O3 must still meet
    them (pandas hashes a negative Int32 and Int64 apart)."""
    staged = pd.DataFrame({"quantity": pd.array([-1, 2, None], dtype="Int32"), "status_text": ["x", "y", None]})
    corrected = staged.astype({"quantity": "Int64"})
    assert list(row_digests(row_values(staged))) == list(row_digests(row_values(corrected)))
    assert len(set(row_digests(row_values(staged)))) == 3


def _stage_for_one_worker(databases: Databases, monkeypatch: pytest.MonkeyPatch, rows_per_partition: int) -> None:
    """400 legacy orders, staged; this process's settings those of a run on one worker, in partitions of that size."""
    env = databases.env(DASK_PARTITION_ROWS=str(rows_per_partition), DASK_WORKERS="1")
    databases.seed("--size", "400", "--seed", "3")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _computed_in_memory(dask_scheduler: Any, writes: list[str]) -> list[str]:
    """The results the workers hold that a task computed (not data the driver scattered), but the writes' own
    results (rows written per table), which the driver holds to sum them."""
    return sorted(
        str(key)
        for key, task in dask_scheduler.tasks.items()
        if task.state == "memory" and task.run_spec is not None and str(key) not in writes
    )


def _profiles_kept(dask_worker: Any) -> int:
    """How many seconds of its tasks' statistical profile a worker keeps."""
    return len(dask_worker.profile_history)


def test_partitions_leave_the_workers_memory_once_used(databases: Databases, monkeypatch: pytest.MonkeyPatch) -> None:
    """What bounds a worker's memory: no partition (as read, parsed or classified), nor any step's result, stays in
    a worker's memory once the steps that read it are done. When every write is done, the workers hold nothing a
    task computed but the writes' results."""
    _stage_for_one_worker(databases, monkeypatch, rows_per_partition=100)
    writes: list[str] = []
    held: dict[str, list[Any]] = {}
    transform, finish = engine._Run._transform, engine._Run._finish

    def recorded_transform(run: Any, *args: Any) -> Any:
        result = transform(run, *args)
        writes.extend(str(future.key) for future in result[0])
        return result

    def checked_finish(run: Any, *args: Any) -> dict[str, int]:
        # A result leaves once the scheduler hears its dependants are done: give it a moment.
        deadline = time.monotonic() + 30
        held["computed"] = run.client.run_on_scheduler(_computed_in_memory, writes=writes)
        while held["computed"] and time.monotonic() < deadline:
            time.sleep(0.2)
            held["computed"] = run.client.run_on_scheduler(_computed_in_memory, writes=writes)
        # Each of a worker's shuffle sends keeps its last message until its next: few of them, few held.
        held["sends"] = list(run.client.run(dask.config.get, "distributed.p2p.comm.concurrency").values())
        # A worker's statistical profile keeps a second's worth of stacks per second of the run.
        held["profiles"] = list(run.client.run(_profiles_kept).values())
        return finish(run, *args)

    monkeypatch.setattr(engine._Run, "_transform", recorded_transform)
    monkeypatch.setattr(engine._Run, "_finish", checked_finish)
    written = engine.run(load_settings())
    assert len(writes) >= 8, "a write per partition"
    assert held["computed"] == [], f"still in the workers' memory: {held['computed'][:20]}"
    assert held["sends"] == [2], "the local cluster's worker sends two shuffle messages at a time, not dask's ten"
    assert held["profiles"] == [0], "the local cluster's worker keeps no profile of its tasks, second by second"
    assert written["orders"] > 250 and written["rejects"] > 0


class _HeldAtOnce(SchedulerPlugin):
    """The scheduler's count of the results of some tasks: how many reached a worker's memory, and the most held
    there at once."""

    name = "held-at-once"

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes
        self.held: dict[str, set[Any]] = {prefix: set() for prefix in prefixes}
        self.made = dict.fromkeys(prefixes, 0)
        self.most = dict.fromkeys(prefixes, 0)

    def transition(self, key: Any, start: str, finish: str, *args: Any, **kwargs: Any) -> None:
        prefix = key_split(key)
        if prefix not in self.prefixes:
            return
        if finish == "memory":
            self.held[prefix].add(key)
            self.made[prefix] += 1
            self.most[prefix] = max(self.most[prefix], len(self.held[prefix]))
        elif start == "memory":
            self.held[prefix].discard(key)


# The users' last tasks (their results carry O1's and O7's answers) and the two keyed steps that pass rows on.
_PASSING_ON = ("finish_users", "stash_u2", "stash_o1")


def _watch(dask_scheduler: Any) -> None:
    dask_scheduler.add_plugin(_HeldAtOnce(_PASSING_ON))


def _watched(dask_scheduler: Any) -> dict[str, tuple[int, int]]:
    plugin = dask_scheduler.plugins[_HeldAtOnce.name]
    return {prefix: (plugin.made[prefix], plugin.most[prefix]) for prefix in plugin.prefixes}


def test_what_a_task_passes_on_is_taken_as_it_is_made(databases: Databases, monkeypatch: pytest.MonkeyPatch) -> None:
    """A keyed step's shuffle takes what the step before passes on as each shuffled partition makes it (U2's e-mail
    input for U1, O1's matches for O7), and a user partition's last task's result (its rows written, O1's candidates,
    O7's registration dates) leaves once its parts are taken. On one worker at most two of each at once (the next
    task has started by the time its taker arrives). Before each keyed step ran one priority above the step before,
    all 21 of O1's results here were held at once; at 10 M orders, 256 MiB of a worker's peak."""
    _stage_for_one_worker(databases, monkeypatch, rows_per_partition=20)
    transform = engine._Run._transform

    def watched_transform(run: Any, *args: Any) -> Any:
        run.client.run_on_scheduler(_watch)
        return transform(run, *args)

    found: dict[str, tuple[int, int]] = {}
    finish = engine._Run._finish

    def recorded_finish(run: Any, *args: Any) -> dict[str, int]:
        found.update(run.client.run_on_scheduler(_watched))
        return finish(run, *args)

    monkeypatch.setattr(engine._Run, "_transform", watched_transform)
    monkeypatch.setattr(engine._Run, "_finish", recorded_finish)
    engine.run(load_settings())
    assert set(found) == set(_PASSING_ON), "the run finished without the scheduler's counts"
    for prefix, (made, most) in found.items():
        assert made >= 4, f"{prefix}: {made} results, too few partitions for the test to tell"
        assert most <= 2, f"{prefix}: {most} of its {made} results held at once"


def _dask_loading_tables(conn: Any) -> list[str]:
    query = "select relname from pg_class where relkind = 'r' and relname like '%%__dask_loading_%%'"
    return [row[0] for row in conn.execute(query)]


def test_a_dask_run_killed_before_its_swap_leaves_the_outputs_and_the_next_run_cleans_up(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "300", "--seed", "2")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    run_module("loader", "transform", "--engine", "pandas", env=env)
    with databases.new() as conn:
        before = table_fingerprint(conn, "(select legacy_order_id as id, * from dbt_marts.orders)")
        conn.execute("delete from staging.old_orders where id in (select id from staging.old_orders limit 5)")

    # Holding dbt_marts.users open keeps the run at its swap, every loading table written and checked; kill it there.
    with databases.new() as blocker, blocker.transaction():
        blocker.execute("lock table dbt_marts.users in access share mode")
        process = start_module(databases, "loader", "transform", "--engine", "dask")
        with databases.new() as watcher:
            wait_for(lambda: blocked_on_lock(watcher, "drop table") is not None, "the dask run waits to swap", process)
            assert len(_dask_loading_tables(watcher)) == 10
        workers = psutil.Process(process.pid).children(recursive=True)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # Its workers end once their scheduler, in the killed process, is gone.
    _, alive = psutil.wait_procs(workers, timeout=90)
    for orphan in alive:
        orphan.kill()
    assert not alive, f"{len(alive)} dask processes outlived the killed run"

    with databases.new() as conn:
        assert table_fingerprint(conn, "(select legacy_order_id as id, * from dbt_marts.orders)") == before
        assert len(_dask_loading_tables(conn)) == 10, "the killed run's loading tables are left"
    run_module("loader", "transform", "--engine", "dask", env=env)
    with databases.new() as conn:
        assert _dask_loading_tables(conn) == []
        assert table_fingerprint(conn, "(select legacy_order_id as id, * from dbt_marts.orders)") != before
        assert count(conn, "select count(*) from dbt_marts.orders") > 0


def test_a_leftover_another_session_holds_is_left_for_the_next_run_not_waited_for(databases: Databases) -> None:
    """A killed run's leftover (a loading table or a stash) that another session holds a lock on must not hold up
    the next run, nor be dropped from under that session: the run leaves it for the run after, and says so."""
    env = databases.env()
    databases.seed("--size", "200", "--seed", "4")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    leftover = "dask_stash__dask_loading_0badcafe"
    with databases.new() as conn:
        conn.execute("create schema if not exists dbt_quarantine")
        conn.execute(f"create unlogged table dbt_quarantine.{leftover} (step text)")
    with databases.new() as holder, holder.transaction():
        holder.execute(f"lock table dbt_quarantine.{leftover} in access share mode")
        result = run_module("loader", "transform", "--engine", "dask", env=env, timeout=180)
    assert f"dbt_quarantine.{leftover}" in result.stderr and "the next dask run drops it" in result.stderr
    with databases.new() as conn:
        assert _dask_loading_tables(conn) == [leftover]
        assert count(conn, "select count(*) from dbt_marts.orders") > 100
