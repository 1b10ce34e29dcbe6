"""Mappings people approve: `loader review` writes suggestions to fill in, `--apply` appends approved ones."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from loader.core.contract import PROJECT_ROOT, SEEDS_DIR
from loader.runs.review import REVIEW_COLUMNS, ReviewRefused, apply_review
from loader.transform.pandas_engine.pg_text import TextRules
from tests.support.databases import Databases, copy_project, run_module

HEADER = ",".join(REVIEW_COLUMNS)


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    """A copy of the mapping seeds, for the cases that must not touch the project's own."""
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS_DIR, folder)
    return folder


def _review_file(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "review.csv"
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def test_approved_rows_are_appended_at_the_end_of_their_seed_and_empty_ones_skipped(
    seeds: Path, tmp_path: Path, rules: TextRules
) -> None:
    before = (seeds / "status_synonyms.csv").read_bytes()
    review = _review_file(
        tmp_path,
        "status_synonyms,shipt,4,shipped,85.5,shipped",
        "status_synonyms,zzz,1,pending,40.0,",
        "category_synonyms,Elektronics,2,Electronics,90.9,Electronics",
        # Folds to a key the seed maps to this very value: nothing to append.
        "status_synonyms,SHIPPED!,1,shipped,100.0,shipped",
    )
    appended = apply_review(review, rules, seeds)
    assert [(a.mapping_seed, a.raw_value, a.value) for a in appended] == [
        ("status_synonyms", "shipt", "shipped"),
        ("category_synonyms", "Elektronics", "Electronics"),
    ]
    assert (seeds / "status_synonyms.csv").read_bytes() == before + b"shipt,shipped\n"
    assert (seeds / "category_synonyms.csv").read_text().endswith("sprots,Sports\nElektronics,Electronics\n")


def test_a_seed_with_crlf_lines_or_no_final_newline_keeps_its_format(
    seeds: Path, tmp_path: Path, rules: TextRules
) -> None:
    status = seeds / "status_synonyms.csv"
    status.write_bytes(status.read_bytes().replace(b"\n", b"\r\n"))
    category = seeds / "category_synonyms.csv"
    category.write_bytes(category.read_bytes().rstrip(b"\n"))
    review = _review_file(
        tmp_path,
        "status_synonyms,shipt,4,shipped,85.5,shipped",
        "category_synonyms,Elektronics,2,Electronics,90.9,Electronics",
    )
    apply_review(review, rules, seeds)
    assert status.read_bytes().endswith(b"reembolsado,returned\r\nshipt,shipped\r\n")
    assert category.read_bytes().endswith(b"sprots,Sports\nElektronics,Electronics\n")


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        (["status_synonyms,shipt,4,shipped,85.5,sent"], HEADER, "'sent' is not a value of status_synonyms"),
        (["status_synonyms,Shipped!,1,shipped,99,pending"], HEADER, "already maps 'Shipped!'"),
        (["status_synonyms,shipt,4,shipped,85.5"], "mapping_seed,raw_value,rows,suggested_value,score", "columns"),
        (["reason_codes,x,1,,,rejected"], HEADER, "no mapping seed"),
        # One good row and one refused: nothing is appended.
        (["status_synonyms,shipt,4,shipped,85.5,shipped", "country_names,Atlantis,1,AT,70,ATL"], HEADER, "'ATL'"),
    ],
)
def test_a_refused_review_appends_nothing(
    seeds: Path, tmp_path: Path, rules: TextRules, rows: list[str], header: str, message: str
) -> None:
    before = {path.name: path.read_bytes() for path in seeds.iterdir()}
    with pytest.raises(ReviewRefused, match=message.replace("(", r"\(")):
        apply_review(_review_file(tmp_path, *rows, header=header), rules, seeds)
    assert {path.name: path.read_bytes() for path in seeds.iterdir()} == before


def test_the_command_refuses_a_bad_file_with_one_error_line(databases: Databases, tmp_path: Path) -> None:
    before = (SEEDS_DIR / "status_synonyms.csv").read_bytes()
    bad = _review_file(tmp_path, "status_synonyms,shipt,4,shipped,85.5,sent")
    result = run_module("loader", "review", "--apply", str(bad), env=databases.env(), check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert (SEEDS_DIR / "status_synonyms.csv").read_bytes() == before


def _status_unknown(databases: Databases) -> int:
    report = json.loads((databases.scratch / "reports" / "migration_report.json").read_text())
    return sum(r["rows"] for r in report["reasons"] if r["reason_code"] == "status_unknown")


def test_an_approved_suggestion_migrates_the_order_it_was_made_for(migrated: Databases) -> None:
    # The transform reads the project's own seeds (dbt_project/seeds, as dbt's seed-paths says), so the loop
    # appends to them: here, to a copy of the project's, which the copy's loader reads.
    project = copy_project(migrated.scratch / "project")
    env = migrated.env(DBT_TARGET_PATH=str(migrated.scratch / "project_dbt_target"))
    with migrated.new() as conn:
        # A migrated order whose status is not `shipped`, so its copy below is no duplicate once mapped.
        row = conn.execute("select legacy_order_id from orders where status <> 'shipped' order by 1 limit 1").fetchone()
    assert row is not None
    with migrated.old() as conn:
        conn.execute(
            "insert into old_orders select 900001, user_identifier_text, order_date_str, 'shipt', "
            "product_name_redundant, quantity, unit_price_str_redundant, total_order_amount_str "
            "from old_orders where id = %s",
            (row[0],),
        )
    run_module("loader", "migrate", env=env, project=project)
    unknown = _status_unknown(migrated)
    run_module("loader", "review", env=env, project=project)
    review = migrated.scratch / "reports" / "review.csv"
    with review.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    (suggested,) = [r for r in rows if (r["mapping_seed"], r["raw_value"]) == ("status_synonyms", "shipt")]
    assert (suggested["rows"], suggested["suggested_value"], suggested["approved_value"]) == ("1", "shipped", "")
    assert 0 < float(suggested["score"]) < 100
    suggested["approved_value"] = suggested["suggested_value"]
    with review.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REVIEW_COLUMNS)
        writer.writeheader()
        writer.writerow(suggested)

    seed = project / SEEDS_DIR.relative_to(PROJECT_ROOT) / "status_synonyms.csv"
    original = seed.read_bytes()
    applied = run_module("loader", "review", "--apply", str(review), env=env, project=project)
    assert "appended to status_synonyms: 'shipt' -> 'shipped'" in applied.stdout
    assert seed.read_bytes() == original + b"shipt,shipped\n"
    assert (SEEDS_DIR / "status_synonyms.csv").read_bytes() == original, "the project's own seed changed"
    run_module("loader", "migrate", env=env, project=project)
    assert _status_unknown(migrated) == unknown - 1
    with migrated.new() as conn:
        migrated_order = conn.execute("select status from orders where legacy_order_id = 900001").fetchone()
    assert migrated_order is not None and str(migrated_order[0]) == "shipped"
