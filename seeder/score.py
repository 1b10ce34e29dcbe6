"""`python -m seeder score`: grade the last published migration in new_good_db against the seeder's answer key.

The answer key (schema answer_key in the legacy database) is streamed with COPY into temporary tables of a
session on the target database, and every comparison runs there as SQL: memory does not grow with the data,
and nothing is written to either database (temporary tables end with the session).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from loader.core.config import Settings
from loader.core.contract import CORRECTION_REASONS, reason_codes
from loader.core.db import connect
from loader.core.errors import PipelineError
from loader.core.legacy_schema import LEGACY_SCHEMA
from seeder import answer_key, catalogue


@dataclass(frozen=True)
class TargetShape:
    """How one legacy table's migrated rows look in the target: the query and the fields it yields."""

    legacy_table: str
    target_key: str
    actual_sql: str
    fields: tuple[tuple[str, str], ...]  # (field name as the catalogue says it, answer-key column)


SHAPES = (
    TargetShape(
        "old_users",
        "users",
        """
        select users.legacy_user_id as legacy_id, users.username, users.email, users.full_name, users.phone,
            users.registered_at, addresses.street, addresses.city, addresses.state, addresses.postal_code,
            addresses.country, {addresses_country_code} as country_code, addresses.address_raw
        from public.users
        left join public.addresses on addresses.user_id = users.user_id
        """,
        (
            ("users.username", "username"),
            ("users.email", "email"),
            ("users.full_name", "full_name"),
            ("users.phone", "phone"),
            ("users.registered_at", "registered_at"),
            ("addresses.street", "street"),
            ("addresses.city", "city"),
            ("addresses.state", "state"),
            ("addresses.postal_code", "postal_code"),
            ("addresses.country", "country"),
            ("addresses.country_code", "country_code"),
            ("addresses.address_raw", "address_raw"),
        ),
    ),
    TargetShape(
        "old_products",
        "products",
        """
        select products.legacy_product_id as legacy_id, products.name, products.description,
            product_categories.name as category, products.price, products.currency, products.created_at
        from public.products
        left join public.product_categories on product_categories.category_id = products.category_id
        """,
        (
            ("products.name", "name"),
            ("products.description", "description"),
            ("products.category", "category"),
            ("products.price", "price"),
            ("products.currency", "currency"),
            ("products.created_at", "created_at"),
        ),
    ),
    TargetShape(
        "old_orders",
        "orders",
        """
        select orders.legacy_order_id as legacy_id, users.legacy_user_id, orders.status::text as status,
            orders.ordered_at, orders.total_amount, orders.currency as order_currency,
            products.legacy_product_id, order_items.quantity, order_items.unit_price, order_items.currency
        from public.orders
        left join public.users on users.user_id = orders.user_id
        left join public.order_items on order_items.order_id = orders.order_id
        left join public.products on products.product_id = order_items.product_id
        """,
        (
            ("orders.user", "legacy_user_id"),
            ("orders.status", "status"),
            ("orders.ordered_at", "ordered_at"),
            ("orders.total_amount", "total_amount"),
            ("orders.currency", "order_currency"),
            ("order_items.product", "legacy_product_id"),
            ("order_items.quantity", "quantity"),
            ("order_items.unit_price", "unit_price"),
            ("order_items.currency", "currency"),
        ),
    ),
)
# The answer key holds one currency per order: the order's and its item's are the same (O5).
EXPECTED_COLUMN = {"order_currency": "currency"}


def _stream(source: psycopg.Connection, target: psycopg.Connection, query: sql.Composable, into: str) -> None:
    with (
        source.cursor() as reader,
        target.cursor() as writer,
        reader.copy(sql.SQL("copy ({}) to stdout").format(query)) as out,
        writer.copy(sql.SQL("copy {} from stdin").format(sql.Identifier(into))) as copy_in,
    ):
        for chunk in out:
            copy_in.write(chunk)


def _has_answer_key(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "select to_regclass('answer_key.meta') is not null and to_regclass('answer_key.orders') is not null"
    ).fetchone()
    return bool(row and row[0])


