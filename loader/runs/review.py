"""Mappings people approve: the suggestions as a CSV to fill in, and the approved rows appended to the seeds.

`write_review` writes one row per spelling a mapping seed did not know (reports/review.csv), with the suggested
value and its score and an empty `approved_value`. `apply_review` appends each row that a person filled in to its
mapping seed in dbt_project/seeds, the one place mappings live (reviewed in git like code): it checks the whole
file first and appends nothing if one row is refused.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from loader.core.contract import SEEDS_DIR
from loader.core.errors import PipelineError
from loader.runs.unrecognised import MAPPING_REASONS, MAPPING_SEEDS, RawValueCount, fold
from loader.transform.pandas_engine.pg_text import TextRules

REVIEW_CSV: Final = "review.csv"
REVIEW_COLUMNS: Final = ("mapping_seed", "raw_value", "rows", "suggested_value", "score", "approved_value")


class ReviewRefused(PipelineError):
    """A review file that cannot be applied as it is: nothing was appended."""


@dataclass(frozen=True)
class ReviewRow:
    """A spelling a mapping seed does not know, its rows, and the suggestion a person may approve."""

    mapping_seed: str
    raw_value: str
    rows: int
    suggested_value: str
    score: float | None


@dataclass(frozen=True)
class Appended:
    mapping_seed: str
    raw_value: str
    value: str


def review_rows(values: Iterable[RawValueCount]) -> list[ReviewRow]:
    """One row per (seed, spelling), most rows first: the spellings of every mapping reason's raw values."""
    rows: dict[tuple[str, str], int] = {}
    suggested: dict[tuple[str, str], tuple[str, float | None]] = {}
    for value in values:
        mapping = MAPPING_REASONS.get(value.reason_code)
        spelling = mapping.spelling_of(value.raw_value) if mapping and value.raw_value else None
        if mapping is None or not spelling:
            continue
        key = (mapping.seed, spelling)
        rows[key] = rows.get(key, 0) + value.rows
        if value.suggestion:
            suggested[key] = (value.suggestion.value, value.suggestion.score)
    return [
        ReviewRow(seed, spelling, n, *suggested.get((seed, spelling), ("", None)))
        for (seed, spelling), n in sorted(rows.items(), key=lambda item: (item[0][0], -item[1], item[0][1]))
    ]


def review_text(rows: Iterable[ReviewRow]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(REVIEW_COLUMNS)
    for row in rows:
        score = "" if row.score is None else f"{row.score:.1f}"
        writer.writerow((row.mapping_seed, row.raw_value, row.rows, row.suggested_value, score, ""))
    return buffer.getvalue()


def _approved(path: Path) -> list[tuple[int, str, str, str]]:
    """(line, seed, raw value, approved value) of each row with an approved value; a wrong header is refused."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(column.strip() for column in header) != REVIEW_COLUMNS:
            raise ReviewRefused(
                f"{path}: the columns are {', '.join(header or ['none'])}; a review file has "
                f"{', '.join(REVIEW_COLUMNS)} (write one with `python -m loader review`)"
            )
        found: list[tuple[int, str, str, str]] = []
        for row in reader:
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(REVIEW_COLUMNS):
                raise ReviewRefused(
                    f"{path}, line {reader.line_num}: {len(row)} fields where the header has {len(REVIEW_COLUMNS)}"
                )
            seed, raw, approved = row[0].strip(), row[1], row[5].strip()
            if approved:
                found.append((reader.line_num, seed, raw, approved))
    return found


def apply_review(path: Path, rules: TextRules, seeds_dir: Path = SEEDS_DIR) -> list[Appended]:
    """Append each approved row to its mapping seed, once every row is checked; refuse the file otherwise."""
    approved = _approved(path)
    # Per seed: the canonical values and the folded keys it maps, grown by the rows accepted so far.
    keys: dict[str, dict[str, str]] = {}
    canonical: dict[str, set[str]] = {}
    appended: list[Appended] = []
    for line, seed, raw, value in approved:
        mapping = MAPPING_SEEDS.get(seed)
        if mapping is None:
            raise ReviewRefused(f"{path}, line {line}: {seed!r} is no mapping seed (one of {', '.join(MAPPING_SEEDS)})")
        if seed not in keys:
            rows = mapping.read(seeds_dir)
            keys[seed] = dict(zip(fold((spelling for spelling, _ in rows), rules), (v for _, v in rows), strict=True))
            canonical[seed] = {v for _, v in rows}
        if value not in canonical[seed]:
            raise ReviewRefused(
                f"{path}, line {line}: {value!r} is not a value of {seed} (its {mapping.value_column} is one of "
                f"{', '.join(sorted(canonical[seed])[:12])}{' …' if len(canonical[seed]) > 12 else ''})"
            )
        (key,) = fold([raw], rules)
        if not key:
            raise ReviewRefused(f"{path}, line {line}: the raw value {raw!r} has no letters or digits to map")
        known = keys[seed].get(key)
        if known is not None and known != value:
            raise ReviewRefused(
                f"{path}, line {line}: {seed} already maps {raw!r} (folded {key!r}) to {known!r}, not {value!r}"
            )
        if known is None:
            keys[seed][key] = value
            appended.append(Appended(seed, raw, value))
    for seed in dict.fromkeys(entry.mapping_seed for entry in appended):
        _append_rows(seeds_dir / f"{seed}.csv", [(e.raw_value, e.value) for e in appended if e.mapping_seed == seed])
    return appended


def _append_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    """Append at the end, in the file's own line endings, after a final newline if the file lacks one."""
    content = path.read_bytes()
    newline = "\r\n" if b"\r\n" in content else "\n"
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=newline)
    writer.writerows(rows)
    prefix = newline if content and not content.endswith(b"\n") else ""
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(prefix + buffer.getvalue())
