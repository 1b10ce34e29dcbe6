"""Write the table of reason codes in docs/cleaning-rules.md from dbt_project/seeds/reason_codes.csv.

The seed is the one place a reason code, its ledger outcome, the legacy column and the rule it belongs to are
written; the models, the pandas engine and the scorer read it, and the docs show it through this table. Run
`python dbt_project/scripts/reason_codes_doc.py` after editing the seed; tests/loader/transform/test_reason_codes.py
fails while the table and the seed differ.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
SEED = PROJECT / "seeds" / "reason_codes.csv"
DOCS = PROJECT.parent / "docs" / "cleaning-rules.md"
START = "<!-- reason_codes: written by dbt_project/scripts/reason_codes_doc.py from the seed; edit the seed -->"
END = "<!-- end reason_codes -->"


def table(seed: Path = SEED) -> str:
    """The seed as a Markdown table, in the seed's order."""
    lines = ["| code | outcome | legacy column | rule | what |", "|---|---|---|---|---|"]
    with seed.open(newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            column = f"`{row['legacy_column']}`" if row["legacy_column"] else "—"
            lines.append(f"| `{row['code']}` | {row['outcome']} | {column} | {row['rule_id']} | {row['description']} |")
    return "\n".join(lines) + "\n"


def written(docs: str) -> str:
    """The table as the docs hold it now, between the markers."""
    _, start, rest = docs.partition(START + "\n")
    inside, end, _ = rest.partition(END)
    if not start or not end:
        raise SystemExit(f"{DOCS} has no markers {START!r} … {END!r}")
    return inside


def main() -> None:
    docs = DOCS.read_text(encoding="utf-8")
    DOCS.write_text(docs.replace(START + "\n" + written(docs), START + "\n" + table()), encoding="utf-8")
    sys.stdout.write(f"wrote the reason codes of {SEED} into {DOCS}\n")


if __name__ == "__main__":
    main()
