"""The dbt macros and models as plain SQL, for comparing the pandas engine with them value by value.

The macros in dbt_project/macros/ use plain Jinja only, so jinja2 renders them without dbt: a macro call becomes
one SQL expression, evaluated over a list of values with `unnest(...) with ordinality` on the test server.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import jinja2
import psycopg
from psycopg import sql

from loader.core.contract import DBT_PROJECT_DIR

DBT_PROJECT = DBT_PROJECT_DIR
ERROR = "<error>"


@cache
def _macro_source() -> str:
    return "\n".join(path.read_text() for path in sorted((DBT_PROJECT / "macros").glob("*.sql")))


def _environment(**globals_: Callable[..., str]) -> jinja2.Environment:
    # `do`: dbt's tag, which the macros use (get_fixture_sql); plain Jinja has it as an extension.
    environment = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 (SQL, not HTML)
        extensions=["jinja2.ext.do"],
    )
    environment.globals.update(globals_)
    return environment


@cache
def macro_sql(name: str, *arguments: str) -> str:
    """The SQL expression `{{ name(arguments) }}` renders to, as dbt would compile it."""
    with warnings.catch_warnings():
        # A regular expression in a Jinja string ('\d') draws Python's escape warning; dbt reads it the same way.
        warnings.simplefilter("ignore", DeprecationWarning)
        module = _environment().from_string(_macro_source()).module
        return str(getattr(module, name)(*arguments))


@cache
def model_sql(path: str, refs: tuple[tuple[str, str], ...] = (), **sources: str) -> str:
    """A model's SELECT with its sources and refs (as (model, table) pairs: cached, so hashable) replaced by the
    given tables (staging models: their sources, and the ref to stg_legacy__corrections)."""
    template = _macro_source() + "\n" + (DBT_PROJECT / "models" / path).read_text()

    def source(_schema: str, table: str) -> str:
        return sources[table]

    def ref(name: str) -> str:
        return dict(refs)[name]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return _environment(source=source, ref=ref).from_string(template).render()


def evaluate(conn: psycopg.Connection[Any], expression: str, values: Sequence[str | None]) -> list[Any]:
    """The expression over `value` for each value, in order; ERROR for a value PostgreSQL refuses to evaluate."""
    query = sql.SQL(
        "select {} from unnest(%s::text[]) with ordinality as input(value, position) order by position"
    ).format(sql.SQL(expression.replace("%", "%%")))  # type: ignore[arg-type]  # rendered macro SQL, trusted
    try:
        with conn.transaction():
            return [row[0] for row in conn.execute(query, (list(values),))]
    except psycopg.DataError:
        # One value stopped the statement (a numeric overflow, say): find which, one value at a time.
        results: list[Any] = []
        for value in values:
            try:
                with conn.transaction():
                    row = conn.execute(query, ([value],)).fetchone()
                results.append(row[0] if row else None)
            except psycopg.DataError:
                results.append(ERROR)
        return results
