"""Publish: upsert the dbt marts into the Alembic tables, set-based, in one transaction, behind gates.

Every statement is an INSERT … SELECT, UPDATE or DELETE run inside PostgreSQL; no row passes through Python.
Rows are keyed by their legacy ids, so surrogate ids stay the same from run to run, and only rows whose
values changed are written, so a second run writes nothing.

Two write paths, chosen per table:
- incremental (the table holds rows): `INSERT … SELECT … ON CONFLICT (legacy key) DO UPDATE` of the rows
  that are new or differ (a hash join against the table finds them, so unchanged rows are neither written
  nor locked); foreign keys and the unique username/email are deferred to the commit, so rows may be
  re-pointed, swapped and deleted in any order. Deferred keys are checked per written row, which is cheap
  for a few thousand changed rows.
- bulk (the table is empty: a first migration): its keys and indexes are dropped, the rows inserted in
  legacy-id order, and the keys rebuilt and validated, each in one pass. Checking a million foreign keys
  row by row at commit costs more than the whole insert; one validating join costs a fraction. DDL is
  transactional, so a failure or a kill before the commit leaves the tables, keys and all, as they were.

Gates: before writing, conservation (every staged legacy row migrated, merged or rejected, exactly once)
and the error budget (rejected share per legacy table); after writing and before the commit, a
reconciliation of business values between the staged legacy rows and the target. A failed gate raises
GateFailed and the caller rolls back: nothing is published.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    Connection,
    ForeignKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    and_,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    table,
    text,
    tuple_,
    union_all,
)
from sqlalchemy.dialects.postgresql import REGCLASS
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.schema import AddConstraint, CreateIndex, DropConstraint, DropIndex
from sqlalchemy.sql import Select
from sqlalchemy.sql.expression import ColumnElement, TableClause
from sqlalchemy.sql.selectable import NamedFromClause

from loader.core.contract import (
    LEGACY_TABLE_MARTS,
    LOCK_CLASS,
    MART_SCHEMA,
    PUBLISH_LOCK,
    QUARANTINE_COLUMN_NAMES,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLES,
    SNAPSHOT_TABLE,
    STAGING_SCHEMA,
    TRANSFORM_STAMP,
    QuarantineTable,
)
from loader.core.errors import PipelineError
from loader.core.models import (
    Address,
    LedgerEntry,
    MigrationRun,
    Order,
    OrderItem,
    Product,
    ProductCategory,
    User,
    table_of,
)

DeletePolicy = Literal["delete", "keep"]
# A legacy table may lose up to half its rows to rejection before publishing stops: enough for a dirty legacy
# database, and a wrong parse rule or a wrong source database (most rows rejected) stops the run.
DEFAULT_MAX_REJECT_SHARE = 0.5
# A legacy table may shrink, and a target table lose or change, up to half its rows in one run before publishing
# stops for a person to confirm: a nightly reload caught half-way, a wrong database or a wrong rule does more.
DEFAULT_MAX_CHANGE_SHARE = 0.5
# How long publish waits for another publish's transaction (a killed run's, until its server session
# notices, within seconds) before giving up.
PUBLISH_LOCK_WAIT = "60s"
EXAMPLES = 5

users, addresses, categories = table_of(User), table_of(Address), table_of(ProductCategory)
products, orders, items = table_of(Product), table_of(Order), table_of(OrderItem)
ledger = table_of(LedgerEntry)
# Parents before children: the order of upserts and of key rebuilds; deletes run the other way.
WRITE_ORDER: tuple[Table, ...] = (users, addresses, products, orders, items)


def relation(schema: str, name: str, *columns: str) -> TableClause:
    """A table outside the models (staging, dbt), with the columns a statement uses."""
    return table(name, *(column(c) for c in columns), schema=schema)


def mart(name: str, *columns: str) -> NamedFromClause:
    # Aliased: a mart shares its name with the target table it feeds, and SQL must tell them apart.
    return relation(MART_SCHEMA, name, *columns).alias(f"mart_{name}")


users_mart = mart("users", "legacy_user_id", "username", "email", "full_name", "phone", "registered_at")
addresses_mart = mart(
    "addresses", "legacy_user_id", "street", "city", "state", "postal_code", "country", "country_code", "address_raw"
)
categories_mart = mart("product_categories", "name")
products_mart = mart(
    "products", "legacy_product_id", "name", "description", "category_name", "price", "currency", "created_at"
)
orders_mart = mart("orders", "legacy_order_id", "legacy_user_id", "status", "ordered_at", "total_amount", "currency")
items_mart = mart("order_items", "legacy_order_id", "legacy_product_id", "quantity", "unit_price", "currency")


def quarantine(name: QuarantineTable) -> TableClause:
    """dbt's quarantine: `rejects` (rejected and merged legacy rows) or `warnings` (repairs to migrated rows)."""
    return relation(QUARANTINE_SCHEMA, name, *QUARANTINE_COLUMN_NAMES)


rejects = quarantine("rejects")


@dataclass(frozen=True)
class RejectBudget:
    """The largest share of a legacy table's rows that may be rejected (merged rows are not rejections)."""

    default: float = DEFAULT_MAX_REJECT_SHARE
    per_table: Mapping[str, float] = field(default_factory=dict)

    def limit(self, legacy_table: str) -> float:
        return self.per_table.get(legacy_table, self.default)


