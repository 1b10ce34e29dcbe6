"""The target schema of `new_good_db`: SQLAlchemy 2.0 models, the one source for Alembic and the publish step."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic revisions and `alembic check` never depend on server-generated ones.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)
# Foreign keys and the secondary unique keys are deferrable: the publish step defers them to its commit, so a
# converging run may delete, re-point and re-insert rows in any order within its one transaction.
DEFERRABLE: dict[str, Any] = {"deferrable": True, "initially": "IMMEDIATE"}
# Legacy ids as bigint: a legacy table may key its rows with bigint, and an id over 2^31 must fit unchanged.
LegacyId = BigInteger
# Legacy timestamps carry no zone; storing them as `timestamp without time zone` invents none.
LegacyTimestamp = DateTime(timezone=False)
CURRENCY_CHECK = "currency ~ '^[A-Z]{3}$'"
COUNTRY_CODE_CHECK = "country_code ~ '^[A-Z]{2}$'"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class OrderStatus(enum.Enum):
    pending = "pending"
    processing = "processing"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"
    returned = "returned"


class LedgerOutcome(enum.Enum):
    rejected = "rejected"
    merged = "merged"
    warning = "warning"
    # A person's correction of one legacy value, applied (corrections/<legacy table>.csv).
    corrected = "corrected"


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        UniqueConstraint("username", **DEFERRABLE),
        UniqueConstraint("email", **DEFERRABLE),
    )

    user_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    legacy_user_id: Mapped[int] = mapped_column(LegacyId, unique=True)
    username: Mapped[str] = mapped_column(String(50))
    # Normalized (trimmed, lower-case); unique because duplicates are merged before publishing.
    email: Mapped[str | None] = mapped_column(String(100))
    full_name: Mapped[str | None] = mapped_column(String(100))
    # E.164 where the legacy value allows it, else the legacy text as it was (see docs/cleaning-rules.md).
    phone: Mapped[str | None] = mapped_column(String(32))
    registered_at: Mapped[datetime | None] = mapped_column(LegacyTimestamp)
    # Never migrated: legacy users had none, so every migrated user must set one through a reset.
    password_hash: Mapped[str | None] = mapped_column(Text)


class Address(Base):
    __tablename__ = "addresses"
    __table_args__ = (CheckConstraint(COUNTRY_CODE_CHECK, name="country_code_alpha_2"),)

    address_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", ondelete="CASCADE", **DEFERRABLE), unique=True)
    # Street, city and country are free text in the legacy data: text, so no cast can ever cut them short.
    street: Mapped[str | None] = mapped_column(Text)
    city: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str | None] = mapped_column(String(50))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    # The country as the legacy address wrote it, for audit; country_code is its ISO 3166-1 alpha-2 code, NULL
    # where none was written or the spelling is unknown (rule A1, docs/cleaning-rules.md).
    country: Mapped[str | None] = mapped_column(Text)
    country_code: Mapped[str | None] = mapped_column(String(2))
    # The legacy text the parts came from, so a split can always be checked against its source.
    address_raw: Mapped[str] = mapped_column(Text)


class ProductCategory(Base):
    __tablename__ = "product_categories"
    __table_args__ = (CheckConstraint("name <> '' and name = btrim(name)", name="name_trimmed"),)

    category_id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint(CURRENCY_CHECK, name="currency_code"),
        CheckConstraint("(price is null) = (currency is null)", name="price_has_currency"),
    )

    product_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    legacy_product_id: Mapped[int] = mapped_column(LegacyId, unique=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("product_categories.category_id", **DEFERRABLE), index=True
    )
    price: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    created_at: Mapped[datetime | None] = mapped_column(LegacyTimestamp)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("total_amount >= 0", name="total_not_negative"),
        CheckConstraint(CURRENCY_CHECK, name="currency_code"),
    )

    order_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    legacy_order_id: Mapped[int] = mapped_column(LegacyId, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.user_id", **DEFERRABLE), index=True)
    status: Mapped[OrderStatus] = mapped_column(Enum(OrderStatus, name="order_status"))
    ordered_at: Mapped[datetime] = mapped_column(LegacyTimestamp)
    total_amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
        CheckConstraint(CURRENCY_CHECK, name="currency_code"),
    )

    order_item_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # A legacy order row is one order with one item, so its id keys the item too.
    legacy_order_id: Mapped[int] = mapped_column(LegacyId, unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.order_id", ondelete="CASCADE", **DEFERRABLE), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.product_id", **DEFERRABLE), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))


# How a run ends: `published` (migrate or publish committed), `planned` (a dry run: gates checked, nothing
# published), `staged` / `transformed` (a stage or transform command on its own), `failed` (an error, a failed
# gate, or a run found abandoned — killed — by the next one). `running` while it runs.
RunStatus = Literal["running", "published", "planned", "staged", "transformed", "failed"]
RunCommand = Literal["migrate", "stage", "transform", "publish"]
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
RUN_COMMANDS: tuple[RunCommand, ...] = get_args(RunCommand)


def _one_of(column_name: str, values: tuple[str, ...]) -> str:
    return f"{column_name} in ({', '.join(repr(value) for value in values)})"


class MigrationRun(Base):
    """One run of the pipeline: which command, when, how it ended, and its row counts (in `summary`)."""

    __tablename__ = "migration_runs"
    __table_args__ = (
        CheckConstraint(_one_of("status", RUN_STATUSES), name="status_known"),
        CheckConstraint(_one_of("command", RUN_COMMANDS), name="command_known"),
    )

    run_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    command: Mapped[str] = mapped_column(String(20), server_default="migrate")
    # Audit times of the run itself, not data: the clock is the right source here.
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(20))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)


class LedgerEntry(Base):
    """What happened to a legacy row that was not migrated as it stood: rejected, merged, or repaired.

    Partitioned by run, one partition per publish (`migration_ledger_run_<run id>`): publish fills a fresh
    table without keys and attaches it, which builds its indexes and checks its foreign key in one pass each
    instead of row by row, and a run's entries can later be dropped with their partition.
    """

    __tablename__ = "migration_ledger"
    __table_args__ = (Index(None, "legacy_table", "legacy_id", "run_id"), {"postgresql_partition_by": "RANGE (run_id)"})

    # A partitioned table's primary key must hold the partition key.
    ledger_id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("migration_runs.run_id"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    legacy_table: Mapped[str] = mapped_column(String(63))
    # NULL for a legacy row rejected because it had no id (reason legacy_id_missing): its raw_row still says which.
    legacy_id: Mapped[int | None] = mapped_column(LegacyId)
    outcome: Mapped[LedgerOutcome] = mapped_column(Enum(LedgerOutcome, name="ledger_outcome"))
    stage: Mapped[str] = mapped_column(String(30))
    reason_code: Mapped[str] = mapped_column(String(50))
    column_name: Mapped[str | None] = mapped_column(String(63))
    raw_value: Mapped[str | None] = mapped_column(Text)
    merged_into_legacy_id: Mapped[int | None] = mapped_column(LegacyId)
    # What an inferred or compared value rests on (rule M4: the reading taken and the price it agrees with).
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    raw_row: Mapped[dict[str, Any]] = mapped_column(JSONB)


def table_of(model: type[Base]) -> Table:
    """A model's Table, typed as one (`__table__` is declared as a mere FromClause)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table
