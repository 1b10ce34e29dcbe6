"""What was not understood, ranked: per reason and column, the raw values the transform rejected or warned about.

For every rejected or warned legacy row (merges are understood: a row equal to another), grouped by legacy table,
outcome, reason code and column: each distinct raw value, its rows, its share of that reason's rows and a few
example legacy ids, counted in the database from one run's ledger or from the quarantine the last transform
built. Where the reason is a value a mapping seed did not know (a status, category, country or currency), the
nearest canonical value of that seed is offered as a *suggestion* with its fuzzy score; nothing here applies it
(`python -m loader review` writes the suggestions for a person to approve).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, Final, cast

import pandas as pd
from rapidfuzz import fuzz, process
from sqlalchemy import Connection, TextClause, text

from loader.core.contract import CORRECTION_REASONS, QUARANTINE_SCHEMA, SEEDS_DIR, QuarantineTable
from loader.transform.pandas_engine.parse import mapping_key
from loader.transform.pandas_engine.pg_text import TextRules, rules_for

# Example legacy ids per raw value, the lowest first.
EXAMPLE_IDS: Final = 3
# Raw values per reason shown in the run report (the CSV holds them all).
TOP_VALUES: Final = 5
UNRECOGNISED_CSV: Final = "unrecognised.csv"
CSV_COLUMNS: Final = (
    "legacy_table",
    "outcome",
    "reason_code",
    "column_name",
    "rank",
    "raw_value",
    "rows",
    "share",
    "example_legacy_ids",
    "suggestion_seed",
    "suggested_value",
    "suggestion_score",
)


def _whole(raw: str) -> str | None:
    return raw


def _country_part(raw: str) -> str | None:
    # The country is what follows the address's last ", " (address_last_part in stg_legacy__users).
    head, separator, last = raw.rpartition(", ")
    return last if separator and head else None


def _currency_part(raw: str) -> str | None:
    # What is left of an amount without its digits, separators and signs: a currency's spelling, if any. A bare
    # unit price (the usual unit_price_currency_unknown: its product's price names the currency) leaves nothing.
    left = re.sub(r"[\d\s.,'+\-()]", "", raw)
    return left or None


@dataclass(frozen=True)
class MappingSeed:
    """A mapping seed people edit, and how a reason's raw value gives the spelling to look up in it."""

    seed: str
    spelling_column: str
    value_column: str
    spelling_of: Callable[[str], str | None]

    def read(self, seeds_dir: Path = SEEDS_DIR) -> list[tuple[str, str]]:
        """The seed's (spelling, canonical value) rows, in order."""
        # utf-8-sig: dbt reads a seed that an editor saved with a byte-order mark, and so must this.
        with (seeds_dir / f"{self.seed}.csv").open(newline="", encoding="utf-8-sig") as handle:
            return [(row[self.spelling_column], row[self.value_column]) for row in csv.DictReader(handle)]


# The reason codes (dbt_project/seeds/reason_codes.csv) that say "not in the <seed> seed", and that seed.
MAPPING_REASONS: Final[Mapping[str, MappingSeed]] = {
    "status_unknown": MappingSeed("status_synonyms", "status_spelling", "status", _whole),
    "category_unknown": MappingSeed("category_synonyms", "category_spelling", "category", _whole),
    "country_unknown": MappingSeed("country_names", "country_spelling", "country_code", _country_part),
    "unit_price_currency_unknown": MappingSeed("currency_names", "currency_spelling", "currency", _currency_part),
}
MAPPING_SEEDS: Final[Mapping[str, MappingSeed]] = {mapping.seed: mapping for mapping in MAPPING_REASONS.values()}


@dataclass(frozen=True)
class Suggestion:
    """The nearest canonical value of a mapping seed: offered to a person, never applied on its own."""

    seed: str
    spelling: str
    value: str
    # rapidfuzz's WRatio of the folded spelling and the nearest folded spelling of the seed, 0 to 100.
    score: float
    matched_spelling: str

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": "suggestion (not applied)",
            "seed": self.seed,
            "spelling": self.spelling,
            "value": self.value,
            "score": self.score,
            "nearest_seed_key": self.matched_spelling,
        }


@dataclass(frozen=True)
class RawValueCount:
    """One raw value of one reason and column: its rows, its share of the reason's rows, its rank and examples."""

    legacy_table: str
    outcome: str
    reason_code: str
    column_name: str | None
    raw_value: str | None
    rows: int
    share: float
    rank: int
    example_ids: tuple[int, ...]
    suggestion: Suggestion | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "legacy_table": self.legacy_table,
            "outcome": self.outcome,
            "reason_code": self.reason_code,
            "column_name": self.column_name,
            "rank": self.rank,
            "raw_value": self.raw_value,
            "rows": self.rows,
            "share": round(self.share, 4),
            "example_legacy_ids": list(self.example_ids),
            "suggestion": self.suggestion.as_json() if self.suggestion else None,
        }

    def csv_row(self) -> tuple[object, ...]:
        suggestion = self.suggestion
        return (
            self.legacy_table,
            self.outcome,
            self.reason_code,
            self.column_name or "",
            self.rank,
            "" if self.raw_value is None else self.raw_value,
            self.rows,
            f"{self.share:.4f}",
            " ".join(map(str, self.example_ids)),
            suggestion.seed if suggestion else "",
            suggestion.value if suggestion else "",
            f"{suggestion.score:.1f}" if suggestion else "",
        )