def _load(old: psycopg.Connection, new: psycopg.Connection) -> dict[str, str]:
    """Copy the answer key and the legacy ids into temporary tables of the target session."""
    for name in ("meta", "catalogue", *answer_key.TABLES.values()):
        source = sql.Identifier(answer_key.SCHEMA, name)
        columns = old.execute(
            "select attname, format_type(atttypid, atttypmod) from pg_attribute "
            "where attrelid = to_regclass(%s) and attnum > 0 and not attisdropped order by attnum",
            (f"{answer_key.SCHEMA}.{name}",),
        ).fetchall()
        definitions = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(t)) for c, t in columns)
        new.execute(sql.SQL("create temporary table {} ({})").format(sql.Identifier(f"ak_{name}"), definitions))
        _stream(old, new, sql.SQL("select * from {}").format(source), f"ak_{name}")
    new.execute("create temporary table legacy_ids (legacy_table text, legacy_id integer)")
    for table in LEGACY_SCHEMA:
        query = sql.SQL("select {}, id from {}").format(sql.Literal(table), sql.Identifier(table))
        _stream(old, new, query, "legacy_ids")
    for name in answer_key.TABLES.values():
        new.execute(sql.SQL("alter table {} add primary key (legacy_id)").format(sql.Identifier(f"ak_{name}")))
    new.execute("create index on legacy_ids (legacy_table, legacy_id)")
    new.execute("analyze")
    return dict(new.execute("select key, value from ak_meta").fetchall())


def _last_run(conn: psycopg.Connection) -> int:
    exists = conn.execute("select to_regclass('public.migration_runs') is not null").fetchone()
    run = None
    if exists and exists[0]:
        run = conn.execute("select max(run_id) from migration_runs where status = 'published'").fetchone()
    if not run or run[0] is None:
        raise PipelineError("new_good_db holds no published migration run to score; run `make migrate` first")
    return int(run[0])


# Target columns the rules call for that a target built before them lacks: scored as NULL (so as wrong wherever a
# value is expected) rather than failing the whole score.
OPTIONAL_TARGET_COLUMNS = {"addresses_country_code": ("addresses", "country_code")}


def _actual_sql(conn: psycopg.Connection, shape: TargetShape) -> str:
    present = {}
    for placeholder, (table, column) in OPTIONAL_TARGET_COLUMNS.items():
        row = conn.execute(
            "select count(*) from information_schema.columns "
            "where table_schema = 'public' and table_name = %s and column_name = %s",
            (table, column),
        ).fetchone()
        present[placeholder] = f"{table}.{column}" if row and row[0] else "null::text"
    return shape.actual_sql.format(**present)


def _score_table(conn: psycopg.Connection, shape: TargetShape, run_id: int) -> None:
    """scored_<table>: one row per answer-key row, with the actual outcome and a right/wrong per field."""
    answer = sql.Identifier(f"ak_{answer_key.TABLES[shape.legacy_table]}")
    checks = []
    for name, actual_column in shape.fields:
        expected = EXPECTED_COLUMN.get(actual_column, actual_column)
        checks.append(
            sql.SQL(
                "case when answer.outcome <> 'migrated' then null "
                "else actual.legacy_id is not null and actual.{} is not distinct from answer.{} end as {}"
            ).format(sql.Identifier(actual_column), sql.Identifier(expected), sql.Identifier(f"ok:{name}"))
        )
    statement = sql.SQL(
        """
        create temporary table {scored} as
        with
        ledger as (
            select
                legacy_id,
                count(*) filter (where outcome::text not in ('warning', 'corrected')) as decisions,
                min(outcome::text) filter (where outcome::text not in ('warning', 'corrected')) as outcome,
                min(reason_code) filter (where outcome::text not in ('warning', 'corrected')) as reason_code,
                min(merged_into_legacy_id) filter (where outcome::text not in ('warning', 'corrected'))
                    as merged_into_legacy_id,
                -- A person corrected a value of the row (rule C2): the answer key describes the uncorrected row.
                bool_or(outcome::text = 'corrected') as corrected,
                array_agg(distinct reason_code) as reasons
            from public.migration_ledger
            where run_id = {run_id} and legacy_table = {legacy_table}
            group by legacy_id
        ),
        actual as ({actual_sql}),
        joined as (
            select
                answer.*,
                case
                    when actual.legacy_id is not null and coalesce(ledger.decisions, 0) = 0 then 'migrated'
                    when actual.legacy_id is null and ledger.decisions = 1 then ledger.outcome
                    when actual.legacy_id is null and coalesce(ledger.decisions, 0) = 0 then 'lost'
                    else 'conflicting'
                end as actual_outcome,
                ledger.reason_code as actual_reason,
                ledger.merged_into_legacy_id as actual_merged_into,
                coalesce(ledger.reasons, '{{}}') as actual_reasons,
                coalesce(ledger.corrected, false) as corrected,
                {checks}
            from {answer} as answer
            left join actual on actual.legacy_id = answer.legacy_id
            left join ledger on ledger.legacy_id = answer.legacy_id
        )
        select
            joined.*,
            -- NULL for a corrected row: it is not scored against the key (the correction overrides it).
            case
                when not joined.corrected
                    then joined.outcome = joined.actual_outcome
                        and joined.reason_code is not distinct from joined.actual_reason
                        and joined.merged_into_legacy_id is not distinct from joined.actual_merged_into
            end as outcome_right
        from joined
        """
    ).format(
        scored=sql.Identifier(f"scored_{shape.legacy_table}"),
        run_id=sql.Literal(run_id),
        legacy_table=sql.Literal(shape.legacy_table),
        actual_sql=sql.SQL(_actual_sql(conn, shape)),
        checks=sql.SQL(", ").join(checks),
        answer=answer,
    )
    conn.execute(statement)


