"""The review loop walked whole, on the seeded dirty data: migrate; review suggests a mapping; the approved mapping
and two per-row corrections are applied; the next migration migrates exactly those rows; a corrected row that
changes makes its correction stale; a correction that does not read changes nothing; no-op reruns stay within the
ledger's retention."""

from __future__ import annotations

import csv
import json
from typing import Any

from loader.core.contract import CORRECTION_FILE_COLUMNS, PROJECT_ROOT, SEEDS_DIR
from loader.runs.review import REVIEW_COLUMNS
from tests.support.databases import Databases, copy_project, run_module

# Three copies of a migrated order, each wrong in one place: a status no seed knows, a date nobody can read, a
# negative quantity; a fourth whose date a person tries to correct with something that is no date either.
SHIPT, BAD_DATE, NEGATIVE, UNREADABLE = 900001, 900002, 900003, 900004


def _report(databases: Databases) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((databases.scratch / "reports" / "migration_report.json").read_text())
    return report


def _rejected(report: dict[str, Any]) -> dict[str, int]:
    """Rejected orders per reason, as the run report counts them."""
    return {
        r["reason_code"]: r["rows"]
        for r in report["reasons"]
        if r["legacy_table"] == "old_orders" and r["outcome"] == "rejected"
    }


def _copy_order(databases: Databases, source_id: int, new_id: int, **values: object) -> None:
    columns = ["user_identifier_text", "order_date_str", "status_text", "product_name_redundant", "quantity"]
    columns += ["unit_price_str_redundant", "total_order_amount_str"]
    chosen = ", ".join(f"%({c})s" if c in values else c for c in columns)
    with databases.old() as conn:
        conn.execute(
            f"insert into old_orders (id, {', '.join(columns)}) "
            f"select %(new_id)s, {chosen} from old_orders where id = %(source_id)s",
            {"new_id": new_id, "source_id": source_id, **values},
        )


def _write_corrections(databases: Databases, *rows: tuple[object, ...]) -> None:
    with (databases.corrections_dir / "old_orders.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CORRECTION_FILE_COLUMNS)
        writer.writerows(rows)


def _ledger(databases: Databases, run_id: int, legacy_ids: tuple[int, ...]) -> list[tuple[Any, ...]]:
    """The rows' ledger entries of one run but the warnings of the rules (an assumed currency, a total recomputed)."""
    with databases.new() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                "select legacy_id, outcome::text, reason_code, column_name, raw_value, "
                "evidence ->> 'corrected_value', evidence ->> 'note', evidence ->> 'legacy_value' "
                "from migration_ledger where run_id = %s and legacy_table = 'old_orders' and legacy_id = any(%s) "
                "and (outcome::text <> 'warning' or reason_code like 'correction%%') order by legacy_id, reason_code",
                (run_id, list(legacy_ids)),
            )
        ]


def _order(databases: Databases, legacy_id: int) -> tuple[Any, ...] | None:
    with databases.new() as conn:
        row = conn.execute(
            "select orders.status::text, orders.ordered_at::date::text, order_items.quantity from orders "
            "inner join order_items on order_items.order_id = orders.order_id where orders.legacy_order_id = %s",
            (legacy_id,),
        ).fetchone()
    return None if row is None else tuple(row)


