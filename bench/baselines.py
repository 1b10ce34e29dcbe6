"""What PostgreSQL itself does with the same rows: the physical limit each stage is compared with.

Each baseline prepares its empty tables untimed, times only the bare PostgreSQL operation (through the psql
shipped with the embedded server, so the client is PostgreSQL's own), and drops its tables afterwards.
Publish has two: the physical floor (its rows into unindexed tables) and its goal (the same rows into tables
defined as its targets are, keys and indexes included).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from psycopg import sql

from bench.measure import Measurement, run_measured
from bench.server import NEW_DB, OLD_DB, PROJECT_ROOT, BenchServer
from loader.core.contract import LEGACY_TABLES, MART_ORDER, MART_SCHEMA, STAGING_SCHEMA

BASELINE_SCHEMA = "bench_baseline"


@dataclass(frozen=True)
class Relation:
    schema: str
    table: str

    def identifier(self) -> sql.Identifier:
        return sql.Identifier(self.schema, self.table)

    def copy_name(self) -> sql.Identifier:
        """Where a baseline writes this relation's rows: a table of its own in the baseline schema."""
        return sql.Identifier(BASELINE_SCHEMA, f"{self.schema}__{self.table}")


def count_rows(server: BenchServer, database: str, relations: Sequence[Relation]) -> dict[str, int]:
    counts = {}
    with server.connect(database) as conn:
        for relation in relations:
            row = conn.execute(sql.SQL("select count(*) from {}").format(relation.identifier())).fetchone()
            counts[relation.table] = int(row[0]) if row else 0
    return counts


def database_sizes(server: BenchServer, databases: Sequence[str]) -> dict[str, int]:
    """Each database's size on disk (pg_database_size), in bytes."""
    sizes = {}
    with server.connect() as conn:
        for database in databases:
            row = conn.execute("select pg_database_size(%s)", (database,)).fetchone()
            sizes[database] = int(row[0]) if row else 0
    return sizes


def _psql(server: BenchServer, database: str, *extra: str) -> list[str]:
    # -X: no ~/.psqlrc; ON_ERROR_STOP: a failed statement fails the measurement instead of passing silently.
    return [str(server.psql), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.url(database), *extra]


def _reset_baseline_schema(server: BenchServer, database: str) -> None:
    with server.connect(database) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(BASELINE_SCHEMA)))
        conn.execute(sql.SQL("create schema {}").format(sql.Identifier(BASELINE_SCHEMA)))


def drop_baseline_schema(server: BenchServer, database: str) -> None:
    with server.connect(database) as conn:
        conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(BASELINE_SCHEMA)))


def copy_from_file(server: BenchServer, env: dict[str, str], dump_dir: Path) -> Measurement:
    """The seeder's output, dumped to files, COPYed back into tables of the same definition (keys included).

    The seeder writes its rows with COPY in one transaction; this is the same COPY without the Python that
    generates them, so the ratio is the cost of generating the data.
    """
    legacy = legacy_tables()
    _reset_baseline_schema(server, OLD_DB)
    script = []
    with server.connect(OLD_DB) as conn:
        for relation in legacy:
            conn.execute(
                sql.SQL("create table {} (like {} including all)").format(relation.copy_name(), relation.identifier())
            )
            path = dump_dir / f"{relation.table}.copy"
            with (
                path.open("wb") as out,
                conn.cursor().copy(sql.SQL("copy {} to stdout").format(relation.identifier())) as copy,
            ):
                for chunk in copy:
                    out.write(chunk)
            target = relation.copy_name().as_string(conn)
            script.append(f"\\copy {target} from {shlex.quote(str(path))}")
    server.checkpoint()
    try:
        # -1: one transaction, as the seeder's.
        return run_measured(_psql(server, OLD_DB, "-1"), env=env, cwd=PROJECT_ROOT, input_text="\n".join(script))
    finally:
        drop_baseline_schema(server, OLD_DB)