def _rows(conn: psycopg.Connection, shape: TargetShape, run_id: int) -> dict[str, int]:
    """Legacy rows against what the target and the ledger account for: lost, counted twice, invented."""
    key = {"users": "legacy_user_id", "products": "legacy_product_id", "orders": "legacy_order_id"}[shape.target_key]
    statement = sql.SQL(
        """
        with
        legacy as (select legacy_id from legacy_ids where legacy_table = {legacy_table}),
        answers as (select legacy_id from {answer}),
        migrated as (select {key} as legacy_id from {target}),
        decided as (
            select legacy_id, count(*) as decisions from public.migration_ledger
            where run_id = {run_id} and legacy_table = {legacy_table}
                and outcome::text not in ('warning', 'corrected')
            group by legacy_id
        ),
        accounted as (
            select coalesce(migrated.legacy_id, decided.legacy_id) as legacy_id,
                (migrated.legacy_id is not null)::int + coalesce(decided.decisions, 0) as times
            from migrated full join decided on decided.legacy_id = migrated.legacy_id
        )
        select
            (select count(*) from legacy),
            (select count(*) from legacy inner join answers using (legacy_id)),
            (select count(*) from answers left join legacy using (legacy_id) where legacy.legacy_id is null),
            (select count(*) from legacy left join accounted using (legacy_id) where accounted.legacy_id is null),
            (select count(*) from accounted where times > 1),
            (select count(*) from accounted left join legacy using (legacy_id) where legacy.legacy_id is null)
        """
    ).format(
        legacy_table=sql.Literal(shape.legacy_table),
        key=sql.Identifier(key),
        target=sql.Identifier("public", shape.target_key),
        run_id=sql.Literal(run_id),
        answer=sql.Identifier(f"ak_{answer_key.TABLES[shape.legacy_table]}"),
    )
    row = conn.execute(statement).fetchone()
    assert row is not None
    names = ("legacy_rows", "with_answer", "answers_without_legacy_row", "lost", "counted_twice", "invented")
    counts = dict(zip(names, (int(v) for v in row), strict=True))
    outcomes = conn.execute(
        sql.SQL("select actual_outcome, count(*) from {} group by 1").format(
            sql.Identifier(f"scored_{shape.legacy_table}")
        )
    ).fetchall()
    counts.update({f"actual_{outcome}": int(n) for outcome, n in outcomes})
    return counts


def _outcomes(conn: psycopg.Connection, shape: TargetShape) -> dict[str, Any]:
    scored = sql.Identifier(f"scored_{shape.legacy_table}")
    matrix = conn.execute(
        sql.SQL(
            "select outcome, actual_outcome, count(*) from {} where not corrected group by 1, 2 order by 1, 2"
        ).format(scored)
    ).fetchall()
    right = conn.execute(
        sql.SQL(
            "select count(*) filter (where outcome_right), count(*) filter (where not corrected), "
            "count(*) filter (where corrected) from {}"
        ).format(scored)
    )
    row = right.fetchone()
    assert row is not None
    return {
        "right": int(row[0]),
        "rows": int(row[1]),
        # Rows a person's correction changed: left out of the comparison with the key.
        "corrected": int(row[2]),
        "expected_to_actual": [{"expected": e, "actual": a, "rows": int(n)} for e, a, n in matrix],
    }