# Set-based: one statement groups the entries by reason, column and raw value, and ranks them in the database.
# Its `entries` are one run's ledger or the quarantine; merges are left out, as a merge is a row understood.
_RANKED = """
values_counted as (
    select
        entries.legacy_table,
        entries.outcome,
        entries.reason_code,
        entries.column_name,
        entries.raw_value,
        count(*) as value_rows,
        (array_agg(entries.legacy_id order by entries.legacy_id) filter (where entries.legacy_id is not null))[
            1:{examples}
        ] as example_ids
    from entries
    where entries.outcome in ('rejected', 'warning')
    group by entries.legacy_table, entries.outcome, entries.reason_code, entries.column_name, entries.raw_value
),

ranked as (
    select
        values_counted.*,
        sum(values_counted.value_rows) over reason as reason_rows,
        row_number() over (
            reason order by values_counted.value_rows desc, values_counted.raw_value asc nulls last,
            values_counted.column_name asc nulls last
        ) as value_rank
    from values_counted
    window reason as (
        partition by values_counted.legacy_table, values_counted.outcome, values_counted.reason_code
    )
)

select
    ranked.legacy_table,
    ranked.outcome,
    ranked.reason_code,
    ranked.column_name,
    ranked.raw_value,
    ranked.value_rows,
    ranked.value_rows::float8 / ranked.reason_rows as share,
    ranked.value_rank,
    ranked.example_ids
from ranked
{where}
order by ranked.legacy_table, ranked.outcome, ranked.reason_rows desc, ranked.reason_code, ranked.value_rank
"""

_COLUMNS = "legacy_table, legacy_id, outcome::text as outcome, reason_code, column_name, raw_value"
# The legacy values the rules did not understand: not the corrections people wrote (their own report section).
_NOT_CORRECTIONS = "reason_code not in (" + ", ".join(f"'{code}'" for code in CORRECTION_REASONS.values()) + ")"
_FROM_LEDGER = (
    f"with entries as (select {_COLUMNS} from migration_ledger where run_id = :run_id and {_NOT_CORRECTIONS}),"
)
# The quarantine tables of legacy values (the corrections table holds what people wrote).
_VALUE_TABLES: tuple[QuarantineTable, ...] = ("rejects", "warnings")
_FROM_QUARANTINE = (
    "with entries as ("
    + " union all ".join(f"select {_COLUMNS} from {QUARANTINE_SCHEMA}.{name}" for name in _VALUE_TABLES)
    + "),"
)


# A large legacy database has millions of distinct raw values (every total that disagrees is one), so the run
# never holds them all: the CSV of them all is written as they stream from the server, keeping the top few of each
# reason for the report, and review reads the mapping reasons' values only.
_MAPPING_ONLY = "where ranked.reason_code in (" + ", ".join(f"'{reason}'" for reason in MAPPING_REASONS) + ")"
# Rows fetched from the server at a time while the CSV is written.
_STREAMED_ROWS: Final = 10_000


def _ranked(run_id: int | None, where: str = "") -> tuple[TextClause, dict[str, Any]]:
    """The ranking statement over one run's ledger (or the quarantine), with its parameters."""
    statement = (_FROM_QUARANTINE if run_id is None else _FROM_LEDGER) + _RANKED.format(
        examples=EXAMPLE_IDS, where=where
    )
    return text(statement), ({"run_id": run_id} if run_id is not None else {})


def _counts(rows: Iterable[Any]) -> list[RawValueCount]:
    return [
        RawValueCount(
            legacy_table=str(table),
            outcome=str(outcome),
            reason_code=str(reason),
            column_name=None if column is None else str(column),
            raw_value=None if raw is None else str(raw),
            rows=int(rows),
            share=float(share),
            rank=int(rank),
            example_ids=tuple(int(i) for i in ids or ()),
        )
        # The text statement's columns are untyped: each row as the plain tuple it is.
        for table, outcome, reason, column, raw, rows, share, rank, ids in (
            cast("tuple[Any, ...]", row) for row in rows
        )
    ]


