"""What the dbt project decides besides its SQL, read from dbt_project/ itself: variables, seeds, mart contracts.

The pandas engine reads the same files dbt reads, never a copy: the mapping seeds people edit, the reason_codes
seed, the variables in dbt_project.yml, and the marts' enforced contracts (column names, types and constraints of
each table).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from loader.core.contract import (
    DBT_PROJECT_DIR,
    MART_ORDER,
    MART_SCHEMA,
    QUARANTINE_SCHEMA,
    TRANSFORM_STAMP,
    ReasonCode,
    reason_codes,
)
from loader.core.contract import QUARANTINE_COLUMNS as QUARANTINE_TYPES
from loader.core.errors import PipelineError
from loader.transform.pandas_engine.io import OutputColumn, OutputTable

QUARANTINE_COLUMNS = tuple(OutputColumn(name, data_type) for name, data_type in QUARANTINE_TYPES)
_VARCHAR = re.compile(r"varchar\((\d+)\)")


@dataclass(frozen=True)
class Mappings:
    """The mapping seeds, spelling -> canonical value; `folded` keys them as the lookups do (rule S1)."""

    categories: Mapping[str, str]
    countries: Mapping[str, str]
    statuses: Mapping[str, str]

    def folded(self, key: Callable[[pd.Series], pd.Series]) -> Mappings:
        """The seeds by folded spelling (the mapping_seed macro); a key with two values is an error, as the seed's
        test mapping_keys_unambiguous fails dbt's build."""
        return Mappings(
            categories=_folded("category_synonyms", self.categories, key),
            countries=_folded("country_names", self.countries, key),
            statuses=_folded("status_synonyms", self.statuses, key),
        )


def _folded(seed: str, mapping: Mapping[str, str], key: Callable[[pd.Series], pd.Series]) -> dict[str, str]:
    keys = key(pd.Series(list(mapping), dtype="str"))
    folded: dict[str, str] = {}
    for spelling, folded_key in zip(mapping, keys, strict=True):
        value = mapping[spelling]
        if folded.setdefault(folded_key, value) != value:
            raise ValueError(
                f"the seed {seed} maps the key {folded_key!r} to both {folded[folded_key]!r} and {value!r} "
                f"(the spelling {spelling!r}): spellings that fold alike must map to one value"
            )
    return folded


@dataclass(frozen=True)
class Project:
    staging_schema: str
    max_order_quantity: int
    # Rule O7: reject an order dated before its user registered (the dbt var strict_dates), else warn.
    strict_dates: bool
    # Rule M2: the legacy app's own currency (the dbt var legacy_currency) and the currency_names seed's rows.
    legacy_currency: str
    currency_names: tuple[tuple[str, str], ...]
    mappings: Mappings
    # The reason_codes seed by code: the legacy column each code is about (rejects' column_name).
    reason_codes: Mapping[str, ReasonCode]
    marts: Mapping[str, OutputTable]
    rejects: OutputTable
    warnings: OutputTable
    # Each per-row correction and what became of it (rule C2), in the shape of rejects and warnings.
    corrections: OutputTable
    # Which staging snapshot the outputs were built from: publish refuses outputs of another (as for dbt).
    stamp: OutputTable


def _seed(folder: Path, name: str) -> dict[str, str]:
    """A mapping seed, spelling -> value; one spelling written twice with two values is refused, as dbt's seed test
    mapping_keys_unambiguous refuses it (a dict would keep the last in silence)."""
    mapping: dict[str, str] = {}
    for spelling, value in _seed_rows(folder, name):
        if mapping.setdefault(spelling, value) != value:
            raise PipelineError(
                f"the seed {name} maps {spelling!r} to both {mapping[spelling]!r} and {value!r}: "
                "a spelling must map to one value"
            )
    return mapping


def _seed_rows(folder: Path, name: str) -> tuple[tuple[str, str], ...]:
    frame = pd.read_csv(folder / f"{name}.csv", dtype="str", keep_default_na=False)
    key, value = frame.columns[:2]
    return tuple(zip(frame[key], frame[value], strict=True))


def legacy_currency(value: object) -> str:
    """The legacy_currency macro: the var in capitals, refused unless it is three letters."""
    code = str(value).upper()
    if not re.fullmatch("[A-Z]{3}", code):
        raise ValueError(f"legacy_currency must be an ISO 4217 code such as USD, not {code}")
    return code


