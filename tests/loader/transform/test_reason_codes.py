"""One contract: the reason_codes seed is the only list of reason codes, and everything that names one agrees with it.

Both engines, on a dirty seeded database and on the hand-written hard rows, write only codes of the seed, with
its outcome and (where it names one) its legacy column; the docs show the seed and name every code in its rule;
the seeder's catalogue and the scorer read it; max_order_quantity is set once, in dbt_project.yml's vars.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pandas as pd
import pytest

from loader.core.contract import (
    DBT_PROJECT_DIR,
    PROJECT_ROOT,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLES,
    REASON_OUTCOMES,
    ReasonCode,
    dbt_var,
    reason_codes,
)
from loader.core.errors import PipelineError
from loader.core.models import LedgerOutcome
from loader.transform.pandas_engine import models
from loader.transform.pandas_engine.project import load_project
from seeder import catalogue
from seeder.orders import max_quantity
from tests.loader.transform.test_hard_rows import ORDERS, PRODUCTS, USERS
from tests.support.databases import Databases, run_module
from tests.support.hard_rows import both_engines, query_rows, staged
from tests.support.helpers import dbt_script

DOCS = PROJECT_ROOT / "docs" / "cleaning-rules.md"
# The codes whose ledger outcome depends on where they arise, each as its rule says; the seed holds the other.
OTHER_OUTCOMES = {
    ("value_too_long", "warning"),  # L2: an optional value is left out, the row migrates
    ("amount_ambiguous", "rejected"),  # M4: an order's unit price (a product's price only warns, R3)
    ("order_before_registration", "rejected"),  # O7 with strict_dates
}
# Backquoted words in the rules' outcome columns that are not reason codes: ledger columns and a dbt var.
NOT_CODES = {"evidence", "address_raw", "id", "strict_dates"}


def _rule_rows() -> dict[str, list[str]]:
    """The rows of the docs' rule tables by rule id, as lists of cells."""
    rows = {}
    for line in DOCS.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\| ([A-Z]\d+) \|", line):
            rows[match.group(1)] = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
    return rows


def test_the_seed_outcomes_are_the_ledgers() -> None:
    assert set(REASON_OUTCOMES) == {outcome.value for outcome in LedgerOutcome}
    codes = reason_codes()
    assert len(codes) > 30
    assert all(re.fullmatch("[a-z][a-z_]*", code) for code in codes)
    assert {reason.outcome for reason in codes.values()} == set(REASON_OUTCOMES)


def test_a_seed_with_a_code_twice_or_an_unknown_outcome_is_refused(tmp_path: Any) -> None:
    header = "code,outcome,legacy_column,rule_id,description\n"
    (tmp_path / "reason_codes.csv").write_text(header + "a,rejected,,K1,x\na,warning,,K1,y\n")
    with pytest.raises(ValueError, match="written twice"):
        reason_codes(tmp_path)
    (tmp_path / "reason_codes.csv").write_text(header + "a,migrated,,K1,x\n")
    with pytest.raises(ValueError, match="outcome 'migrated'"):
        reason_codes(tmp_path)


def test_every_seed_code_is_named_in_the_row_of_its_rule() -> None:
    rows = _rule_rows()
    for code, reason in reason_codes().items():
        assert reason.rule_id in rows, f"{code}: no rule {reason.rule_id} in {DOCS.name}"
        assert f"`{code}`" in " | ".join(rows[reason.rule_id]), f"{code}: rule {reason.rule_id} does not name it"


def test_every_code_the_rules_give_as_an_outcome_is_in_the_seed() -> None:
    codes = reason_codes()
    named = {
        word
        for cells in _rule_rows().values()
        for word in re.findall(r"`([a-z][a-z_]*)`", cells[-1])
        if word not in NOT_CODES
    }
    assert len(named) > 30
    assert named - set(codes) == set()
    assert set(codes) - named == {"currency_assumed", "currency_from_product"}  # M2 names them in its text


def test_the_docs_table_of_reason_codes_is_written_from_the_seed() -> None:
    script = dbt_script("reason_codes_doc")
    assert script.written(DOCS.read_text(encoding="utf-8")) == script.table(), (
        "docs/cleaning-rules.md's table of reason codes differs from the seed: "
        "run `python dbt_project/scripts/reason_codes_doc.py`"
    )


