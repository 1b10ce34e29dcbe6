"""The seeder on a real PostgreSQL: same seed and size, same bytes; the answer key stays out of the pipeline."""

from __future__ import annotations

import inspect

import psycopg
from psycopg import sql

from loader.core.contract import PROJECT_ROOT
from seeder import catalogue
from seeder.seed import seed
from tests.support.databases import Databases, run_module
from tests.support.helpers import count

TABLES = (
    ("public", "old_users", "id"),
    ("public", "old_products", "id"),
    ("public", "old_orders", "id"),
    ("answer_key", "users", "legacy_id"),
    ("answer_key", "products", "legacy_id"),
    ("answer_key", "orders", "legacy_id"),
    ("answer_key", "catalogue", "pattern"),
    ("answer_key", "meta", "key"),
)


def checksums(conn: psycopg.Connection) -> dict[str, str]:
    """One md5 per table over every row's text, in key order."""
    out = {}
    for schema, table, key in TABLES:
        query = sql.SQL("select md5(string_agg(t::text, E'\\n' order by t.{})) from {} as t").format(
            sql.Identifier(key), sql.Identifier(schema, table)
        )
        row = conn.execute(query).fetchone()
        assert row is not None and row[0] is not None, f"{schema}.{table} is empty"
        out[f"{schema}.{table}"] = str(row[0])
    return out


def test_the_same_seed_and_size_give_the_same_tables_and_another_seed_does_not(databases: Databases) -> None:
    env = databases.env()
    first = run_module("seeder", "--configured-database", databases.old_name, "--size", "300", "--seed", "5", env=env)
    assert "rows/s" in first.stdout and "answer key" in first.stdout
    with databases.old() as conn:
        before = checksums(conn)
    databases.seed("--size", "300", "--seed", "5", "--replace")
    with databases.old() as conn:
        assert checksums(conn) == before
    databases.seed("--size", "300", "--seed", "6", "--replace")
    with databases.old() as conn:
        other = checksums(conn)
    for table in ("public.old_users", "public.old_products", "public.old_orders", "answer_key.orders"):
        assert other[table] != before[table], table


def test_every_legacy_row_has_one_answer_and_every_pattern_is_catalogued(databases: Databases) -> None:
    databases.seed("--size", "500", "--seed", "2")
    with databases.old() as conn:
        for legacy, answer in (("old_users", "users"), ("old_products", "products"), ("old_orders", "orders")):
            missing = count(
                conn,
                f"select count(*) from {legacy} full join answer_key.{answer} as a on a.legacy_id = {legacy}.id "
                f"where a.legacy_id is null or {legacy}.id is null",
            )
            assert missing == 0, legacy
            for column in catalogue.columns(legacy):  # type: ignore[arg-type]
                unknown = count(
                    conn,
                    f"select count(*) from answer_key.{answer} where {column} not in "
                    "(select pattern from answer_key.catalogue)",
                )
                assert unknown == 0, (answer, column)
        assert count(conn, "select count(*) from answer_key.catalogue") == len(catalogue.PATTERNS)
        assert dict(conn.execute("select key, value from answer_key.meta").fetchall())["profile"] == "dirty"


def test_the_loader_never_copies_the_answer_key(databases: Databases) -> None:
    env = databases.env()
    databases.seed("--size", "100")
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    with databases.new() as conn:
        assert count(conn, "select count(*) from pg_namespace where nspname = 'answer_key'") == 0
        staged = {row[0] for row in conn.execute("select tablename from pg_tables where schemaname = 'staging'")}
    assert staged <= {"old_users", "old_products", "old_orders", "legacy_snapshot", "corrections"}


def test_no_pipeline_code_mentions_the_answer_key() -> None:
    """The answer key must never become input: loader/ and dbt_project/ do not name its schema."""
    root = PROJECT_ROOT
    sources = [
        path
        for folder in ("loader", "dbt_project")
        for path in (root / folder).rglob("*")
        if path.is_file() and path.suffix in {".py", ".sql", ".yml", ".yaml", ".csv"} and "target" not in path.parts
    ]
    assert sources
    assert [str(p) for p in sources if "answer_key" in p.read_text(errors="replace")] == []


def test_make_migrate_seeds_the_dirty_profile() -> None:
    # `make migrate` runs `python -m seeder --if-empty`, whose --profile defaults to seed()'s.
    assert inspect.signature(seed).parameters["profile"].default == "dirty"


def test_the_legacy_profile_writes_only_what_the_legacy_app_wrote(databases: Databases) -> None:
    databases.seed("--size", "500", "--profile", "legacy")
    with databases.old() as conn:
        statuses = {row[0] for row in conn.execute("select distinct status_text from old_orders")}
        categories = {row[0] for row in conn.execute("select distinct category_name_redundant from old_products")}
        registrations = count(
            conn, r"select count(*) from old_users where registration_date_str !~ '^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$'"
        )
        dates = count(
            conn,
            r"select count(*) from old_orders where order_date_str !~ '^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4} "
            r"\d{2}:\d{2} [AP]M)$'",
        )
        prices = count(conn, r"select count(*) from old_products where price_str !~ '^\d+\.\d{2}( USD| EUR)?$'")
        answers = conn.execute("select outcome, count(*) from answer_key.orders group by 1").fetchall()
    assert statuses <= {"pending", "Pending", "PROCESSING", "shipped", "Shipped", "delivered", "DELIVERED"} | {
        "cancelled",
        "Returned?",
    }
    assert categories <= {"Electronics", "Books", "Home Goods", "Apparel", "Sports", "electronics", "libros", " ropa "}
    assert (registrations, dates, prices) == (0, 0, 0)
    assert dict(answers) == {"migrated": 500}