def _fields(conn: psycopg.Connection, shape: TargetShape) -> list[dict[str, Any]]:
    scored = sql.Identifier(f"scored_{shape.legacy_table}")
    parts = []
    for name, _ in shape.fields:
        ok = sql.Identifier(f"ok:{name}")
        wrong_sql = "count(*) filter (where not {ok} and actual_outcome = 'migrated')"
        parts.append(sql.SQL("count(*) filter (where {ok}), " + wrong_sql).format(ok=ok))
    query = sql.SQL(
        "select count(*) filter (where outcome = 'migrated'), "
        "count(*) filter (where outcome = 'migrated' and actual_outcome <> 'migrated'), {} from {} "
        "where not corrected"
    ).format(sql.SQL(", ").join(parts), scored)
    row = conn.execute(query).fetchone()
    assert row is not None
    expected, not_migrated = int(row[0]), int(row[1])
    out = []
    for i, (name, _) in enumerate(shape.fields):
        right, wrong = int(row[2 + 2 * i]), int(row[3 + 2 * i])
        out.append(
            {
                "field": name,
                "expected": expected,
                "right": right,
                "wrong": wrong,
                "row_not_migrated": not_migrated,
                "accuracy": _ratio(right, expected),
            }
        )
    return out


def _reasons(conn: psycopg.Connection, run_id: int) -> list[dict[str, Any]]:
    """Precision and recall of every reason code, over the legacy rows the answer key covers."""
    expected_parts = []
    for legacy_table, name in answer_key.TABLES.items():
        ak = sql.Identifier(f"ak_{name}")
        expected_parts.append(
            sql.SQL(
                "select {t} as legacy_table, legacy_id, reason_code, merged_into_legacy_id from {ak} "
                "where reason_code is not null "
                "union all select {t}, legacy_id, unnest(warnings), null from {ak}"
            ).format(t=sql.Literal(legacy_table), ak=ak)
        )
    keyed = sql.SQL(" union all ").join(
        sql.SQL("select {t} as legacy_table, legacy_id from {ak}").format(
            t=sql.Literal(legacy_table), ak=sql.Identifier(f"ak_{name}")
        )
        for legacy_table, name in answer_key.TABLES.items()
    )
    statement = sql.SQL(
        """
        with
        expected_all as ({expected}),
        -- Rows a person corrected (rule C2) are not scored against the key, on either side.
        corrected as (
            select legacy_table, legacy_id from public.migration_ledger
            where run_id = {run_id} and outcome::text = 'corrected'
        ),
        keyed as (
            select * from ({keyed}) as keyed
            where not exists (
                select from corrected
                where corrected.legacy_table = keyed.legacy_table and corrected.legacy_id = keyed.legacy_id
            )
        ),
        expected as (
            select expected_all.* from expected_all
            inner join keyed
                on keyed.legacy_table = expected_all.legacy_table and keyed.legacy_id = expected_all.legacy_id
        ),
        reported as (
            select distinct ledger.legacy_table, ledger.legacy_id, ledger.reason_code, ledger.merged_into_legacy_id
            from public.migration_ledger as ledger
            inner join keyed on keyed.legacy_table = ledger.legacy_table and keyed.legacy_id = ledger.legacy_id
            -- What became of a correction is about the corrections file, not a rule the key could expect.
            where ledger.run_id = {run_id} and ledger.reason_code <> all({correction_reasons})
        ),
        both_sides as (
            select
                coalesce(expected.reason_code, reported.reason_code) as reason_code,
                expected.legacy_id is not null as is_expected,
                reported.legacy_id is not null as is_reported,
                expected.merged_into_legacy_id is not distinct from reported.merged_into_legacy_id as same_target
            from expected
            full join reported
                on reported.legacy_table = expected.legacy_table
                and reported.legacy_id = expected.legacy_id
                and reported.reason_code = expected.reason_code
        )
        select reason_code,
            count(*) filter (where is_expected),
            count(*) filter (where is_reported),
            count(*) filter (where is_expected and is_reported),
            count(*) filter (where is_expected and is_reported and same_target)
        from both_sides group by reason_code
        """
    ).format(
        expected=sql.SQL(" union all ").join(expected_parts),
        keyed=keyed,
        run_id=sql.Literal(run_id),
        correction_reasons=sql.Literal(list(CORRECTION_REASONS.values())),
    )
    found = {code: (int(e), int(r), int(tp), int(same)) for code, e, r, tp, same in conn.execute(statement)}
    # Every code of the reason_codes seed, so a code the data never calls for still shows when reported.
    outcomes = {
        code: reason.outcome for code, reason in reason_codes().items() if code not in CORRECTION_REASONS.values()
    }
    out = []
    for code in dict.fromkeys([*outcomes, *sorted(found)]):
        expected, reported, right, same = found.get(code, (0, 0, 0, 0))
        entry: dict[str, Any] = {
            "reason_code": code,
            "outcome": outcomes.get(code, "?"),
            "expected": expected,
            "reported": reported,
            "right": right,
            "precision": _ratio(right, reported),
            "recall": _ratio(right, expected),
        }
        if outcomes.get(code) == "merged":
            entry["merged_into_right_row"] = same
        out.append(entry)
    return out


