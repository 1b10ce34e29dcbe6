"""The gates that stop a publish: conservation, the error budget, and the mass-change limits on legacy and target."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import BigInteger, Connection, cast, func, literal, or_, select, text, union_all
from sqlalchemy.sql.expression import ColumnElement

from loader.core.contract import (
    CORRECTIONS_TABLE,
    LEGACY_TABLE_MARTS,
    LEGACY_TABLES,
    QUARANTINE_SCHEMA,
    SNAPSHOT_TABLE,
    STAGING_SCHEMA,
    TRANSFORM_STAMP,
    LegacyTableName,
)
from loader.core.db import row_values
from loader.core.errors import PipelineError
from loader.core.models import MigrationRun, table_of
from loader.publish.relations import WRITE_ORDER, categories, mart, rejects, relation

# A legacy table may lose up to half its rows to rejection before publishing stops: enough for a dirty legacy
# database, and a wrong parse rule or a wrong source database (most rows rejected) stops the run.
DEFAULT_MAX_REJECT_SHARE = 0.5


# A legacy table may shrink, and a target table lose or change, up to half its rows in one run before publishing
# stops for a person to confirm: a nightly reload caught half-way, a wrong database or a wrong rule does more.
DEFAULT_MAX_CHANGE_SHARE = 0.5


EXAMPLES = 5


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

    legacy_table: LegacyTableName
    read: int
    # What the stage copied, as its snapshot table records.
    copied: int
    # The rows the legacy server's statistics counted when the copy ended (0 where it keeps none).
    counted: int
    migrated: int
    merged: int
    rejected: int
    staged_fingerprint: int
    classified_fingerprint: int


def _id_hash_sum(legacy_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """A sum of 64-bit hashes of the ids (as bigint): two sides with the same count and the same sum hold the
    same ids the same number of times, but for a vanishing chance. One sequential scan per side, no join."""
    return func.coalesce(func.sum(func.hashint8extended(legacy_id, 0)), 0)


def _snapshot_counts(conn: Connection) -> tuple[dict[str, int], dict[str, int]]:
    """What the stage's snapshot row records per legacy table: rows copied, rows the server's statistics counted."""
    snapshot = f"{STAGING_SCHEMA}.{SNAPSHOT_TABLE}"
    record = None
    if conn.execute(select(func.to_regclass(snapshot).is_not(None))).scalar_one():
        record = conn.execute(text(f"select to_jsonb(snapshot) from {snapshot} as snapshot")).scalar()
    copied, counted = (record or {}).get("rows_copied") or {}, (record or {}).get("rows_counted") or {}
    missing = [name for name in LEGACY_TABLE_MARTS if name not in copied or name not in counted]
    if missing:
        raise PipelineError(
            f"{snapshot} records no copy of {', '.join(missing)}: the staging was not written by this version's "
            "stage, or was changed since; run `python -m loader stage` (or `make migrate`) again"
        )
    return {str(k): int(v) for k, v in copied.items()}, {str(k): int(v) for k, v in counted.items()}


def classified_counts(conn: Connection) -> dict[str, TableCounts]:
    """Per legacy table: staged rows, and migrated / merged / rejected rows, counted inside PostgreSQL."""
    copied, counted = _snapshot_counts(conn)
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
        read, staged_sum = row_values(conn.execute(staged_side).one())
        done, migrated_sum = row_values(conn.execute(migrated_side).one())
        merged, rejected, rejected_sum = row_values(conn.execute(rejected_side).one())
        counts[legacy_table] = TableCounts(
            legacy_table,
            int(read),
            copied[legacy_table],
            counted[legacy_table],
            int(done),
            int(merged),
            int(rejected),
            int(staged_sum),
            int(migrated_sum) + int(rejected_sum),
        )
    return counts


def _conservation_examples(conn: Connection, legacy_table: LegacyTableName) -> str:
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
        if c.copied != c.read:
            detail = (
                f"the stage copied {c.copied} rows but staging.{legacy_table} holds {c.read} (emptied by a "
                "server crash? staging tables are unlogged): run the stage again"
            )
            gates.append(GateResult("conservation", legacy_table, False, detail))
        elif c.read != c.migrated + c.merged + c.rejected:
            detail = sums.replace(" = ", " ≠ ") + "; ids: " + _conservation_examples(conn, c.legacy_table)
            gates.append(GateResult("conservation", legacy_table, False, detail))
        elif c.staged_fingerprint != c.classified_fingerprint:
            detail = f"{sums}, but not by id: " + _conservation_examples(conn, c.legacy_table)
            gates.append(GateResult("conservation", legacy_table, False, detail))
        else:
            gates.append(GateResult("conservation", legacy_table, True, sums + ", every id once"))
    return gates


def correction_gates(conn: Connection) -> list[GateResult]:
    """The per-row corrections, checked apart from the transform that applied them: every correction stage copied
    is in the quarantine once (applied, stale or unparseable: none lost), and every applied one is a staged one
    (the same raw and corrected values) naming a legacy row that the staging holds once, with the raw value the
    correction names. A correction applied to a row that no longer held its raw value would rewrite a value nobody
    looked at."""
    staged = f"{STAGING_SCHEMA}.{CORRECTIONS_TABLE}"
    if not conn.execute(select(func.to_regclass(staged).is_not(None))).scalar_one():
        raise PipelineError(f"{staged} does not exist: run `python -m loader stage` (or `make migrate`) again")
    corrections = f"{QUARANTINE_SCHEMA}.{CORRECTIONS_TABLE}"
    copied = int(conn.execute(text(f"select count(*) from {staged}")).scalar_one())
    by_reason = dict(
        map(row_values, conn.execute(text(f"select reason_code, count(*) from {corrections} group by reason_code")))
    )
    recorded = sum(int(n) for n in by_reason.values())
    # Each correction once: the staged key (table, id, column) and the quarantine's, compared as sets.
    unmatched = int(
        conn.execute(
            text(
                f"select count(*) from {staged} as staged full join {corrections} as recorded "
                "on staged.legacy_table = recorded.legacy_table and staged.legacy_id = recorded.legacy_id "
                "and staged.column_name = recorded.column_name "
                "where staged.legacy_id is null or recorded.legacy_id is null"
            )
        ).scalar_one()
    )
    applied = int(by_reason.get("correction_applied", 0))
    sums = (
        f"{copied} corrections = {applied} applied + {int(by_reason.get('correction_stale', 0))} stale + "
        f"{int(by_reason.get('correction_unparseable', 0))} unparseable"
    )
    gates = [
        GateResult(
            "conservation",
            "corrections",
            copied == recorded and unmatched == 0,
            sums
            if copied == recorded and unmatched == 0
            else f"{copied} staged corrections, {recorded} in "
            f"{corrections}, {unmatched} of them not on both sides: run the transform again",
        )
    ]
    not_held = []
    for legacy_table in LEGACY_TABLES:
        legacy = f"{STAGING_SCHEMA}.{legacy_table}"
        # Set-based: the applied corrections' staged lines, and the staged legacy rows of their ids, grouped once.
        # The values compared are the staged ones (what the files say), never the transform's copy of them.
        ids: Sequence[int] = (
            conn.execute(
                text(
                    f"""
                    with applied as (
                        select recorded.legacy_id, recorded.column_name, recorded.raw_value as recorded_raw,
                            recorded.evidence ->> 'corrected_value' as recorded_corrected, staged.legacy_id is not null
                                as is_staged, staged.raw_value, staged.corrected_value
                        from {corrections} as recorded
                        left join {staged} as staged
                            on staged.legacy_table = recorded.legacy_table and staged.legacy_id = recorded.legacy_id
                            and staged.column_name = recorded.column_name
                        where recorded.outcome = 'corrected' and recorded.legacy_table = :legacy_table
                    ),
                    legacy_rows as (
                        select legacy.id::bigint as legacy_id, count(*) as copies,
                            (array_agg(to_jsonb(legacy.*)))[1] as legacy_row
                        from {legacy} as legacy
                        where legacy.id in (select applied.legacy_id from applied)
                        group by legacy.id
                    )
                    select applied.legacy_id
                    from applied
                    left join legacy_rows on legacy_rows.legacy_id = applied.legacy_id
                    where not coalesce(
                        applied.is_staged
                        and applied.recorded_raw is not distinct from applied.raw_value
                        and applied.recorded_corrected is not distinct from applied.corrected_value
                        and legacy_rows.copies = 1
                        and (legacy_rows.legacy_row ->> applied.column_name) is not distinct from applied.raw_value,
                        false
                    )
                    order by applied.legacy_id
                    """
                ),
                {"legacy_table": legacy_table},
            )
            .scalars()
            .all()
        )
        not_held += [f"{legacy_table} {legacy_id}" for legacy_id in ids]
    detail = (
        f"each of the {applied} applied corrections is a staged one whose legacy row holds its raw value"
        if not not_held
        else f"{len(not_held)} applied corrections are not a staged one, or name a row that does not hold its raw "
        "value, e.g. " + ", ".join(not_held[:EXAMPLES])
    )
    gates.append(GateResult("conservation", "corrections applied", not not_held, detail))
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
    return {str(key): (int(most), int(run_id)) for key, most, run_id in map(row_values, conn.execute(query))}


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
        server = c.counted
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


def row_counts(conn: Connection) -> dict[str, int]:
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


def rejected_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Per legacy table, how many rows the marts' run rejected and merged."""
    counts: dict[str, dict[str, int]] = {table_name: {"rejected": 0, "merged": 0} for table_name in LEGACY_TABLE_MARTS}
    rows = conn.execute(
        select(rejects.c.legacy_table, rejects.c.outcome, func.count()).group_by(
            rejects.c.legacy_table, rejects.c.outcome
        )
    )
    for legacy_table, outcome, n in map(row_values, rows):
        counts.setdefault(legacy_table, {})[outcome] = int(n)
    return counts
