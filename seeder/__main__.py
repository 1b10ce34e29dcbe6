"""python -m seeder: fill old_bad_db with generated legacy data in the legacy app's formats."""

from __future__ import annotations

import argparse
import sys
import time

from loader.cli_errors import run_cli
from loader.config import load_settings
from seeder.generate import Sizes
from seeder.seed import seed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m seeder",
        description=(
            "Create the legacy tables (old_users, old_products, old_orders) in the legacy database and fill them "
            "with generated data. Reads OLD_DATABASE_URL or OLD_DB_* from the environment or .env; "
            "with neither, uses the embedded server."
        ),
    )
    parser.add_argument(
        "--size", type=int, default=10_000, help="legacy orders to generate (users: size/5, products: size/50)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed: the same seed and size give the same rows")
    parser.add_argument("--profile", choices=["legacy"], default="legacy", help="which dirt to write")
    parser.add_argument("--replace", action="store_true", help="drop and regenerate legacy tables that hold data")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")

    def run() -> int:
        settings = load_settings()
        started = time.perf_counter()
        result = seed(settings.old, seed_value=args.seed, sizes=Sizes(orders=args.size), replace=args.replace)
        elapsed = time.perf_counter() - started
        total = sum(result.rows.values())
        counts = ", ".join(f"{table} {n}" for table, n in result.rows.items())
        print(f"seeded {settings.old.describe()}: {counts} ({total / elapsed:,.0f} rows/s)")
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