def test_the_review_loop_migrates_exactly_the_rows_people_mapped_and_corrected(migrated: Databases) -> None:
    # The transform reads the project's own seeds (dbt's seed-paths), so the approved mapping goes there: here, to
    # a copy of the project's, which the copy's loader reads.
    project = copy_project(migrated.scratch / "project")
    env = migrated.env(DBT_TARGET_PATH=str(migrated.scratch / "project_dbt_target"))
    with migrated.new() as conn:
        # A migrated order that is not `shipped` and of quantity under 999, so that no copy below, once mended,
        # repeats it (rule O3) or breaks the quantity limit.
        row = conn.execute(
            "select orders.legacy_order_id, order_items.quantity from orders "
            "inner join order_items on order_items.order_id = orders.order_id "
            "where orders.status <> 'shipped' and order_items.quantity < 999 order by 1 limit 1"
        ).fetchone()
    assert row is not None
    source_id, quantity = int(row[0]), int(row[1])
    _copy_order(migrated, source_id, SHIPT, status_text="shipt")
    _copy_order(migrated, source_id, BAD_DATE, order_date_str="31/31/2021")
    _copy_order(migrated, source_id, NEGATIVE, quantity=-quantity)
    _copy_order(migrated, source_id, UNREADABLE, order_date_str="99/99/2021")

    # 1. migrate: the four copies are rejected, each for its own reason.
    run_module("loader", "migrate", env=env, project=project)
    before = _rejected(_report(migrated))
    assert all(_order(migrated, legacy_id) is None for legacy_id in (SHIPT, BAD_DATE, NEGATIVE, UNREADABLE))

    # 2. review suggests `shipped` for `shipt`; a person approves it.
    run_module("loader", "review", env=env, project=project)
    review = migrated.scratch / "reports" / "review.csv"
    with review.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    (suggested,) = [r for r in rows if (r["mapping_seed"], r["raw_value"]) == ("status_synonyms", "shipt")]
    assert suggested["suggested_value"] == "shipped" and suggested["approved_value"] == ""
    suggested["approved_value"] = "shipped"
    with review.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REVIEW_COLUMNS)
        writer.writeheader()
        writer.writerow(suggested)

    # 3. two per-row corrections, and one whose corrected value is no date.
    _write_corrections(
        migrated,
        (BAD_DATE, "order_date_str", "31/31/2021", "2020-01-15", "invoice 2231 reads 15 Jan 2020", "ana"),
        # quantity + 1: the order as it was would repeat its source order, and be merged into it (rule O3).
        (NEGATIVE, "quantity", str(-quantity), str(quantity + 1), "the paper order says one more", "ana"),
        (UNREADABLE, "order_date_str", "99/99/2021", "soon", "asked the shop", "ben"),
    )

    seed = project / SEEDS_DIR.relative_to(PROJECT_ROOT) / "status_synonyms.csv"
    original = seed.read_bytes()
    run_module("loader", "review", "--apply", str(review), env=env, project=project)
    assert seed.read_bytes() == original + b"shipt,shipped\n"
    assert (SEEDS_DIR / "status_synonyms.csv").read_bytes() == original, "the project's own seed changed"
    # 4. the next migrate migrates exactly the mapped and the corrected rows.
    run_module("loader", "migrate", env=env, project=project)
    after = _report(migrated)
    run_id = int(after["run_id"])
    rejected = _rejected(after)
    assert sum(before.values()) - sum(rejected.values()) == 3
    for reason in ("status_unknown", "order_date_invalid", "quantity_not_positive"):
        assert before[reason] - rejected.get(reason, 0) == 1, reason
    assert _order(migrated, SHIPT) is not None and _order(migrated, SHIPT)[0] == "shipped"  # type: ignore[index]
    assert _order(migrated, BAD_DATE)[1] == "2020-01-15"  # type: ignore[index]
    assert _order(migrated, NEGATIVE)[2] == quantity + 1  # type: ignore[index]
    assert _order(migrated, UNREADABLE) is None

    # The ledger: `corrected` entries with the raw and the corrected value and the note; the refused one is
    # a warning beside the order's rejection, whose raw value is the legacy one.
    assert _ledger(migrated, run_id, (BAD_DATE, NEGATIVE, UNREADABLE)) == [
        (BAD_DATE, "corrected", "correction_applied", "order_date_str", "31/31/2021", "2020-01-15",
         "invoice 2231 reads 15 Jan 2020", None),
        (NEGATIVE, "corrected", "correction_applied", "quantity", str(-quantity), str(quantity + 1),
         "the paper order says one more", None),
        (UNREADABLE, "warning", "correction_unparseable", "order_date_str", "99/99/2021", "soon",
         "asked the shop", None),
        (UNREADABLE, "rejected", "order_date_invalid", "order_date_str", "99/99/2021", None, None, None),
    ]  # fmt: skip
    assert {(c["legacy_id"], c["status"]) for c in after["corrections"]} == {
        (BAD_DATE, "applied"),
        (NEGATIVE, "applied"),
        (UNREADABLE, "unparseable"),
    }
    assert any(g["subject"] == "corrections applied" and g["passed"] for g in after["gates"])

    # 5. the legacy row of a correction changes: the correction is stale, reported and not applied.
    with migrated.old() as conn:
        conn.execute("update old_orders set order_date_str = '32/01/2021' where id = %s", (BAD_DATE,))
    run_module("loader", "migrate", env=env, project=project)
    stale = _report(migrated)
    assert _order(migrated, BAD_DATE) is None
    assert _rejected(stale)["order_date_invalid"] == rejected["order_date_invalid"] + 1
    assert _ledger(migrated, int(stale["run_id"]), (BAD_DATE,)) == [
        (BAD_DATE, "warning", "correction_stale", "order_date_str", "31/31/2021", "2020-01-15",
         "invoice 2231 reads 15 Jan 2020", "32/01/2021"),
        (BAD_DATE, "rejected", "order_date_invalid", "order_date_str", "32/01/2021", None, None, None),
    ]  # fmt: skip
    markdown = (migrated.scratch / "reports" / "migration_report.md").read_text()
    assert "| old_orders.csv:2 | old_orders 900002 | order_date_str | stale | `31/31/2021` | `32/01/2021` |" in (
        markdown
    )

    # 6. ten no-op reruns: the ledger keeps the last runs' partitions only, each with the corrections' entries.
    for _ in range(10):
        run_module("loader", "publish", "--keep-runs", "3", env=env, project=project)
    with migrated.new() as conn:
        runs = [
            (int(run), int(n))
            for run, n in conn.execute(
                "select run_id, count(*) filter (where reason_code like 'correction%%') from migration_ledger "
                "group by run_id order by run_id"
            )
        ]
    assert len(runs) == 3 and all(n == 3 for _, n in runs), runs
