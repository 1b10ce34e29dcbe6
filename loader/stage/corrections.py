"""Per-row corrections: the files people write, checked whole, then copied into staging with the legacy tables.

One CSV per legacy table in the corrections directory (`old_orders.csv`, …), header
`legacy_id,column,raw_value,corrected_value,note,author`. A correction replaces one legacy value, the one in
`raw_value`, by `corrected_value`: the transform applies it only while the legacy row still holds that raw value
and the corrected value reads by the column's rule (docs/review-loop.md). An empty field is NULL and `""` is the
empty string, so a correction can name a NULL raw value and a NULL corrected one.

The files are read once, here, by a CSV reader that refuses what two readers could read two ways (a `"` inside a
field that is not quoted whole, which Python's csv keeps and PostgreSQL's COPY takes for a quote); the rows go to
the database as read, every value quoted, so what was checked is what is stored. A file that cannot be read as
corrections (another header, an id that is no integer, a column the legacy table lacks or that holds the id, a
correction without its note or author, one (id, column) corrected twice) stops the stage before anything is
written, with one line naming the file, the line and what to do.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg2.extensions
from psycopg2 import sql

from loader.core.contract import CORRECTION_FILE_COLUMNS, CORRECTION_STAGED_COLUMNS, LEGACY_TABLES, STAGING_SCHEMA
from loader.core.errors import PipelineError
from loader.core.legacy_schema import required_columns

# The legacy id is the key a correction names the row by, never a value it corrects.
_KEY_COLUMN = "id"
_LEGACY_ID = re.compile(r"-?[0-9]{1,18}")
# A field outside quotes: up to the next comma or line end.
_UNQUOTED = re.compile(r"[^,\r\n]*")
_LINE_END = re.compile(r"\r\n|\n|\r")


@dataclass(frozen=True)
class Correction:
    """One line of a corrections file as read: NULL (None) for an empty field, '' for `""`."""

    line: int
    legacy_id: int
    column_name: str
    raw_value: str | None
    corrected_value: str | None
    note: str
    author: str


@dataclass(frozen=True)
class CorrectionFile:
    """One legacy table's corrections file, checked."""

    legacy_table: str
    path: Path
    corrections: tuple[Correction, ...]


def correctable_columns(legacy_table: str) -> tuple[str, ...]:
    """The legacy contract's columns a correction may name: all of them but the id."""
    return tuple(name for name in required_columns(legacy_table) if name != _KEY_COLUMN)


def _fail(path: Path, line: int | None, problem: str) -> PipelineError:
    where = f"{path}:{line}" if line is not None else str(path)
    return PipelineError(f"corrections file {where}: {problem}; fix the file and run again (docs/review-loop.md)")


def _records(path: Path, text: str) -> Iterator[tuple[int, list[str | None]]]:
    """(first line, fields) per record, RFC 4180 read strictly: a field is quoted whole (`""` a quote inside, line
    ends kept as written) or holds no quote at all; an unquoted empty field is None. Line ends: \\n, \\r\\n, \\r."""
    position, line = 0, 1
    while position < len(text):
        start_line = line
        fields: list[str | None] = []
        while True:
            if text.startswith('"', position):
                parts, position = [], position + 1
                while True:
                    closing = text.find('"', position)
                    if closing < 0:
                        raise _fail(path, start_line, "a quoted field is never closed")
                    parts.append(text[position:closing])
                    position = closing + 1
                    if not text.startswith('"', position):
                        break
                    parts.append('"')
                    position += 1
                quoted = "".join(parts)
                line += len(_LINE_END.findall(quoted))
                value: str | None = quoted
            else:
                match = _UNQUOTED.match(text, position)
                assert match is not None  # the pattern matches the empty string
                value, position = match.group() or None, match.end()
                if value is not None and '"' in value:
                    raise _fail(path, line, 'a " inside a field: quote the whole field and write the quote as ""')
            if value is not None and "\x00" in value:
                raise _fail(path, line, "a NUL character, which no PostgreSQL text holds")
            fields.append(value)
            if text.startswith(",", position):
                position += 1
                continue
            end = _LINE_END.match(text, position)
            if end is None and position < len(text):
                raise _fail(path, line, "text after a quoted field's closing quote: quote the whole field")
            position = end.end() if end is not None else position
            line += 1
            break
        yield start_line, fields


