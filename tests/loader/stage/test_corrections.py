"""Per-row corrections files: read whole and checked before anything is written, copied with NULL and '' apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from loader.core.contract import CORRECTION_FILE_COLUMNS
from loader.core.errors import PipelineError
from loader.stage.corrections import correctable_columns, read_corrections
from tests.support.databases import Databases, run_module
from tests.support.processes import staging_fingerprints

HEADER = ",".join(CORRECTION_FILE_COLUMNS)


def _write(folder: Path, name: str, *lines: str, header: str = HEADER, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text("\n".join((header, *lines)) + "\n", encoding=encoding)
    return path


def test_a_missing_folder_holds_no_corrections_and_a_good_file_is_read_with_its_rows(tmp_path: Path) -> None:
    assert read_corrections(tmp_path / "absent") == []
    _write(
        tmp_path,
        "old_orders.csv",
        '41,order_date_str,31/31/2021,2021-03-31,"invoice 2231, page 2",ana',
        "42,status_text,,shipped,was empty,ben",
        header="\ufeff" + HEADER,  # a spreadsheet's byte-order mark
    )
    (found,) = read_corrections(tmp_path)
    assert found.legacy_table == "old_orders"
    read = [(c.line, c.legacy_id, c.column_name, c.raw_value, c.corrected_value, c.note) for c in found.corrections]
    assert read == [
        (2, 41, "order_date_str", "31/31/2021", "2021-03-31", "invoice 2231, page 2"),
        (3, 42, "status_text", None, "shipped", "was empty"),
    ]


def test_quoted_fields_keep_quotes_line_ends_and_empty_strings_and_lines_count_from_where_a_record_starts(
    tmp_path: Path,
) -> None:
    (tmp_path / "old_users.csv").write_bytes(
        (
            HEADER + "\r\n"
            '1,address_combined,"1 Main St\r\nSpringfield","1 Main St, Springfield, IL 62701","two\nlines",ana\r\n'
            '2,full_name,"Kids\' ""Sufficient"" Nation","",n,ana\r\n'
            "3,full_name,,-,n,ana"
        ).encode()
    )
    (found,) = read_corrections(tmp_path)
    assert [(c.line, c.raw_value, c.corrected_value) for c in found.corrections] == [
        (2, "1 Main St\r\nSpringfield", "1 Main St, Springfield, IL 62701"),
        (5, 'Kids\' "Sufficient" Nation', ""),
        (6, None, "-"),
    ]


def test_every_documented_column_but_the_id_is_correctable() -> None:
    assert correctable_columns("old_orders") == (
        "user_identifier_text",
        "order_date_str",
        "status_text",
        "product_name_redundant",
        "quantity",
        "unit_price_str_redundant",
        "total_order_amount_str",
    )


@pytest.mark.parametrize(
    ("name", "lines", "header", "message"),
    [
        ("orders.csv", [], HEADER, "orders.csv: names no legacy table"),
        ("old_orders.CSV", [], HEADER, "old_orders.CSV: names no legacy table"),
        ("old_orders.csv", ["--5,status_text,a,b,n,ana"], HEADER, "legacy_id '--5' is not an integer"),
        ("old_orders.csv", ['4,product_name_redundant,27" monitor,b,n,ana'], HEADER, 'old_orders.csv:2: a " inside'),
        ("old_orders.csv", ['4,product_name_redundant,"27" monitor,b,n,ana'], HEADER, "text after a quoted field"),
        ("old_orders.csv", ['4,product_name_redundant,"27 monitor,b,n,ana'], HEADER, "never closed"),
        ("old_orders.csv", ["4,status_text,a\x00,b,n,ana"], HEADER, "a NUL character"),
        ("old_orders.csv", ["4,status_text,a,b,n,ana", "", "5,status_text,a,b,n,ana"], HEADER, ":3: an empty line"),
        ("old_orders.csv", [], "id,column,raw,corrected,note,author", "old_orders.csv:1: the header must be"),
        ("old_orders.csv", ["4x,status_text,a,b,n,ana"], HEADER, "old_orders.csv:2: legacy_id '4x' is not an integer"),
        ("old_orders.csv", ["4,id,4,5,n,ana"], HEADER, "has no correctable column 'id'"),
        ("old_users.csv", ["4,status_text,a,b,n,ana"], HEADER, "old_users has no correctable column 'status_text'"),
        ("old_orders.csv", ["4,status_text,a,b,,ana"], HEADER, "old_orders.csv:2: every correction names why"),
        ("old_orders.csv", ["4,status_text,a,b,n, "], HEADER, "who made it"),
        ("old_orders.csv", ["4,status_text,a,b,n"], HEADER, "old_orders.csv:2: 5 fields where the header names 6"),
        (
            "old_orders.csv",
            ["4,status_text,a,b,n,ana", "5,status_text,a,b,n,ana", "4,status_text,c,d,n,ana"],
            HEADER,
            "old_orders.csv:4: id 4 status_text is corrected on line 2 already",
        ),
    ],
)
def test_a_file_that_cannot_be_read_as_corrections_is_refused_naming_file_and_line(
    tmp_path: Path, name: str, lines: list[str], header: str, message: str
) -> None:
    _write(tmp_path, name, *lines, header=header)
    with pytest.raises(PipelineError, match=message.replace("(", r"\(")):
        read_corrections(tmp_path)


def test_a_file_saved_with_crlf_lines_and_no_rows_or_no_final_newline_reads(tmp_path: Path) -> None:
    (tmp_path / "old_orders.csv").write_bytes(
        (HEADER + "\r\n41,status_text,x,shipped,n,ana\r\n42,status_text,y,shipped,n,ana").encode()
    )
    (tmp_path / "old_users.csv").write_bytes(HEADER.encode())
    assert {(found.legacy_table, len(found.corrections)) for found in read_corrections(tmp_path)} == {
        ("old_orders", 2),
        ("old_users", 0),
    }


def test_a_file_not_in_utf8_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "old_orders.csv", "4,status_text,envío,shipped,n,José", encoding="latin-1")
    with pytest.raises(PipelineError, match=r"old_orders\.csv: not UTF-8"):
        read_corrections(tmp_path)


def test_stage_copies_the_corrections_with_null_and_empty_apart(databases: Databases) -> None:
    databases.seed("--size", "100", "--seed", "5")
    _write(
        databases.corrections_dir,
        "old_orders.csv",
        '7,status_text,,shipped,"NULL in the legacy row, empty field here",ana',
        '8,status_text,"",shipped,an empty string,ana',
        '9,order_date_str,"two\nlines",2021-03-04,a value over two lines,ana',
    )
    (databases.corrections_dir / "old_users.csv").write_bytes((HEADER + "\r\n3,email,a,a@b.example,n,ana\r\n").encode())
    run_module("alembic", "upgrade", "head", env=databases.env())
    run_module("loader", "stage", env=databases.env())
    with databases.new() as conn:
        rows = conn.execute(
            "select legacy_table, legacy_id, column_name, raw_value, corrected_value, source_file, line "
            "from staging.corrections order by legacy_table, legacy_id"
        ).fetchall()
    assert rows == [
        ("old_orders", 7, "status_text", None, "shipped", "old_orders.csv", 2),
        ("old_orders", 8, "status_text", "", "shipped", "old_orders.csv", 3),
        ("old_orders", 9, "order_date_str", "two\nlines", "2021-03-04", "old_orders.csv", 4),
        ("old_users", 3, "email", "a", "a@b.example", "old_users.csv", 2),
    ]


def test_a_bad_corrections_file_stops_the_stage_with_one_line_and_leaves_staging_alone(databases: Databases) -> None:
    databases.seed("--size", "100", "--seed", "6")
    env = databases.env()
    run_module("alembic", "upgrade", "head", env=env)
    run_module("loader", "stage", env=env)
    before = staging_fingerprints(databases)
    with databases.old() as conn:
        conn.execute("delete from old_orders where id % 2 = 0")
    _write(databases.corrections_dir, "old_orders.csv", "4,colour,red,blue,n,ana")

    result = run_module("loader", "stage", env=env, check=False)

    assert result.returncode == 2
    assert result.stderr.startswith("error: corrections file ") and len(result.stderr.strip().splitlines()) == 1
    assert "old_orders has no correctable column 'colour'" in result.stderr
    assert staging_fingerprints(databases) == before


def test_a_corrections_dir_that_does_not_exist_is_a_configuration_error(databases: Databases, tmp_path: Path) -> None:
    result = run_module("loader", "stage", env=databases.env(CORRECTIONS_DIR=str(tmp_path / "corections")), check=False)
    assert result.returncode == 2
    assert "CORRECTIONS_DIR=" in result.stderr and "is not a directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