def currency_lookup(project: Project, key: Callable[[pd.Series], pd.Series]) -> dict[str, str | None]:
    """currency_lookup() and money_currency() (M2): a currency_key -> the one currency its spelling names, or the
    legacy currency for a spelling several currencies share that include it, else None."""
    spellings = pd.Series([spelling for spelling, _ in project.currency_names], dtype="str")
    named: dict[str, set[str]] = {}
    for folded, (_, currency) in zip(key(spellings), project.currency_names, strict=True):
        if isinstance(folded, str):
            named.setdefault(folded, set()).add(currency)
    lookup: dict[str, str | None] = {}
    for folded, codes in named.items():
        if len(codes) == 1:
            lookup[folded] = next(iter(codes))
        else:
            lookup[folded] = project.legacy_currency if project.legacy_currency in codes else None
    return lookup


def _constraints(column: Mapping[str, Any]) -> str:
    words = []
    for constraint in column.get("constraints") or []:
        kind = constraint["type"]
        if kind == "not_null":
            words.append("not null")
        elif kind == "primary_key":
            words.append("primary key")
        elif kind == "check":
            words.append(f"check ({constraint['expression']})")
        else:
            raise ValueError(f"contract constraint {kind!r} on {column['name']} is not understood")
    return " ".join(words)


def _marts(folder: Path) -> dict[str, OutputTable]:
    document = yaml.safe_load((folder / "models" / "marts" / "_marts__models.yml").read_text())
    tables = {}
    for model in document["models"]:
        columns = tuple(
            OutputColumn(column["name"], column["data_type"], _constraints(column)) for column in model["columns"]
        )
        tables[model["name"]] = OutputTable(MART_SCHEMA, model["name"], columns)
    missing = [name for name in MART_ORDER if name not in tables]
    if missing:
        raise ValueError(f"the marts' contracts name no {', '.join(missing)}")
    return {name: tables[name] for name in MART_ORDER}


def var_is_true(value: object) -> bool:
    """A boolean dbt var as int_orders_resolved reads it: `true`, `1` or `yes` in any case (YAML or text)."""
    return str(value).lower() in ("true", "1", "yes")


def _required_var(variables: Mapping[str, Any], name: str) -> Any:
    """A var the models read without a default (`var('max_order_quantity')`): dbt refuses to compile without it."""
    if name not in variables:
        raise PipelineError(f"dbt_project.yml sets no var {name!r}, which the models require")
    return variables[name]


def load_project(folder: Path = DBT_PROJECT_DIR, variables: Mapping[str, Any] | None = None) -> Project:
    """The project as dbt sees it; `variables` override dbt_project.yml's vars, as `dbt build --vars` does."""
    settings = yaml.safe_load((folder / "dbt_project.yml").read_text())
    variables = {**(settings.get("vars") or {}), **(variables or {})}
    seeds = folder / "seeds"
    return Project(
        staging_schema=str(_required_var(variables, "legacy_staging_schema")),
        max_order_quantity=int(_required_var(variables, "max_order_quantity")),
        strict_dates=var_is_true(variables.get("strict_dates", False)),
        legacy_currency=legacy_currency(_required_var(variables, "legacy_currency")),
        currency_names=_seed_rows(seeds, "currency_names"),
        mappings=Mappings(
            categories=_seed(seeds, "category_synonyms"),
            countries=_seed(seeds, "country_names"),
            statuses=_seed(seeds, "status_synonyms"),
        ),
        reason_codes=reason_codes(seeds),
        marts=_marts(folder),
        rejects=OutputTable(QUARANTINE_SCHEMA, "rejects", QUARANTINE_COLUMNS),
        warnings=OutputTable(QUARANTINE_SCHEMA, "warnings", QUARANTINE_COLUMNS),
        corrections=OutputTable(QUARANTINE_SCHEMA, "corrections", QUARANTINE_COLUMNS),
        stamp=OutputTable(QUARANTINE_SCHEMA, TRANSFORM_STAMP, (OutputColumn("snapshot_taken_at", "timestamp"),)),
    )


def varchar_length(type_sql: str) -> int | None:
    """n for varchar(n): the width of the target column a mart column feeds (rules L1, L2)."""
    match = _VARCHAR.fullmatch(type_sql.strip().lower().replace(" ", ""))
    return int(match.group(1)) if match else None


def contract_width(project: Project, mart: str, column: str) -> int:
    """The contract_width macro: n for a mart column whose contract is varchar(n); else a ValueError."""
    for output in project.marts[mart].columns:
        if output.name == column:
            width = varchar_length(output.type_sql)
            if width is None:
                raise ValueError(f"contract_width: {mart}.{column} is {output.type_sql}")
            return width
    raise ValueError(f"contract_width: no mart column {mart}.{column}")