def _check_file(legacy_table: str, path: Path) -> CorrectionFile:
    try:
        # Bytes, not read_text(): line ends inside a quoted value stay as written (a legacy value may hold \r\n).
        # utf-8-sig: a spreadsheet saves a byte-order mark, which is no part of the first column's name.
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(path, None, f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise _fail(path, None, f"cannot be read ({exc.strerror})") from None
    records = _records(path, text)
    header = next(records, (1, []))[1]
    if [(name or "").strip() for name in header] != list(CORRECTION_FILE_COLUMNS):
        raise _fail(path, 1, f"the header must be {','.join(CORRECTION_FILE_COLUMNS)}")
    columns = correctable_columns(legacy_table)
    seen: dict[tuple[int, str], int] = {}
    corrections = []
    for line, fields in records:
        if fields == [None]:
            raise _fail(path, line, "an empty line; remove it")
        if len(fields) != len(CORRECTION_FILE_COLUMNS):
            raise _fail(path, line, f"{len(fields)} fields where the header names {len(CORRECTION_FILE_COLUMNS)}")
        legacy_id, column, raw_value, corrected_value, note, author = fields
        if legacy_id is None or not _LEGACY_ID.fullmatch(legacy_id):
            raise _fail(path, line, f"legacy_id {legacy_id!r} is not an integer id")
        if column not in columns:
            raise _fail(
                path, line, f"{legacy_table} has no correctable column {column!r} (one of: {', '.join(columns)})"
            )
        if not (note or "").strip() or not (author or "").strip():
            raise _fail(path, line, "every correction names why (note) and who made it (author)")
        key = (int(legacy_id), column)
        if key in seen:
            raise _fail(path, line, f"id {legacy_id} {column} is corrected on line {seen[key]} already")
        seen[key] = line
        assert note is not None and author is not None
        corrections.append(Correction(line, int(legacy_id), column, raw_value, corrected_value, note, author))
    return CorrectionFile(legacy_table, path, tuple(corrections))


def read_corrections(directory: Path) -> list[CorrectionFile]:
    """Every corrections file in `directory`, checked whole; none when the directory does not exist.

    Only `<legacy table>.csv` files are read; any other CSV there (`orders.csv`, `old_orders.CSV`) is refused, as a
    misnamed file would otherwise be a correction silently ignored.
    """
    if not directory.is_dir():
        return []
    files = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() != ".csv":
            continue
        if path.suffix != ".csv" or path.stem not in LEGACY_TABLES:
            raise _fail(
                path, None, f"names no legacy table (the files are {', '.join(t + '.csv' for t in LEGACY_TABLES)})"
            )
        files.append(_check_file(path.stem, path))
    return files


def create_corrections_table(cursor: psycopg2.extensions.cursor, name: str) -> None:
    """The staging table of the corrections (named `name`), in the cursor's open transaction."""
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(type_sql))
        for column, type_sql in CORRECTION_STAGED_COLUMNS
    )
    cursor.execute(
        sql.SQL("create table {} ({}, primary key (legacy_table, legacy_id, column_name))").format(
            sql.Identifier(STAGING_SCHEMA, name), columns
        )
    )


def _csv_value(value: str | int | None) -> str:
    """A value as COPY's CSV reads it back exactly: NULL unquoted and empty, anything else quoted."""
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


def copy_corrections(cursor: psycopg2.extensions.cursor, files: list[CorrectionFile], name: str) -> int:
    """Create the staging table `name` and COPY every correction into it, as read; return how many."""
    create_corrections_table(cursor, name)
    buffer = io.StringIO()
    for file in files:
        for c in file.corrections:
            fields = (file.legacy_table, c.legacy_id, c.column_name, c.raw_value, c.corrected_value, c.note, c.author)
            buffer.write(",".join(map(_csv_value, (*fields, file.path.name, c.line))) + "\n")
    buffer.seek(0)
    cursor.copy_expert(
        sql.SQL("copy {} from stdin with (format csv)").format(sql.Identifier(STAGING_SCHEMA, name)).as_string(cursor),
        buffer,
    )
    return sum(len(file.corrections) for file in files)