def ranked_values(conn: Connection, run_id: int | None = None, *, mapping_only: bool = False) -> list[RawValueCount]:
    """The raw values of the reject and warning reasons, ranked by rows: one run's ledger entries, or (without a
    run id) the quarantine the last transform built; those of the mapping reasons only, or all (which only a small
    database should ask for: write_unrecognised_csv streams them). Suggestions are added where the reason is a
    mapping's."""
    found = _counts(conn.execute(*_ranked(run_id, _MAPPING_ONLY if mapping_only else "")))
    return _Suggester(database_rules(conn)).add(found)


def write_unrecognised_csv(
    conn: Connection, handle: IO[str], run_id: int | None = None, *, top: int = TOP_VALUES
) -> tuple[int, list[RawValueCount]]:
    """Every raw value of every reason, ranked and with its suggestion, as reports/unrecognised.csv, written to
    `handle` as the rows stream from the server; return how many, and the first `top` of each reason (those the
    run report shows), from the same reading."""
    suggester = _Suggester(database_rules(conn))
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    written, first = 0, list[RawValueCount]()
    # A server-side cursor for this statement only (execution_options on the connection would keep it for the
    # statements that follow). The batch size is given to partitions() itself: SQLAlchemy does not apply yield_per's
    # size to a text() statement's result, and partitions() without one fetches every row at once.
    result = conn.execute(*_ranked(run_id), execution_options={"stream_results": True})
    for rows in result.partitions(_STREAMED_ROWS):
        values = suggester.add(_counts(rows))
        writer.writerows(value.csv_row() for value in values)
        first += (value for value in values if value.rank <= top)
        written += len(values)
    return written, first


def database_rules(conn: Connection) -> TextRules:
    """The target database's text rules, which mapping_key folds by in both engines."""
    provider, ctype = conn.execute(
        text("select datlocprovider::text, datctype from pg_database where datname = current_database()")
    ).one()
    return rules_for(str(provider), str(ctype))


def fold(spellings: Iterable[str], rules: TextRules) -> list[str]:
    """mapping_key (rule S1) of each spelling, as the engines fold both sides of a seed lookup."""
    values = list(spellings)
    if not values:
        return []
    return [str(key) for key in mapping_key(pd.Series(values, dtype="str"), rules)]


def suggest(
    mapping: MappingSeed, spellings: Iterable[str], rules: TextRules, seeds_dir: Path = SEEDS_DIR
) -> dict[str, Suggestion]:
    """The nearest canonical value for each spelling by rapidfuzz's WRatio over the seed's folded spellings."""
    wanted = sorted(set(spellings))
    rows = mapping.read(seeds_dir)
    # Folded key -> value; the seed's test mapping_keys_unambiguous keeps one value per key.
    choices: dict[str, str] = {}
    for key, (_, value) in zip(fold((spelling for spelling, _ in rows), rules), rows, strict=True):
        choices.setdefault(key, value)
    found: dict[str, Suggestion] = {}
    for spelling, key in zip(wanted, fold(wanted, rules), strict=True):
        if not key:
            continue
        best = process.extractOne(key, list(choices), scorer=fuzz.WRatio)
        if best is not None:
            nearest, score, _ = best
            found[spelling] = Suggestion(mapping.seed, spelling, choices[nearest], round(float(score), 1), nearest)
    return found


class _Suggester:
    """Suggestions for values that come in batches: each spelling is looked up once, its answer kept (the distinct
    spellings of the mapping reasons are few beside the values: a country, not each address that names it)."""

    def __init__(self, rules: TextRules, seeds_dir: Path = SEEDS_DIR) -> None:
        self.rules, self.seeds_dir = rules, seeds_dir
        self.known: dict[str, dict[str, Suggestion | None]] = {}

    def _spelling(self, value: RawValueCount) -> str | None:
        mapping = MAPPING_REASONS.get(value.reason_code)
        return mapping.spelling_of(value.raw_value) if mapping and value.raw_value else None

    def add(self, values: list[RawValueCount]) -> list[RawValueCount]:
        """The values, each of a mapping's reason with the suggestion for its spelling (if it has one)."""
        new: dict[str, set[str]] = {}
        for value in values:
            spelling = self._spelling(value)
            if spelling and spelling not in self.known.get(value.reason_code, {}):
                new.setdefault(value.reason_code, set()).add(spelling)
        for reason, spellings in new.items():
            found = suggest(MAPPING_REASONS[reason], spellings, self.rules, self.seeds_dir)
            self.known.setdefault(reason, {}).update({spelling: found.get(spelling) for spelling in spellings})
        result: list[RawValueCount] = []
        for value in values:
            spelling = self._spelling(value)
            suggestion = self.known.get(value.reason_code, {}).get(spelling) if spelling else None
            result.append(replace(value, suggestion=suggestion))
        return result


def top_values(values: Iterable[RawValueCount], n: int = TOP_VALUES) -> list[RawValueCount]:
    """The first n raw values of each reason (the values come ranked)."""
    return [value for value in values if value.rank <= n]
