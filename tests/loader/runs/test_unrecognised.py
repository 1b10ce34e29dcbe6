"""What was not understood, ranked: raw values per reason and column, with shares, examples and suggestions."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, text

from loader.core.contract import QUARANTINE_SCHEMA, reason_codes
from loader.runs import report as report_module
from loader.runs import unrecognised
from loader.runs.report import RunReport, write_unrecognised
from loader.runs.unrecognised import (
    CSV_COLUMNS,
    MAPPING_REASONS,
    MAPPING_SEEDS,
    TOP_VALUES,
    RawValueCount,
    ranked_values,
    top_values,
    write_unrecognised_csv,
)
from loader.transform.pandas_engine.pg_text import TextRules
from tests.support.databases import Databases

# (legacy_table, legacy_id, outcome, reason_code, column_name, raw_value)
ENTRIES = [
    *(("old_orders", i, "rejected", "status_unknown", "status_text", "shipt") for i in (9, 3, 5, 7)),
    *(("old_orders", i, "rejected", "status_unknown", "status_text", "bbb") for i in (11, 12)),
    *(("old_orders", i, "rejected", "status_unknown", "status_text", "aaa") for i in (21, 22)),
    ("old_orders", 30, "rejected", "status_unknown", "status_text", None),
    ("old_orders", 31, "rejected", "user_not_found", "user_identifier_text", "ghost"),
    ("old_users", 40, "warning", "category_unknown", "category_name_redundant", "Elektronics"),
    ("old_users", 41, "merged", "duplicate_email", "email", "a@example.com"),
]


@pytest.fixture
def quarantined(databases: Databases) -> Iterator[Connection]:
    """A target database holding only a quarantine (and a ledger) with ENTRIES."""
    url = databases.new_url.replace("postgresql://", "postgresql+psycopg://", 1)
    with create_engine(url).connect() as conn:
        conn.execute(text(f"create schema {QUARANTINE_SCHEMA}"))
        columns = (
            "legacy_table text, legacy_id bigint, outcome text, reason_code text, column_name text, raw_value text"
        )
        for name in ("rejects", "warnings"):
            conn.execute(text(f"create table {QUARANTINE_SCHEMA}.{name} ({columns})"))
        conn.execute(text(f"create table migration_ledger (run_id int, {columns})"))
        for entry in ENTRIES:
            values = dict(zip(("t", "i", "o", "r", "c", "v"), entry, strict=True))
            table = "warnings" if entry[2] == "warning" else "rejects"
            conn.execute(text(f"insert into {QUARANTINE_SCHEMA}.{table} values (:t, :i, :o, :r, :c, :v)"), values)
            conn.execute(text("insert into migration_ledger values (7, :t, :i, :o, :r, :c, :v)"), values)
        # Another run's entry, which the ledger of run 7 must not count.
        conn.execute(
            text(
                "insert into migration_ledger values (6, 'old_orders', 1, 'rejected', 'status_unknown', "
                "'status_text', 'shipt')"
            )
        )
        conn.commit()
        yield conn


def _by_value(values: list[RawValueCount]) -> dict[tuple[str, str | None], RawValueCount]:
    return {(value.reason_code, value.raw_value): value for value in values}


def test_values_are_ranked_by_rows_then_by_value_with_shares_and_the_lowest_example_ids(
    quarantined: Connection,
) -> None:
    values = ranked_values(quarantined)
    status = [value for value in values if value.reason_code == "status_unknown"]
    # 4 rows first; the two values of 2 rows in the order of their text; the null last.
    assert [(v.raw_value, v.rows, v.rank) for v in status] == [
        ("shipt", 4, 1),
        ("aaa", 2, 2),
        ("bbb", 2, 3),
        (None, 1, 4),
    ]
    assert [round(v.share, 4) for v in status] == [round(4 / 9, 4), round(2 / 9, 4), round(2 / 9, 4), round(1 / 9, 4)]
    assert status[0].example_ids == (3, 5, 7)
    # Reasons of one table and outcome: most rows first; merges are understood rows, left out.
    assert [v.reason_code for v in values if v.legacy_table == "old_orders"][-1] == "user_not_found"
    assert "duplicate_email" not in {v.reason_code for v in values}
    assert len(top_values(values, 2)) == 2 + 1 + 1


def test_the_ledger_of_one_run_gives_the_same_ranking_and_ignores_other_runs(quarantined: Connection) -> None:
    assert ranked_values(quarantined, run_id=7) == ranked_values(quarantined)
    assert ranked_values(quarantined, run_id=6)[0].rows == 1


def test_the_csv_streams_every_value_and_the_report_and_review_read_only_their_part(
    quarantined: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large database has millions of distinct raw values: the CSV is written as they stream (here two rows at a
    time, so the suggestions of a spelling seen in an earlier batch are reused), the report reads the top ones,
    review the mapping reasons'."""
    everything = ranked_values(quarantined)
    monkeypatch.setattr(unrecognised, "_STREAMED_ROWS", 2)
    looked_up: list[set[str]] = []
    suggest = unrecognised.suggest

    def counted(mapping: unrecognised.MappingSeed, spellings: Iterable[str], *args: Any) -> Any:
        looked_up.append(set(spellings))
        return suggest(mapping, looked_up[-1], *args)

    monkeypatch.setattr(unrecognised, "suggest", counted)
    batches: list[int] = []
    counts = unrecognised._counts

    def batch(rows: list[Any]) -> list[RawValueCount]:
        batches.append(len(rows))
        return counts(rows)

    monkeypatch.setattr(unrecognised, "_counts", batch)
    buffer = io.StringIO(newline="")
    written, first = write_unrecognised_csv(quarantined, buffer, run_id=7, top=2)
    # Fetched two at a time from the server, never all at once (a million rejects would be held whole).
    assert batches == [2, 2, 2]
    monkeypatch.setattr(unrecognised, "_counts", counts)
    assert written == len(everything) == 6 and first == top_values(everything, 2)
    rows = list(csv.reader(io.StringIO(buffer.getvalue(), newline="")))
    assert rows == [list(CSV_COLUMNS), *([str(cell) for cell in value.csv_row()] for value in everything)]
    # Each spelling looked up once, though `shipt` and `aaa` came two rows at a time in separate batches.
    assert sorted(spelling for batch in looked_up for spelling in batch) == ["Elektronics", "aaa", "bbb", "shipt"]
    mapping = ranked_values(quarantined, mapping_only=True)
    assert mapping == [value for value in everything if value.reason_code in MAPPING_REASONS]
    assert {value.reason_code for value in mapping} == {"status_unknown", "category_unknown"}