def test_every_reason_the_seeders_catalogue_names_is_in_the_seed() -> None:
    reasons = {pattern.reason for pattern in catalogue.PATTERNS if pattern.reason}
    assert reasons and reasons <= set(reason_codes())


def test_max_order_quantity_is_set_once_in_the_projects_vars() -> None:
    quantity = dbt_var("max_order_quantity")
    assert isinstance(quantity, int) and quantity > 0
    assert load_project().max_order_quantity == quantity
    assert max_quantity() == quantity
    models_sql = "\n".join(path.read_text() for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"))
    assert "var('max_order_quantity')" in models_sql
    assert not re.search(r"var\('max_order_quantity',", models_sql), "a default would be a second place"
    with pytest.raises(KeyError, match="no var"):
        dbt_var("no_such_var")


def test_the_pandas_engine_takes_the_fault_column_from_the_seed() -> None:
    project = load_project()
    reason = pd.Series(["user_not_found", None, "amount_ambiguous", "user_not_found"], dtype="category")
    fault = models._fault_column(reason, project, "unit_price_str_redundant")
    assert [None if pd.isna(column) else column for column in fault] == [
        "user_identifier_text",
        None,
        "unit_price_str_redundant",  # amount_ambiguous names no column: the one given for this table
        "user_identifier_text",
    ]
    moved = dict(project.reason_codes)
    moved["user_not_found"] = replace(moved["user_not_found"], legacy_column="somewhere_else")
    fault = models._fault_column(reason, replace(project, reason_codes=moved), "unit_price_str_redundant")
    assert fault.iloc[0] == "somewhere_else"
    with pytest.raises(PipelineError, match="not in the reason_codes seed"):
        models._fault_column(pd.Series(["no_such_code"]), project, "x")


def _written(databases: Databases) -> set[tuple[str, str, str, str | None]]:
    """(legacy table, outcome, reason code, column) of every entry either quarantine table holds."""
    with databases.new() as conn:
        return {
            row
            for table in QUARANTINE_TABLES
            for row in query_rows(
                conn,
                f"select distinct legacy_table, outcome, reason_code, column_name from {QUARANTINE_SCHEMA}.{table}",
            )
        }


def _check_against_the_seed(written: set[tuple[str, str, str, str | None]], codes: dict[str, ReasonCode]) -> None:
    unknown = {code for _, _, code, _ in written} - set(codes)
    assert not unknown, f"codes not in the reason_codes seed: {sorted(unknown)}"
    for table, outcome, code, column in written:
        reason = codes[code]
        assert outcome == reason.outcome or (code, outcome) in OTHER_OUTCOMES, (table, code, outcome)
        if reason.legacy_column is not None:
            assert column == reason.legacy_column, (table, code, column)


def test_both_engines_write_only_the_seeds_codes_on_a_dirty_database(databases: Databases) -> None:
    env = databases.env(LEGACY_MIGRATE_REPORT_DIR=str(databases.scratch / "reports"))
    databases.seed("--profile", "dirty", "--size", "1500", "--seed", "13")
    run_module("loader", "schema", env=env)
    run_module("loader", "stage", env=env)
    codes = reason_codes()
    for engine in both_engines(databases, env):
        written = _written(databases)
        # The dirty profile calls for most codes: a check on a handful would prove little.
        assert len({code for _, _, code, _ in written}) >= 25, (engine, written)
        _check_against_the_seed(written, codes)


def test_both_engines_write_only_the_seeds_codes_on_the_hard_rows(databases: Databases) -> None:
    staged(databases, USERS, PRODUCTS, ORDERS)
    codes = reason_codes()
    for engine in both_engines(databases, databases.env()):
        written = _written(databases)
        seen = {(code, outcome) for _, outcome, code, _ in written}
        # The codes whose outcome depends on where they arise, with each outcome, and the rows K1 rejects.
        assert {
            ("value_too_long", "rejected"),
            ("value_too_long", "warning"),
            ("amount_ambiguous", "rejected"),
            ("amount_ambiguous", "warning"),
            ("legacy_id_missing", "rejected"),
            ("legacy_id_duplicate", "rejected"),
        } <= seen, engine
        _check_against_the_seed(written, codes)
