"""Canonical entities first, then their legacy rendering through the dirt patterns, a chunk at a time.

Every random number comes from numpy generators seeded with (seed, table, chunk), and Faker only fills the
pools once: the same seed and size give the same bytes, whatever the machine, and the work per row is a few
list operations. Users and products are planned whole (orders pick any of them, and second registrations or
shared names pair rows across the table); orders stream in chunks, so memory does not grow with their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from seeder import orders as order_rows
from seeder import products as product_rows
from seeder import users as user_rows
from seeder.catalogue import LegacyTable, Profile
from seeder.pools import build_pools

Row = tuple[object, ...]
CHUNK_ROWS = 50_000
USERS_STREAM, PRODUCTS_STREAM, ORDERS_STREAM = 1, 2, 3


@dataclass(frozen=True)
class Sizes:
    orders: int

    @property
    def users(self) -> int:
        return max(1, self.orders // 5)

    @property
    def products(self) -> int:
        return max(1, self.orders // 50)

    @property
    def total(self) -> int:
        return self.orders + self.users + self.products


@dataclass(frozen=True)
class Chunk:
    """Rows of one legacy table and the answer-key rows that describe them, in the same order."""

    table: LegacyTable
    legacy_rows: list[Row]
    answer_rows: list[Row]


def _rng(seed: int, stream: int, chunk: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, stream, chunk])


def generate(seed: int, sizes: Sizes, profile: Profile) -> Iterator[Chunk]:
    """The legacy tables and their answer key, chunk by chunk: old_users, then old_products, then old_orders."""
    pools = build_pools(seed)

    plan = user_rows.plan_users(_rng(seed, USERS_STREAM), sizes.users, profile)
    usernames: list[str] = []
    raw_emails: list[str | None] = []
    email_valid, survivors, registered_day = [], [], []
    for start in range(0, sizes.users, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, sizes.users)
        batch = user_rows.canonical_users(plan, pools, start, stop)
        forms = {column: codes[start:stop] for column, codes in plan.forms.items()}
        rendered = user_rows.render_users(batch, forms, plan.picks[start:stop], plan.merged_into[start:stop])
        usernames += rendered.usernames
        raw_emails += rendered.raw_emails
        email_valid.append(rendered.email_valid)
        survivors.append(rendered.survivor_ids)
        registered_day.append(rendered.registered_day)
        yield Chunk("old_users", rendered.legacy_rows, rendered.answer_rows)
    users = order_rows.UserIndex(
        usernames=np.array(usernames, dtype=object),
        raw_emails=np.array(raw_emails, dtype=object),
        email_valid=np.concatenate(email_valid),
        survivor_ids=np.concatenate(survivors),
        registered_day=np.concatenate(registered_day),
        registered_at=plan.registered_at,
    )
    del usernames, raw_emails

    catalogue_plan = product_rows.plan_products(_rng(seed, PRODUCTS_STREAM), pools, sizes.products, profile)
    rendered_products = product_rows.render_products(
        catalogue_plan.products, catalogue_plan.forms, catalogue_plan.picks
    )
    yield Chunk("old_products", rendered_products.legacy_rows, rendered_products.answer_rows)
    products = order_rows.ProductIndex(
        names=np.array([p.name for p in catalogue_plan.products], dtype=object),
        migrated=rendered_products.migrated,
        price_cents=rendered_products.price_cents,
        currency=np.array(rendered_products.currency, dtype=object),
        true_cents=np.array([p.price_cents for p in catalogue_plan.products], dtype=np.int64),
        true_currency=np.array([p.currency for p in catalogue_plan.products], dtype=object),
        partner=catalogue_plan.partner,
        named_currency=np.array(rendered_products.named_currency, dtype=object),
    )

    for chunk, start in enumerate(range(0, sizes.orders, CHUNK_ROWS)):
        count = min(CHUNK_ROWS, sizes.orders - start)
        order_batch, forms, picks = order_rows.plan_orders(
            _rng(seed, ORDERS_STREAM, chunk), start + 1, count, profile, users, products
        )
        rendered_orders = order_rows.render_orders(order_batch, forms, picks, users, products)
        yield Chunk("old_orders", rendered_orders.legacy_rows, rendered_orders.answer_rows)