def _legacy_column_definitions(server: BenchServer, table: str) -> list[tuple[str, str]]:
    with server.connect(OLD_DB) as conn:
        rows = conn.execute(
            """
            select attname, format_type(atttypid, atttypmod)
            from pg_attribute
            where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped
            order by attnum
            """,
            (f"public.{table}",),
        ).fetchall()
    return [(str(name), str(type_sql)) for name, type_sql in rows]


def copy_pipe(server: BenchServer, env: dict[str, str]) -> Measurement:
    """`psql -c 'copy … to stdout' | psql -c 'copy … from stdin'` per legacy table, into plain tables.

    What the loader's stage does, with no Python in the middle: the floor for moving rows between servers.
    """
    _reset_baseline_schema(server, NEW_DB)
    commands = ["set -euo pipefail"]
    with server.connect(NEW_DB) as conn:
        for table in LEGACY_TABLES:
            columns = _legacy_column_definitions(server, table)
            target = Relation("public", table).copy_name()
            definitions = sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(type_sql)) for name, type_sql in columns
            )
            conn.execute(sql.SQL("create table {} ({})").format(target, definitions))
            copy_out = f"copy {sql.Identifier(table).as_string(conn)} to stdout"
            copy_in = f"copy {target.as_string(conn)} from stdin"
            reader = shlex.join(_psql(server, OLD_DB, "-c", copy_out))
            writer = shlex.join(_psql(server, NEW_DB, "-c", copy_in))
            commands.append(f"{reader} | {writer}")
    server.checkpoint()
    try:
        return run_measured(["bash", "-c", "\n".join(commands)], env=env, cwd=PROJECT_ROOT)
    finally:
        drop_baseline_schema(server, NEW_DB)


def insert_select(server: BenchServer, env: dict[str, str], sources: Sequence[Relation]) -> Measurement:
    """`insert into <unindexed copy> select * from <source>` for each source, in one transaction."""
    return _insert_select(server, env, sources, keys=False)


def insert_into_target_definitions(
    server: BenchServer, env: dict[str, str], targets: Sequence[Relation]
) -> Measurement:
    """`insert into <copy> select * from <target>` for each target table, in the order given, in one transaction.

    The copies are made with `LIKE … INCLUDING ALL`: primary keys, unique constraints, indexes, defaults and
    identity, but no foreign keys (LIKE never copies them). Run after publish, on the rows it wrote, this is
    what writing those rows costs PostgreSQL itself when the tables are defined as publish's are, every key
    and index maintained row by row as a plain INSERT … SELECT does: publish's goal, where the unindexed
    insert_select is its physical floor. Give the targets parents first, the order publish writes them in.
    """
    return _insert_select(server, env, targets, keys=True)


def _insert_select(server: BenchServer, env: dict[str, str], sources: Sequence[Relation], *, keys: bool) -> Measurement:
    """Empty copies of the sources made untimed, then one psql transaction of INSERT … SELECTs into them, timed."""
    _reset_baseline_schema(server, NEW_DB)
    # LIKE alone copies the columns and NOT NULLs only; INCLUDING ALL adds keys, indexes, defaults and identity.
    like = sql.SQL("like {} including all") if keys else sql.SQL("like {}")
    statements = []
    with server.connect(NEW_DB) as conn:
        for source in sources:
            conn.execute(sql.SQL("create table {} ({})").format(source.copy_name(), like.format(source.identifier())))
            statements.append(
                sql.SQL("insert into {} select * from {};")
                .format(source.copy_name(), source.identifier())
                .as_string(conn)
            )
    server.checkpoint()
    try:
        return run_measured(_psql(server, NEW_DB, "-1"), env=env, cwd=PROJECT_ROOT, input_text="\n".join(statements))
    finally:
        drop_baseline_schema(server, NEW_DB)


def legacy_tables() -> list[Relation]:
    return [Relation("public", table) for table in LEGACY_TABLES]


def target_tables() -> list[Relation]:
    return [Relation("public", table) for table in MART_ORDER]


def staged_legacy_tables() -> list[Relation]:
    return [Relation(STAGING_SCHEMA, table) for table in LEGACY_TABLES]


def mart_tables() -> list[Relation]:
    return [Relation(MART_SCHEMA, table) for table in MART_ORDER]
