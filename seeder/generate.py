"""Canonical entities first, then their rendering in the legacy app's own formats.

Faker is called only to fill pools at start; rows draw from the pools with one seeded generator,
so the same seed and size always give the same rows, and the cost per row stays small.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from faker import Faker

Row = tuple[object, ...]

CATEGORIES = ("Electronics", "Books", "Home Goods", "Apparel", "Sports")
# How the legacy app wrote each category: the canonical name or one of its variants.
LEGACY_CATEGORY_SPELLINGS = {
    "Electronics": ("Electronics", "electronics"),
    "Books": ("Books", "libros"),
    "Home Goods": ("Home Goods",),
    "Apparel": ("Apparel", " ropa "),
    "Sports": ("Sports",),
}
STATUSES = ("pending", "processing", "shipped", "delivered", "cancelled", "returned")
LEGACY_STATUS_SPELLINGS = {
    "pending": ("pending", "Pending"),
    "processing": ("PROCESSING",),
    "shipped": ("shipped", "Shipped"),
    "delivered": ("delivered", "DELIVERED"),
    "cancelled": ("cancelled",),
    "returned": ("Returned?",),
}
EPOCH_START = datetime(2015, 1, 1)
EPOCH_END = datetime(2024, 6, 30)
POOL_SIZE = 2000


@dataclass(frozen=True)
class Sizes:
    orders: int

    @property
    def users(self) -> int:
        return max(1, self.orders // 5)

    @property
    def products(self) -> int:
        return max(1, self.orders // 50)


@dataclass(frozen=True)
class User:
    id: int
    username: str
    email: str | None
    registered_at: datetime


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    price: Decimal
    currency: str
    price_suffix: bool


class Pools:
    """Faker values drawn once; everything per row picks from these."""

    def __init__(self, faker: Faker) -> None:
        self.first_names = [faker.first_name() for _ in range(POOL_SIZE)]
        self.last_names = [faker.last_name() for _ in range(POOL_SIZE)]
        self.user_names = [faker.user_name() for _ in range(POOL_SIZE)]
        self.domains = [faker.free_email_domain() for _ in range(50)]
        self.streets = [faker.street_address() for _ in range(POOL_SIZE)]
        self.cities = [faker.city() for _ in range(POOL_SIZE)]
        self.states = [faker.state_abbr() for _ in range(60)]
        self.zips = [faker.zipcode() for _ in range(POOL_SIZE)]
        # The legacy column is varchar(20): the legacy app cut longer numbers, and so does the seeder.
        self.phones = [faker.phone_number()[:20] for _ in range(POOL_SIZE)]
        self.sentences = [faker.sentence(nb_words=12) for _ in range(POOL_SIZE)]
        self.adjectives = sorted({faker.word(part_of_speech="adjective").title() for _ in range(400)})
        self.nouns = sorted({faker.word(part_of_speech="noun").title() for _ in range(800)})


def _timestamp_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max(60, int((end - start).total_seconds()))
    return (start + timedelta(seconds=rng.randrange(span))).replace(second=0, microsecond=0)


def _money(amount: Decimal, currency: str, suffix: bool) -> str:
    return f"{amount:.2f} {currency}" if suffix or currency != "USD" else f"{amount:.2f}"


def generate_users(rng: random.Random, pools: Pools, count: int) -> tuple[list[User], list[Row]]:
    users: list[User] = []
    rows: list[Row] = []
    for user_id in range(1, count + 1):
        first, last = rng.choice(pools.first_names), rng.choice(pools.last_names)
        username = f"{rng.choice(pools.user_names)}{user_id}"
        email = None if rng.random() < 0.03 else f"{first}.{last}{user_id}@{rng.choice(pools.domains)}".lower()
        registered_at = _timestamp_between(rng, EPOCH_START, EPOCH_END - timedelta(days=30))
        address = None
        if rng.random() > 0.02:
            address = (
                f"{rng.choice(pools.streets)}, {rng.choice(pools.cities)}, "
                f"{rng.choice(pools.states)} {rng.choice(pools.zips)}, USA"
            )
        users.append(User(user_id, username, email, registered_at))
        rows.append(
            (
                user_id,
                username,
                email,
                f"{first} {last}",
                registered_at.strftime("%Y-%m-%d %H:%M"),
                address,
                rng.choice(pools.phones),
            )
        )
    return users, rows


def generate_products(rng: random.Random, pools: Pools, count: int) -> tuple[list[Product], list[Row]]:
    products: list[Product] = []
    rows: list[Row] = []
    used: set[str] = set()
    for product_id in range(1, count + 1):
        name = f"{rng.choice(pools.adjectives)} {rng.choice(pools.nouns)}"
        if name in used:
            name = f"{name} {product_id}"
        used.add(name)
        currency = "EUR" if rng.random() < 0.15 else "USD"
        price = Decimal(rng.randrange(100, 50000)) / 100
        product = Product(product_id, name, price, currency, price_suffix=rng.random() < 0.4)
        category = rng.choice(CATEGORIES)
        created = _timestamp_between(rng, EPOCH_START, EPOCH_END)
        products.append(product)
        rows.append(
            (
                product_id,
                name,
                rng.choice(pools.sentences),
                _money(price, currency, product.price_suffix),
                rng.choice(LEGACY_CATEGORY_SPELLINGS[category]),
                created.strftime("%d/%m/%Y"),
            )
        )
    return products, rows


def generate_orders(rng: random.Random, users: list[User], products: list[Product], count: int) -> Iterator[Row]:
    """Orders are streamed: only users and products are held in memory, whatever the size."""
    for order_id in range(1, count + 1):
        user = rng.choice(users)
        product = rng.choice(products)
        by_email = user.email is not None and rng.random() < 0.1
        ordered_at = _timestamp_between(rng, user.registered_at, EPOCH_END)
        order_date = ordered_at.strftime("%m/%d/%Y %I:%M %p") if rng.random() < 0.4 else f"{ordered_at:%Y-%m-%d}"
        quantity = rng.randint(1, 5)
        total = (
            "N/A" if rng.random() < 0.1 else _money(product.price * quantity, product.currency, product.price_suffix)
        )
        yield (
            order_id,
            user.email if by_email else user.username,
            order_date,
            rng.choice(LEGACY_STATUS_SPELLINGS[rng.choice(STATUSES)]),
            product.name,
            quantity,
            _money(product.price, product.currency, product.price_suffix),
            total,
        )


def generate(seed: int, sizes: Sizes) -> tuple[list[Row], list[Row], Iterator[Row]]:
    """Rows for old_users, old_products and old_orders; the same seed and sizes give the same rows."""
    faker = Faker("en_US")
    faker.seed_instance(seed)
    rng = random.Random(seed)
    pools = Pools(faker)
    users, user_rows = generate_users(rng, pools, sizes.users)
    products, product_rows = generate_products(rng, pools, sizes.products)
    return user_rows, product_rows, generate_orders(rng, users, products, sizes.orders)
