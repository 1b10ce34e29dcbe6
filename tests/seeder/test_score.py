"""`python -m seeder score`: says so without an answer key, and grades a real migration honestly."""

from __future__ import annotations

import json
from pathlib import Path

from seeder import catalogue
from tests.support.databases import Databases, run_module


def test_a_legacy_database_without_an_answer_key_is_not_scored(databases: Databases, tmp_path: Path) -> None:
    env = databases.env()
    databases.seed("--size", "50")
    with databases.old() as conn:
        conn.execute("drop schema answer_key cascade")
    result = run_module("seeder", "score", "--reports", str(tmp_path / "reports"), env=env)
    assert result.returncode == 0
    assert "holds no answer key" in result.stdout
    assert not (tmp_path / "reports").exists()


def test_scoring_before_any_migration_fails_with_one_line(databases: Databases, tmp_path: Path) -> None:
    env = databases.env()
    databases.seed("--size", "50")
    result = run_module("seeder", "score", "--reports", str(tmp_path), env=env, check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: new_good_db holds no published migration run to score; run `make migrate` first"
    ]


def _score(databases: Databases, reports: Path) -> dict:  # type: ignore[type-arg]
    result = run_module("seeder", "score", "--reports", str(reports), env=databases.env())
    assert (reports / "score.md").read_text() in result.stdout
    return json.loads((reports / "score.json").read_text())  # type: ignore[no-any-return]


def test_a_migrated_dirty_database_is_scored_and_the_score_drops_when_the_target_is_wrong(
    databases: Databases, tmp_path: Path
) -> None:
    env = databases.env()
    databases.seed("--size", "400", "--seed", "3")
    run_module("loader", "migrate", env=env)
    report = _score(databases, tmp_path / "first")

    page = (tmp_path / "first" / "score.md").read_text()
    for pattern in catalogue.PATTERNS:
        assert f"`{pattern.id}`" in page, f"the score report does not name {pattern.id}"
    assert "rows lost:" in page
    assert isinstance(report["rows_lost"], int)
    assert {table: counts["legacy_rows"] for table, counts in report["rows"].items()} == {
        "old_users": 80,
        "old_products": 8,
        "old_orders": 400,
    }
    assert {r["reason_code"] for r in report["reasons"]} >= {p.reason for p in catalogue.PATTERNS if p.reason}

    # Now break the target on purpose: one rejected order loses its ledger row (a row lost), one migrated user
    # gets a wrong email. An honest score sees both.
    with databases.new() as conn:
        run_id = conn.execute("select max(run_id) from migration_runs where status = 'published'").fetchone()[0]  # type: ignore[index]
        reject = conn.execute(
            "select ledger_id, reason_code from migration_ledger where run_id = %s and legacy_table = 'old_orders' "
            "and outcome = 'rejected' order by legacy_id limit 1",
            (run_id,),
        ).fetchone()
        assert reject is not None, "a dirty database of 400 orders has rejected orders"
        conn.execute("delete from migration_ledger where ledger_id = %s", (reject[0],))
        conn.execute(
            "update users set email = 'not.the.right@example.com' "
            "where user_id = (select min(user_id) from users where email is not null)"
        )
    again = _score(databases, tmp_path / "second")
    assert again["rows_lost"] == report["rows_lost"] + 1
    assert again["rows"]["old_orders"]["lost"] == report["rows"]["old_orders"]["lost"] + 1

    def email_right(score: dict) -> int:  # type: ignore[type-arg]
        return next(f["right"] for f in score["fields"]["old_users"] if f["field"] == "users.email")

    assert email_right(again) == email_right(report) - 1

    def recall_hits(score: dict, code: str) -> int:  # type: ignore[type-arg]
        return next(r["right"] for r in score["reasons"] if r["reason_code"] == code)

    assert recall_hits(again, reject[1]) == recall_hits(report, reject[1]) - 1