CONFIRM = (
    "check the legacy database; if the change is meant, run again with --allow-mass-change (make … ALLOW_MASS_CHANGE=1)"
)
# A change of fewer rows than this is never a mass change, whatever its share: two of three categories falling
# out of use is a plausible fact. Emptying a table always is one.
MASS_CHANGE_MIN_ROWS = 20


@dataclass(frozen=True)
class ChangeLimit:
    """How much one run may change before a person must confirm it (`--allow-mass-change`)."""

    share: float = DEFAULT_MAX_CHANGE_SHARE
    allowed: bool = False

    def verdict(self, changed: int, held: int, emptied: bool) -> tuple[bool, str]:
        """Whether changing `changed` of `held` rows passes, and the words that say why (with the override when
        it is needed)."""
        if emptied:
            over = "the table would be left empty"
        elif changed > max(MASS_CHANGE_MIN_ROWS - 1, held * self.share):
            over = f"over the limit of {self.share:.0%}"
        else:
            return True, f"limit {self.share:.0%}"
        if self.allowed:
            return True, f"{over}, allowed by --allow-mass-change"
        return False, f"{over}: {CONFIRM}"


@dataclass(frozen=True)
class GateResult:
    """One check before the commit: what it checked, whether it passed, and the figures that say so."""

    gate: Literal["conservation", "error budget", "mass change", "reconciliation"]
    subject: str
    passed: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"gate": self.gate, "subject": self.subject, "passed": self.passed, "detail": self.detail}


@dataclass(frozen=True)
class PublishResult:
    written: dict[str, int]
    deleted: dict[str, int]
    ledger_rows: int
    gates: tuple[GateResult, ...]
    # Tables written on the bulk path (empty before, keys rebuilt), for the report.
    bulk_tables: tuple[str, ...] = ()
    # Target rows whose legacy row is gone or no longer migrates, left in place by --on-missing keep.
    kept: dict[str, int] = field(default_factory=dict)


class GateFailed(PipelineError):
    """A check before the commit failed; nothing was published."""

    def __init__(self, gates: Sequence[GateResult]) -> None:
        self.gates = tuple(gates)
        failed = [gate for gate in self.gates if not gate.passed]
        reasons = "; ".join(f"{gate.gate} {gate.subject}: {gate.detail}" for gate in failed)
        super().__init__(f"{len(failed)} gate(s) failed, nothing was published: {reasons}")


@dataclass(frozen=True)
class TableCounts:
    """One legacy table: rows staged, and how the transform classified them, with an id fingerprint each."""

    legacy_table: str
    read: int
    # What the stage copied, as its snapshot table records (None for staging from before it recorded counts).
    copied: int | None
    # The rows the legacy server's statistics counted when the copy ended (None if not recorded, 0 if none kept).
    counted: int | None
    migrated: int
    merged: int
    rejected: int
    staged_fingerprint: int
    classified_fingerprint: int


# --- gates before writing -----------------------------------------------------------------------------------