def _patterns(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Per dirt pattern: rows, and how many the migration handled as the answer key says.

    Handled = the row's outcome (and reason, and merge target) is right; where the pattern tests a value, that
    value is exactly right on rows expected to migrate; where it calls for a warning, the warning is there.
    """
    shapes = {shape.legacy_table: shape for shape in SHAPES}
    outcomes = {code: reason.outcome for code, reason in reason_codes().items()}
    out = []
    for table in catalogue.TABLES:
        shape = shapes[table]
        scored = sql.Identifier(f"scored_{table}")
        for column in catalogue.columns(table):
            cases = []
            for pattern in catalogue.column_patterns(table, column):
                value_ok: sql.Composable = sql.SQL("true")
                if pattern.field:
                    names = [n for n, _ in shape.fields if n == pattern.field or n.split(".")[0] == pattern.field]
                    value_ok = sql.SQL(" and ").join(
                        sql.SQL("coalesce({}, true)").format(sql.Identifier(f"ok:{n}")) for n in names
                    )
                warning_ok: sql.Composable = sql.SQL("true")
                if pattern.reason and outcomes.get(pattern.reason) == "warning":
                    warning_ok = sql.SQL("(outcome <> 'migrated' or {} = any(actual_reasons))").format(
                        sql.Literal(pattern.reason)
                    )
                cases.append(
                    sql.SQL("when {} then ({}) and ({})").format(sql.Literal(pattern.id), value_ok, warning_ok)
                )
            query = sql.SQL(
                """
                select {column}, count(*), count(*) filter (where outcome_right),
                    count(*) filter (where outcome_right and case {column} {cases} end)
                from {scored} where not corrected group by 1
                """
            ).format(column=sql.Identifier(column), cases=sql.SQL(" ").join(cases), scored=scored)
            counts = {p: (int(n), int(o), int(h)) for p, n, o, h in conn.execute(query)}
            for pattern in catalogue.column_patterns(table, column):
                rows, outcome_right, handled = counts.get(pattern.id, (0, 0, 0))
                out.append(
                    {
                        "pattern": pattern.id,
                        "table": table,
                        "column": column,
                        "recoverable": pattern.recoverable,
                        "expected": pattern.handling,
                        "reason_code": pattern.reason,
                        "rows": rows,
                        "outcome_right": outcome_right,
                        "handled_right": handled,
                        "share_right": _ratio(handled, rows),
                    }
                )
    return out


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def compute(settings: Settings) -> dict[str, Any] | None:
    """The whole score as a dict; None when the legacy database holds no answer key."""
    with connect(settings.old) as old, connect(settings.new) as new:
        old.read_only = True
        if not _has_answer_key(old):
            return None
        run_id = _last_run(new)
        meta = _load(old, new)
        old.rollback()
        for shape in SHAPES:
            _score_table(new, shape, run_id)
        report: dict[str, Any] = {
            "run_id": run_id,
            "answer_key": meta,
            "rows": {shape.legacy_table: _rows(new, shape, run_id) for shape in SHAPES},
            "outcomes": {shape.legacy_table: _outcomes(new, shape) for shape in SHAPES},
            "fields": {shape.legacy_table: _fields(new, shape) for shape in SHAPES},
            "reasons": _reasons(new, run_id),
            "patterns": _patterns(new),
        }
        new.rollback()
    report["rows_lost"] = sum(counts["lost"] for counts in report["rows"].values())
    report["summary"] = _summary(report)
    return report


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    outcomes = report["outcomes"].values()
    fields = [f for table in report["fields"].values() for f in table]
    patterns = report["patterns"]
    return {
        "rows_lost": report["rows_lost"],
        "outcomes_right": _ratio(sum(o["right"] for o in outcomes), sum(o["rows"] for o in outcomes)),
        "values_right": _ratio(sum(f["right"] for f in fields), sum(f["expected"] for f in fields)),
        "patterns_fully_handled": sum(1 for p in patterns if p["rows"] and p["handled_right"] == p["rows"]),
        "patterns_present": sum(1 for p in patterns if p["rows"]),
        "patterns": len(patterns),
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def markdown(report: dict[str, Any]) -> str:
    meta, summary = report["answer_key"], report["summary"]
    lines = [
        f"# Migration score: run {report['run_id']} against the answer key",
        "",
        f"Answer key: profile {meta.get('profile')}, seed {meta.get('seed')}, size {meta.get('size')} "
        "(rules: docs/cleaning-rules.md; patterns: docs/dirt-catalogue.md).",
        "",
        f"- **rows lost: {summary['rows_lost']}**",
        f"- outcomes right (migrated / merged into the right row / rejected with the right reason): "
        f"{_pct(summary['outcomes_right'])}",
        f"- values exactly right, over the rows that should migrate: {_pct(summary['values_right'])}",
        f"- dirt patterns handled right on every row: {summary['patterns_fully_handled']} of "
        f"{summary['patterns_present']} present ({summary['patterns']} in the catalogue)",
        "",
        "## Rows",
        "",
        "| legacy table | legacy rows | with an answer | migrated | merged | rejected | lost | counted twice "
        "| invented |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for table, counts in report["rows"].items():
        lines.append(
            f"| {table} | {counts['legacy_rows']} | {counts['with_answer']} | {counts.get('actual_migrated', 0)} | "
            f"{counts.get('actual_merged', 0)} | {counts.get('actual_rejected', 0)} | {counts['lost']} | "
            f"{counts['counted_twice']} | {counts['invented']} |"
        )
    lines += [
        "",
        "## Outcomes (expected → actual)",
        "",
        "| legacy table | expected | actual | rows |",
        "|---|---|---|---|",
    ]
    for table, outcome in report["outcomes"].items():
        for cell in outcome["expected_to_actual"]:
            lines.append(f"| {table} | {cell['expected']} | {cell['actual']} | {cell['rows']} |")
        lines.append(f"| {table} | **right** | | {outcome['right']} of {outcome['rows']} |")
        if outcome["corrected"]:
            lines.append(f"| {table} | (a person corrected them: not scored) | | {outcome['corrected']} |")
    lines += [
        "",
        "## Fields (rows that should migrate)",
        "",
        "| field | expected | exactly right | wrong | row not migrated | right |",
        "|---|---|---|---|---|---|",
    ]
    for fields in report["fields"].values():
        for f in fields:
            lines.append(
                f"| {f['field']} | {f['expected']} | {f['right']} | {f['wrong']} | {f['row_not_migrated']} | "
                f"{_pct(f['accuracy'])} |"
            )
    lines += [
        "",
        "## Reason codes (rejections, merges, warnings)",
        "",
        "| reason code | outcome | expected | reported | right | precision | recall |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["reasons"]:
        merged = f" (into the right row: {r['merged_into_right_row']})" if "merged_into_right_row" in r else ""
        lines.append(
            f"| `{r['reason_code']}` | {r['outcome']} | {r['expected']} | {r['reported']} | {r['right']}{merged} | "
            f"{_pct(r['precision'])} | {_pct(r['recall'])} |"
        )
    lines += [
        "",
        "## Dirt patterns",
        "",
        "| pattern | table | recoverable | expected handling | rows | outcome right | handled right |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in report["patterns"]:
        lines.append(
            f"| `{p['pattern']}` | {p['table']} | {'yes' if p['recoverable'] else 'no'} | {p['expected']}"
            f"{' (`' + p['reason_code'] + '`)' if p['reason_code'] else ''} | {p['rows']} | {p['outcome_right']} | "
            f"{p['handled_right']} ({_pct(p['share_right'])}) |"
        )
    return "\n".join(lines) + "\n"


def score(settings: Settings, reports: Path) -> str:
    """Write reports/score.json and reports/score.md; return what to show: the latter, or why there is no score."""
    report = compute(settings)
    if report is None:
        return (
            f"the legacy database {settings.old.describe()} holds no answer key (schema answer_key): it was not "
            "written by `python -m seeder`, so there is nothing to score against\n"
        )
    reports.mkdir(parents=True, exist_ok=True)
    with (reports / "score.json").open("w") as out:
        json.dump(report, out, indent=2, ensure_ascii=False)
        out.write("\n")
    text = markdown(report)
    with (reports / "score.md").open("w") as out:
        out.write(text)
    return text + f"wrote {reports / 'score.json'} and {reports / 'score.md'}\n"