def test_a_mapping_reason_gets_the_nearest_canonical_value_as_a_suggestion_and_others_none(
    quarantined: Connection,
) -> None:
    values = _by_value(ranked_values(quarantined))
    shipped = values["status_unknown", "shipt"].suggestion
    assert shipped is not None and (shipped.seed, shipped.value) == ("status_synonyms", "shipped")
    assert 0 < shipped.score < 100
    category = values["category_unknown", "Elektronics"].suggestion
    assert category is not None and category.value == "Electronics"
    assert values["user_not_found", "ghost"].suggestion is None
    assert values["status_unknown", None].suggestion is None


def test_every_mapping_reason_is_a_reason_code_and_its_seed_has_the_columns_read(rules: TextRules) -> None:
    codes = reason_codes()
    for code, mapping in MAPPING_REASONS.items():
        assert code in codes
        assert mapping.read(), mapping.seed
    assert set(MAPPING_SEEDS) == {"status_synonyms", "category_synonyms", "country_names", "currency_names"}
    # A country is read from the address's last part, as staging splits it.
    assert MAPPING_REASONS["country_unknown"].spelling_of("1 Main St, Springfield, Atlantis") == "Atlantis"


def test_a_migration_reports_the_top_values_per_reason_and_writes_them_all_to_unrecognised_csv(
    migrated_template: Databases,
) -> None:
    folder = migrated_template.scratch / "reports"
    report = json.loads((folder / "migration_report.json").read_text())
    markdown = (folder / "migration_report.md").read_text()
    with (folder / "unrecognised.csv").open(newline="") as handle:
        listed = list(csv.DictReader(handle))
    # Every rejected or warned ledger row is counted once in the CSV, per reason as in the report's reasons.
    per_reason: dict[tuple[str, str], int] = {}
    for row in listed:
        key = (row["legacy_table"], row["reason_code"])
        per_reason[key] = per_reason.get(key, 0) + int(row["rows"])
    expected = {(r["legacy_table"], r["reason_code"]): r["rows"] for r in report["reasons"] if r["outcome"] != "merged"}
    assert per_reason == expected
    # The template's order naming nobody is among user_not_found's values.
    assert any(r["reason_code"] == "user_not_found" and r["raw_value"] == "nobody-at-all" for r in listed)
    top = report["unrecognised_top"]
    assert top and all(value["rank"] <= 5 for value in top)
    assert len(top) < len(listed) or all(int(row["rank"]) <= 5 for row in listed)
    assert "## What was not understood" in markdown


def test_the_csv_waits_hidden_in_the_report_folder_and_a_failure_leaves_no_file(
    quarantined: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / ".unrecognised.csv.left-by-a-killed-run").write_text("partial")
    report = RunReport(command="transform")
    write_unrecognised(quarantined, report, folder)
    assert report.unrecognised_csv is not None and report.unrecognised_csv.parent == folder
    assert [path.name for path in folder.iterdir()] == [report.unrecognised_csv.name]
    assert report.unrecognised == top_values(ranked_values(quarantined), TOP_VALUES)

    # A stream that fails part-way leaves nothing behind and fails the run as before.
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the server went away")

    monkeypatch.setattr(report_module, "write_unrecognised_csv", broken)
    with pytest.raises(RuntimeError):
        write_unrecognised(quarantined, RunReport(command="transform"), folder)
    assert [path.name for path in folder.iterdir()] == []

    # A folder that cannot be written costs the CSV, with a warning, not the run.
    monkeypatch.undo()
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    later = RunReport(command="transform")
    write_unrecognised(quarantined, later, blocked / "reports")
    assert later.unrecognised_csv is None and "could not write unrecognised.csv" in caplog.text