def _id_hash_sum(legacy_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum of 64-bit hashes of the ids (as bigint): two sides with the same count and the same sum hold the
    same ids the same number of times, but for a vanishing chance. One sequential scan per side, no join."""
    return func.coalesce(func.sum(func.hashint8extended(legacy_id, 0)), 0)


def _snapshot_record(conn: Connection) -> dict[str, Any]:
    """The stage's snapshot row as JSON, whatever columns the stage that wrote it recorded ({} if none)."""
    snapshot = f"{STAGING_SCHEMA}.{SNAPSHOT_TABLE}"
    if not conn.execute(select(func.to_regclass(snapshot).is_not(None))).scalar_one():
        return {}
    record = conn.execute(text(f"select to_jsonb(snapshot) from {snapshot} as snapshot")).scalar()
    return record if isinstance(record, dict) else {}


def classified_counts(conn: Connection) -> dict[str, TableCounts]:
    """Per legacy table: staged rows, and migrated / merged / rejected rows, counted inside PostgreSQL."""
    recorded = _snapshot_record(conn)
    copied = {str(name): int(rows) for name, rows in (recorded.get("rows_copied") or {}).items()}
    counted = {str(name): int(rows) for name, rows in (recorded.get("rows_counted") or {}).items()}
    counts: dict[str, TableCounts] = {}
    for legacy_table, (mart_name, key) in LEGACY_TABLE_MARTS.items():
        staged = relation(STAGING_SCHEMA, legacy_table, "id")
        migrated = mart(mart_name, key)
        staged_side = select(func.count(), _id_hash_sum(cast(staged.c.id, BigInteger))).select_from(staged)
        migrated_side = select(func.count(), _id_hash_sum(cast(migrated.c[key], BigInteger))).select_from(migrated)
        rejected_side = select(
            func.count().filter(rejects.c.outcome == "merged"),
            func.count().filter(rejects.c.outcome == "rejected"),
            _id_hash_sum(cast(rejects.c.legacy_id, BigInteger)),
        ).where(rejects.c.legacy_table == legacy_table)
        read, staged_sum = conn.execute(staged_side).one()
        done, migrated_sum = conn.execute(migrated_side).one()
        merged, rejected, rejected_sum = conn.execute(rejected_side).one()
        counts[legacy_table] = TableCounts(
            legacy_table,
            int(read),
            copied.get(legacy_table),
            counted.get(legacy_table),
            int(done),
            int(merged),
            int(rejected),
            int(staged_sum),
            int(migrated_sum) + int(rejected_sum),
        )
    return counts


def _conservation_examples(conn: Connection, legacy_table: str) -> str:
    """Which ids break conservation: lost (staged, classified nowhere), counted twice, or not staged at all."""
    mart_name, key = LEGACY_TABLE_MARTS[legacy_table]
    migrated = mart(mart_name, key)
    staged = relation(STAGING_SCHEMA, legacy_table, "id")
    classified = union_all(
        select(cast(migrated.c[key], BigInteger).label("legacy_id")),
        select(cast(rejects.c.legacy_id, BigInteger).label("legacy_id")).where(rejects.c.legacy_table == legacy_table),
    ).subquery("classified")
    per_id = (
        select(classified.c.legacy_id, func.count().label("times")).group_by(classified.c.legacy_id).subquery("per_id")
    )
    staged_ids = select(cast(staged.c.id, BigInteger).label("legacy_id")).subquery("staged_ids")
    joined = select(
        func.coalesce(staged_ids.c.legacy_id, per_id.c.legacy_id).label("legacy_id"),
        staged_ids.c.legacy_id.is_(None).label("not_staged"),
        func.coalesce(per_id.c.times, 0).label("times"),
    ).join_from(staged_ids, per_id, staged_ids.c.legacy_id == per_id.c.legacy_id, full=True)
    broken = joined.subquery("joined")
    rows = conn.execute(
        select(broken.c.legacy_id, broken.c.not_staged, broken.c.times)
        .where(or_(broken.c.not_staged, broken.c.times != 1))
        .order_by(broken.c.legacy_id)
        .limit(EXAMPLES)
    ).all()
    described = [
        f"{legacy_id} ({'not staged' if not_staged else 'lost' if times == 0 else f'counted {times} times'})"
        for legacy_id, not_staged, times in rows
    ]
    return ", ".join(described) or "no single id found (fingerprint collision)"


def conservation_gates(conn: Connection, counts: Mapping[str, TableCounts]) -> list[GateResult]:
    gates = []
    for legacy_table, c in counts.items():
        sums = f"{c.read} read = {c.migrated} migrated + {c.merged} merged + {c.rejected} rejected"
        if c.copied is not None and c.copied != c.read:
            detail = (
                f"the stage copied {c.copied} rows but staging.{legacy_table} holds {c.read} (emptied by a "
                "server crash? staging tables are unlogged): run the stage again"
            )
            gates.append(GateResult("conservation", legacy_table, False, detail))
        elif c.read != c.migrated + c.merged + c.rejected:
            detail = sums.replace(" = ", " ≠ ") + "; ids: " + _conservation_examples(conn, legacy_table)
            gates.append(GateResult("conservation", legacy_table, False, detail))
        elif c.staged_fingerprint != c.classified_fingerprint:
            detail = f"{sums}, but not by id: " + _conservation_examples(conn, legacy_table)
            gates.append(GateResult("conservation", legacy_table, False, detail))
        else:
            gates.append(GateResult("conservation", legacy_table, True, sums + ", every id once"))
    return gates


def budget_gates(counts: Mapping[str, TableCounts], budget: RejectBudget) -> list[GateResult]:
    gates = []
    for legacy_table, c in counts.items():
        share = c.rejected / c.read if c.read else 0.0
        limit = budget.limit(legacy_table)
        detail = f"{c.rejected} of {c.read} rows rejected ({share:.1%}), limit {limit:.1%}"
        gates.append(GateResult("error budget", legacy_table, share <= limit, detail))
    return gates


# How far the rows the stage read may fall short of the legacy server's statistics before the gate asks a
# person: rows the legacy application inserted while the stage ran, and statistics a few seconds behind, stay
# well inside this; a reload caught half-way does not.
MISSING_ROWS_TOLERATED = 100
MISSING_SHARE_TOLERATED = 0.25


def legacy_high_water(conn: Connection) -> dict[str, tuple[int, int]]:
    """Per legacy table: the most rows a published run has read since the last run a person confirmed with
    --allow-mass-change (that one included), and which run read them.

    Against the last run alone, a table could be emptied in steps each under the limit (a reload caught
    half-way twice, or a run after each of several deletes); against its high-water mark it cannot.
    """
    runs = table_of(MigrationRun)
    published = select(runs.c.run_id, runs.c.summary).where(runs.c.status == "published").cte("published")
    confirmed = func.coalesce(
        func.max(published.c.run_id).filter(published.c.summary["allow_mass_change"].as_boolean()), 0
    )
    since = select(confirmed.label("run_id")).scalar_subquery()
    read = func.jsonb_each_text(published.c.summary["rows_read"]).table_valued("key", "value").alias("read")
    rows = cast(read.c.value, BigInteger)
    query = (
        select(read.c.key, rows.label("rows"), published.c.run_id)
        .select_from(published)
        .join(read, literal(True))
        .where(published.c.run_id >= since)
        .order_by(read.c.key, rows.desc(), published.c.run_id.desc())
        .distinct(read.c.key)
    )
    return {str(key): (int(most), int(run_id)) for key, most, run_id in conn.execute(query)}


def legacy_shrink_gates(
    counts: Mapping[str, TableCounts], high_water: Mapping[str, tuple[int, int]], limit: ChangeLimit
) -> list[GateResult]:
    """A legacy table that fell to zero rows, or by more than the limit below its high-water mark, or that the
    stage read far short of the rows the legacy server's statistics counted: a person must confirm it."""
    gates = []
    for legacy_table, c in counts.items():
        findings: list[tuple[bool, str]] = []
        was, run_id = high_water.get(legacy_table, (0, 0))
        if was:
            lost = max(was - c.read, 0)
            passed, why = limit.verdict(lost, was, emptied=c.read == 0)
            findings.append(
                (passed, f"{c.read} legacy rows now, at most {was} since run {run_id} ({lost / was:.1%} fewer); {why}")
            )
        server = c.counted or 0
        if server - c.read > max(MISSING_ROWS_TOLERATED, server * MISSING_SHARE_TOLERATED):
            why = "allowed by --allow-mass-change" if limit.allowed else CONFIRM
            findings.append(
                (
                    limit.allowed,
                    f"the stage read {c.read} rows, but the legacy server's statistics "
                    f"counted {server} when it ended (a reload in progress, or statistics behind); {why}",
                )
            )
        if findings:
            passed = all(passed for passed, _ in findings)
            gates.append(GateResult("mass change", legacy_table, passed, "; ".join(text for _, text in findings)))
    return gates


def _row_counts(conn: Connection) -> dict[str, int]:
    return {
        target.name: int(conn.execute(select(func.count()).select_from(target)).scalar_one())
        for target in (categories, *WRITE_ORDER)
    }


def target_change_gates(
    before: Mapping[str, int],
    after: Mapping[str, int],
    written: Mapping[str, int],
    deleted: Mapping[str, int],
    limit: ChangeLimit,
) -> list[GateResult]:
    """A target table of which this publish deleted or rewrote more than the limit's share of the rows it held.

    Rows written are inserted or updated; inserted = after - before + deleted, so updated is the rest. An empty
    table (a first migration) has nothing to lose and no gate.
    """
    gates = []
    for name, held in before.items():
        if not held:
            continue
        removed = deleted.get(name, 0)
        inserted = after[name] - held + removed
        rewritten = max(written.get(name, 0) - inserted, 0)
        share = (removed + rewritten) / held
        passed, why = limit.verdict(removed + rewritten, held, emptied=after[name] == 0)
        detail = f"{removed} of {held} rows deleted and {rewritten} rewritten ({share:.1%}); {why}"
        gates.append(GateResult("mass change", name, passed, detail))
    return gates


# --- reconciliation after writing ---------------------------------------------------------------------------


def _row_fingerprint(rows: Select[Any], columns: Sequence[str]) -> Select[Any]:
    """(count, sum of 64-bit hashes of each row's text): equal for two sides holding the same rows the same
    number of times, and for different rows only by a vanishing chance. One scan per side, no join."""
    listed = rows.subquery("listed")
    # A row's text output quotes and separates its fields: (1,,x) and (1,x,) hash apart, as do NULL and ''.
    row_text = cast(tuple_(*(listed.c[name] for name in columns)), Text)
    return select(func.count(), func.coalesce(func.sum(func.hashtextextended(row_text, 0)), 0))


def _mismatches(
    conn: Connection, expected: Select[Any], actual: Select[Any], keys: Sequence[str], values: Sequence[str]
) -> tuple[int, int, list[str]]:
    """Full join of two row sets on their keys: (rows compared, rows that differ, a few examples).

    The two sides' fingerprints are compared first: when they agree, so do the rows, and the join is skipped
    (a million-row join costs several times the two scans). Only when they differ does the join run, and it
    decides: a fingerprint can differ for equal values written differently (2.5 and 2.50).
    """
    columns = [*keys, *values]
    expected_rows, expected_sum = conn.execute(_row_fingerprint(expected, columns)).one()
    actual_rows, actual_sum = conn.execute(_row_fingerprint(actual, columns)).one()
    if (expected_rows, expected_sum) == (actual_rows, actual_sum):
        return int(expected_rows), 0, []
    left, right = expected.subquery("expected"), actual.subquery("actual")
    on = and_(*(left.c[k] == right.c[k] for k in keys))
    differs = or_(*(left.c[v].is_distinct_from(right.c[v]) for v in values))
    compared = select(
        *(func.coalesce(left.c[k], right.c[k]).label(k) for k in keys),
        *(left.c[v].label(f"expected_{v}") for v in values),
        *(right.c[v].label(f"actual_{v}") for v in values),
        differs.label("differs"),
    ).join_from(left, right, on, full=True)
    both = compared.subquery("compared")
    total, differing = conn.execute(select(func.count(), func.count().filter(both.c.differs))).one()
    if not differing:
        return int(total), 0, []
    examples = conn.execute(
        select(both).where(both.c.differs).order_by(*(both.c[k] for k in keys)).limit(EXAMPLES)
    ).all()
    described = []
    for row in examples:
        mapping = row._mapping
        key_text = ", ".join(f"{k} {mapping[k]}" for k in keys)
        value_text = ", ".join(
            f"{v} {mapping[f'expected_{v}']} legacy vs {mapping[f'actual_{v}']} target" for v in values
        )
        described.append(f"({key_text}: {value_text})")
    return int(total), int(differing), described


def _pair_fingerprint(legacy_id: ColumnElement[Any], value: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum of 64-bit hashes of (id, integer value) pairs: each id hashed with its value as the seed, so every
    bit of a bigint id and of the value counts."""
    return func.coalesce(func.sum(func.hashint8extended(cast(legacy_id, BigInteger), cast(value, BigInteger))), 0)


def _quantity_gate(conn: Connection) -> GateResult:
    """Every migrated legacy order kept its legacy quantity: the staged rows the transform classified as
    migrated (staged minus rejected or merged) and the order-items mart hold the same (id, quantity) pairs.

    Compared as fingerprints (one scan of each side, no million-row join); with this, the order-by-order
    comparisons below, taken over the mart's quantities, hold for the legacy quantities too.
    """
    staged = relation(STAGING_SCHEMA, "old_orders", "id", "quantity")
    not_migrated = (
        select(literal(1))
        .select_from(rejects)
        .where(rejects.c.legacy_table == "old_orders", cast(rejects.c.legacy_id, BigInteger) == staged.c.id)
        .exists()
    )
    # A row without an id is always rejected (legacy_id_missing), and no NOT EXISTS can match it by id.
    legacy_side = select(func.count(), _pair_fingerprint(staged.c.id, staged.c.quantity)).where(
        staged.c.id.is_not(None), ~not_migrated
    )
    mart_side = select(
        func.count(), _pair_fingerprint(items_mart.c.legacy_order_id, items_mart.c.quantity)
    ).select_from(items_mart)
    legacy_rows, legacy_sum = conn.execute(legacy_side).one()
    mart_rows, mart_sum = conn.execute(mart_side).one()
    if legacy_rows == mart_rows and legacy_sum == mart_sum:
        detail = f"{mart_rows} orders keep their legacy quantity"
        return GateResult("reconciliation", "quantity per order", True, detail)
    return GateResult(
        "reconciliation",
        "quantity per order",
        False,
        f"{legacy_rows} migrated legacy orders vs {mart_rows} items to publish, and their quantities differ"
        if legacy_rows != mart_rows
        else f"the quantities of the {mart_rows} migrated orders differ between the legacy rows and the items",
    )


def reconciliation_gates(conn: Connection, delete_policy: DeletePolicy) -> list[GateResult]:
    """Business values, legacy side vs target side, order by order and item by item, inside PostgreSQL.

    Legacy side: the legacy orders the transform classified as migrated — their legacy quantity (proven
    equal, order by order, to the mart's by the quantity gate), the unit price parsed from their legacy
    text, and the user and product they were resolved to. Target side: the published orders and items,
    through their surrogate keys back to legacy ids. Each order must keep its user, currency and amount
    (quantity x unit price), each item its product and quantity; so per user the count and the sum of order
    totals agree, and per product the quantity sold. The readings are the transform's, so this proves the
    publish (keys, joins, totals), not the parsing. Under --on-missing keep, target rows whose legacy row no
    longer migrates are left out (reported apart).
    """
    expected_orders = select(
        orders_mart.c.legacy_order_id,
        orders_mart.c.legacy_user_id,
        items_mart.c.currency,
        (items_mart.c.quantity * items_mart.c.unit_price).label("amount"),
    ).join_from(orders_mart, items_mart, items_mart.c.legacy_order_id == orders_mart.c.legacy_order_id)
    actual_orders = select(
        orders.c.legacy_order_id, users.c.legacy_user_id, orders.c.currency, orders.c.total_amount.label("amount")
    ).join_from(orders, users, users.c.user_id == orders.c.user_id)
    expected_items = select(items_mart.c.legacy_order_id, items_mart.c.legacy_product_id, items_mart.c.quantity)
    actual_items = select(items.c.legacy_order_id, products.c.legacy_product_id, items.c.quantity).join_from(
        items, products, products.c.product_id == items.c.product_id
    )
    if delete_policy == "keep":
        actual_orders = actual_orders.where(exists().where(orders_mart.c.legacy_order_id == orders.c.legacy_order_id))
        actual_items = actual_items.where(exists().where(items_mart.c.legacy_order_id == items.c.legacy_order_id))

    gates = [_quantity_gate(conn)]
    for subject, what, expected, actual, values in (
        ("orders per user", "orders", expected_orders, actual_orders, ("legacy_user_id", "currency", "amount")),
        ("items per product", "items", expected_items, actual_items, ("legacy_product_id", "quantity")),
    ):
        total, differing, examples = _mismatches(conn, expected, actual, ("legacy_order_id",), values)
        if differing:
            detail = f"{differing} of {total} {what} differ, e.g. " + "; ".join(examples)
        else:
            detail = f"{total} {what} equal, one by one ({', '.join(values)})"
        gates.append(GateResult("reconciliation", subject, not differing, detail))
    return gates


# --- writing ------------------------------------------------------------------------------------------------


def _sources() -> dict[str, tuple[str, Select[Any]]]:
    """Per target table: its legacy key and the SELECT of its rows from the marts, surrogate keys looked up."""
    return {
        "users": ("legacy_user_id", select(*users_mart.c)),
        "addresses": (
            "user_id",
            select(users.c.user_id, *(c for c in addresses_mart.c if c.name != "legacy_user_id")).join(
                users, users.c.legacy_user_id == addresses_mart.c.legacy_user_id
            ),
        ),
        "products": (
            "legacy_product_id",
            select(
                products_mart.c.legacy_product_id,
                products_mart.c.name,
                products_mart.c.description,
                categories.c.category_id,
                products_mart.c.price,
                products_mart.c.currency,
                products_mart.c.created_at,
            ).outerjoin(categories, categories.c.name == products_mart.c.category_name),
        ),
        "orders": (
            "legacy_order_id",
            select(
                orders_mart.c.legacy_order_id,
                users.c.user_id,
                cast(orders_mart.c.status, orders.c.status.type).label("status"),
                orders_mart.c.ordered_at,
                orders_mart.c.total_amount,
                orders_mart.c.currency,
            ).join(users, users.c.legacy_user_id == orders_mart.c.legacy_user_id),
        ),
        "order_items": (
            "legacy_order_id",
            select(
                items_mart.c.legacy_order_id,
                orders.c.order_id,
                products.c.product_id,
                items_mart.c.quantity,
                items_mart.c.unit_price,
                items_mart.c.currency,
            )
            .join(orders, orders.c.legacy_order_id == items_mart.c.legacy_order_id)
            .join(products, products.c.legacy_product_id == items_mart.c.legacy_product_id),
        ),
    }


def _upsert(conn: Connection, target: Table, key: str, source: Select[Any]) -> int:
    """INSERT … SELECT … ON CONFLICT (key) DO UPDATE of the new and changed rows only; returns rows written.

    The SELECT already leaves out rows equal to the target's (a hash join), so unchanged rows are never
    touched: ON CONFLICT would otherwise lock, and so rewrite, every row it merely compares.
    """
    incoming = source.subquery("incoming")
    names = [c.name for c in incoming.c]
    changing = [name for name in names if name != key]
    existing = target.alias("existing")
    new_or_changed = (
        select(*incoming.c)
        .outerjoin(existing, existing.c[key] == incoming.c[key])
        .where(
            or_(
                existing.c[key].is_(None),
                tuple_(*(existing.c[n] for n in changing)).is_distinct_from(tuple_(*(incoming.c[n] for n in changing))),
            )
        )
    )
    statement = pg_insert(target).from_select(names, new_or_changed)
    statement = statement.on_conflict_do_update(
        index_elements=[key],
        set_={name: statement.excluded[name] for name in changing},
        where=tuple_(*(target.c[n] for n in changing)).is_distinct_from(
            tuple_(*(statement.excluded[n] for n in changing))
        ),
    )
    return int(conn.execute(statement).rowcount)


def _insert_all(conn: Connection, target: Table, key: str, source: Select[Any]) -> int:
    """The bulk path: a plain INSERT … SELECT into the empty table, in legacy-id order.

    The order makes surrogate ids follow legacy ids, as a fresh migration's always do, and lets the key
    indexes be built from presorted rows.
    """
    incoming = source.subquery("incoming")
    statement = insert(target).from_select([c.name for c in incoming.c], select(*incoming.c).order_by(incoming.c[key]))
    return int(conn.execute(statement).rowcount)


def _delete_missing(conn: Connection, target: Table, key: str, source: NamedFromClause, source_key: str) -> int:
    """Delete target rows whose legacy key no longer comes out of the marts."""
    still_there = select(literal(1)).select_from(source).where(source.c[source_key] == target.c[key]).exists()
    return int(conn.execute(delete(target).where(~still_there)).rowcount)


def _count_missing(conn: Connection, target: Table, key: str, source: NamedFromClause, source_key: str) -> int:
    """Under --on-missing keep: how many target rows the marts no longer hold."""
    still_there = select(literal(1)).select_from(source).where(source.c[source_key] == target.c[key]).exists()
    return int(conn.execute(select(func.count()).select_from(target).where(~still_there)).scalar_one())


MISSING_CHECKS = {
    "order_items": (items, "legacy_order_id", items_mart, "legacy_order_id"),
    "orders": (orders, "legacy_order_id", orders_mart, "legacy_order_id"),
    "users": (users, "legacy_user_id", users_mart, "legacy_user_id"),
    "products": (products, "legacy_product_id", products_mart, "legacy_product_id"),
}


def _delete_or_count_missing(
    conn: Connection, delete_policy: DeletePolicy, skip: Iterable[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """Children first. Under `delete`, return rows deleted; under `keep`, rows left in place."""
    deleted: dict[str, int] = {}
    kept: dict[str, int] = {}
    skipped = set(skip)
    address_kept = (
        select(literal(1))
        .select_from(users)
        .join(addresses_mart, addresses_mart.c.legacy_user_id == users.c.legacy_user_id)
        .where(users.c.user_id == addresses.c.user_id)
        .exists()
    )
    for name in ("order_items", "orders", "addresses", "users", "products"):
        if name in skipped:
            continue
        if name == "addresses":
            if delete_policy == "delete":
                deleted[name] = int(conn.execute(delete(addresses).where(~address_kept)).rowcount)
            else:
                count = select(func.count()).select_from(addresses).where(~address_kept)
                kept[name] = int(conn.execute(count).scalar_one())
            continue
        target, key, source, source_key = MISSING_CHECKS[name]
        if delete_policy == "delete":
            deleted[name] = _delete_missing(conn, target, key, source, source_key)
        else:
            kept[name] = _count_missing(conn, target, key, source, source_key)
    return deleted, kept


def _bulk_tables(conn: Connection) -> list[Table]:
    """The tables to write on the bulk path: empty, every key and index of the models present by name, and
    no foreign key from outside the models pointing at them (dropping their keys would break it)."""
    names = [t.name for t in WRITE_ORDER]
    present = set(
        conn.execute(
            text(
                "select conname from pg_constraint where conrelid = any(cast(:tables as regclass[])) "
                "union all select indexname from pg_indexes where schemaname = current_schema() "
                "and tablename = any(:names)"
            ),
            {"tables": names, "names": names},
        ).scalars()
    )
    model_fks = {fk.name for t in WRITE_ORDER for fk in t.foreign_key_constraints}
    outside_refs = set(
        conn.execute(
            text(
                "select confrelid::regclass::text from pg_constraint "
                "where contype = 'f' and confrelid = any(cast(:tables as regclass[])) and not conname = any(:known)"
            ),
            {"tables": names, "known": sorted(str(n) for n in model_fks)},
        ).scalars()
    )
    bulk: list[Table] = []
    for target in WRITE_ORDER:
        keys = _keys_and_indexes(target)
        if target.name in outside_refs or not all(str(k.name) in present for k in keys):
            continue
        if conn.execute(select(exists().select_from(target))).scalar_one():
            continue
        bulk.append(target)
    # A table can only lose its keys if every table that references it is on the bulk path too. The models'
    # foreign keys make that so (a row pointing at an empty table cannot exist), but check rather than trust.
    changed = True
    while changed:
        changed = False
        for target in list(bulk):
            referencing = [t for t in WRITE_ORDER for fk in t.foreign_key_constraints if fk.referred_table is target]
            if any(t not in bulk for t in referencing):
                bulk.remove(target)
                changed = True
    return bulk


def _keys_and_indexes(target: Table) -> list[Any]:
    """The models' primary key, unique constraints, indexes and foreign keys of a table, rebuild order."""
    uniques = [c for c in target.constraints if isinstance(c, UniqueConstraint)]
    return [
        target.primary_key,
        *sorted(uniques, key=lambda c: str(c.name)),
        *sorted(target.indexes, key=lambda i: str(i.name)),
        *sorted(target.foreign_key_constraints, key=lambda c: str(c.name)),
    ]


def _drop_keys(conn: Connection, bulk: Sequence[Table]) -> None:
    """Drop the bulk tables' foreign keys first (they depend on the referenced keys), then keys and indexes."""
    for target in bulk:
        for fk in target.foreign_key_constraints:
            conn.execute(DropConstraint(fk))
    for target in bulk:
        for index in target.indexes:
            conn.execute(DropIndex(index))
        for constraint in _keys_and_indexes(target):
            if not isinstance(constraint, ForeignKeyConstraint) and constraint not in target.indexes:
                conn.execute(DropConstraint(constraint))


def _restore_keys(conn: Connection, bulk: Sequence[Table]) -> None:
    """Rebuild the dropped keys and indexes exactly as the models define them; foreign keys last, validated."""
    for target in bulk:
        for item in _keys_and_indexes(target):
            if item in target.indexes:
                conn.execute(CreateIndex(item))
            elif not isinstance(item, ForeignKeyConstraint):
                conn.execute(AddConstraint(item))
    for target in bulk:
        for fk in target.foreign_key_constraints:
            # One join over the whole table checks every row; the constraint is as the migration created it.
            conn.execute(AddConstraint(fk))
        # Fresh statistics for the reconciliation's joins, which run next in this transaction.
        conn.execute(text(f"analyze {conn.dialect.identifier_preparer.quote(target.name)}"))


def _take_publish_lock(conn: Connection) -> None:
    conn.execute(text(f"set local lock_timeout = '{PUBLISH_LOCK_WAIT}'"))
    try:
        conn.execute(select(func.pg_advisory_xact_lock(LOCK_CLASS, PUBLISH_LOCK)))
    except OperationalError as exc:
        if "lock timeout" not in str(exc.orig):
            raise
        raise PipelineError(
            f"another run has been publishing to this target database for over {PUBLISH_LOCK_WAIT}; "
            "wait for it to finish and retry"
        ) from None
    conn.execute(text("set local lock_timeout = 0"))


def ledger_partition(run_id: int) -> str:
    """The name of the ledger partition that holds one run's entries."""
    return f"{ledger.name}_run_{run_id}"


def _append_ledger(conn: Connection, run_id: int) -> int:
    """Append this run's rejects, merges and warnings to the ledger, which keeps every run.

    They go into a new table without keys, which is then attached as the run's partition of the ledger:
    attaching builds its indexes from the sorted rows and checks the foreign key to the run in one join,
    where inserting into the ledger itself would update both indexes and check the key once per row.
    """
    quote = conn.dialect.identifier_preparer.quote
    name = ledger_partition(run_id)
    conn.execute(text(f"create table {quote(name)} (like {quote(ledger.name)} including defaults)"))
    partition = table(name, *(column(c.name) for c in ledger.c))
    # The partition has no identity of its own: its ids come from the ledger's, so they never repeat. The
    # sequence is looked up once here, not once per row.
    sequence = conn.execute(select(func.pg_get_serial_sequence(ledger.name, ledger.c.ledger_id.name))).scalar_one()
    next_id = func.nextval(cast(literal(sequence), REGCLASS))
    total = 0
    for source_name in QUARANTINE_TABLES:
        source = quarantine(source_name)
        rows = select(
            next_id.label("ledger_id"),
            literal(run_id).label("run_id"),
            source.c.legacy_table,
            source.c.legacy_id,
            cast(source.c.outcome, ledger.c.outcome.type).label("outcome"),
            source.c.stage,
            source.c.reason_code,
            source.c.column_name,
            source.c.raw_value,
            source.c.merged_into_legacy_id,
            source.c.legacy_row.label("raw_row"),
            source.c.evidence,
        )
        total += int(
            conn.execute(insert(partition).from_select([c.name for c in rows.selected_columns], rows)).rowcount
        )
    bounds = f"from ({int(run_id)}) to ({int(run_id) + 1})"  # DDL takes no parameters; two integers
    conn.execute(text(f"alter table {quote(ledger.name)} attach partition {quote(name)} for values {bounds}"))
    return total


def require_current_transform(conn: Connection) -> None:
    """Refuse marts that were not built, whole, from the staging there now.

    Both engines write the staging snapshot's time into dbt_quarantine.transform_stamp, last and only when every
    mart and the quarantine were built (dbt skips it when anything upstream failed): a stage after the last
    transform, or a transform that failed half-way, leaves a stamp that differs from staging's own.
    """
    stamp_exists = conn.execute(
        select(func.to_regclass(f"{QUARANTINE_SCHEMA}.{TRANSFORM_STAMP}").is_not(None))
    ).scalar_one()
    stamp = relation(QUARANTINE_SCHEMA, TRANSFORM_STAMP, "snapshot_taken_at")
    staged = relation(STAGING_SCHEMA, SNAPSHOT_TABLE, "taken_at")
    current = (
        stamp_exists
        and conn.execute(
            select(func.count()).select_from(stamp).where(stamp.c.snapshot_taken_at.in_(select(staged.c.taken_at)))
        ).scalar_one()
        == 1
    )
    if not current:
        raise PipelineError(
            "the marts were not built from the staging there now (a stage ran after the last transform, or the "
            "transform failed part-way): run `make transform` (or `make migrate`) before publishing"
        )


def publish(
    conn: Connection,
    run_id: int,
    delete_policy: DeletePolicy = "delete",
    *,
    budget: RejectBudget | None = None,
    change_limit: ChangeLimit | None = None,
) -> PublishResult:
    """Write the marts into the target tables within the caller's transaction, behind the gates.

    Raises GateFailed (after writing, for the reconciliation) when a gate fails: the caller must then roll
    back, as it must for any exception. The caller commits; a dry run rolls back instead.
    """
    budget = budget or RejectBudget()
    change_limit = change_limit or ChangeLimit()
    _take_publish_lock(conn)
    # Per sort and hash: room for the million-row sorts and joins in memory rather than in temporary files.
    conn.execute(text("set local work_mem = '64MB'"))
    conn.execute(text("set local maintenance_work_mem = '256MB'"))
    # A killed publish's statement stops within seconds instead of running on for nobody.
    conn.execute(text("set local client_connection_check_interval = '2s'"))

    require_current_transform(conn)
    counts = classified_counts(conn)
    gates = [
        *conservation_gates(conn, counts),
        *budget_gates(counts, budget),
        *legacy_shrink_gates(counts, legacy_high_water(conn), change_limit),
    ]
    if not all(gate.passed for gate in gates):
        raise GateFailed(gates)
    held = _row_counts(conn)

    # Foreign keys and secondary unique keys are checked at commit, once every table is in its final state.
    conn.execute(text("set constraints all deferred"))
    bulk = _bulk_tables(conn)
    _drop_keys(conn, bulk)
    bulk_names = {t.name for t in bulk}
    deleted, kept = _delete_or_count_missing(conn, delete_policy, skip=bulk_names)

    written: dict[str, int] = {}
    written["product_categories"] = int(
        conn.execute(
            pg_insert(categories)
            .from_select(["name"], select(categories_mart.c.name))
            .on_conflict_do_nothing(index_elements=["name"])
        ).rowcount
    )
    sources = _sources()
    for target in WRITE_ORDER:
        key, source = sources[target.name]
        write = _insert_all if target in bulk else _upsert
        written[target.name] = write(conn, target, key, source)
    _restore_keys(conn, bulk)
    if delete_policy == "delete":
        used = exists().where(products.c.category_id == categories.c.category_id)
        deleted["product_categories"] = int(conn.execute(delete(categories).where(~used)).rowcount)
    # Reported with the reconciliation's results, so a failed run names every gate that failed.
    gates += target_change_gates(held, _row_counts(conn), written, deleted, change_limit)

    ledger_rows = _append_ledger(conn, run_id)
    gates += reconciliation_gates(conn, delete_policy)
    if not all(gate.passed for gate in gates):
        raise GateFailed(gates)
    return PublishResult(
        written=written,
        deleted=deleted,
        ledger_rows=ledger_rows,
        gates=tuple(gates),
        bulk_tables=tuple(sorted(bulk_names, key=[t.name for t in WRITE_ORDER].index)),
        kept=kept,
    )


def rejected_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Per legacy table, how many rows the marts' run rejected and merged."""
    counts: dict[str, dict[str, int]] = {table_name: {"rejected": 0, "merged": 0} for table_name in LEGACY_TABLE_MARTS}
    rows = conn.execute(
        select(rejects.c.legacy_table, rejects.c.outcome, func.count()).group_by(
            rejects.c.legacy_table, rejects.c.outcome
        )
    )
    for legacy_table, outcome, n in rows:
        counts.setdefault(legacy_table, {})[outcome] = int(n)
    return counts
