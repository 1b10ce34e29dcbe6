"""python -m seeder: fill old_bad_db with generated legacy data and its answer key; `score` grades a migration.

One small handler per command over the seeder's functions; the only place that prints."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from loader.core.cli import run_cli
from loader.core.config import load_settings
from loader.core.contract import PROJECT_ROOT
from loader.core.log import add_verbosity_options, configure_logging, verbosity_of
from seeder.catalogue import DEFAULT_PROFILE, PROFILES
from seeder.generate import Sizes

ENVIRONMENT_HELP = (
    "Reads OLD_DATABASE_URL / NEW_DATABASE_URL or OLD_DB_* / NEW_DB_* from the environment or .env; "
    "with neither, uses the embedded server. Generated data goes only into the embedded server's old_bad_db, "
    "unless --configured-database names the configured legacy database."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m seeder",
        description=(
            "Create the legacy tables (old_users, old_products, old_orders) in the legacy database, fill them with "
            "generated data written through the dirt catalogue (docs/dirt-catalogue.md), and write the answer key "
            "(schema answer_key) beside them. " + ENVIRONMENT_HELP
        ),
    )
    parser.add_argument(
        "--size", type=int, default=10_000, help="legacy orders to generate (users: size/5, products: size/50)"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed: the same seed and size give the same rows")
    parser.add_argument(
        "--profile",
        choices=list(PROFILES),
        default=DEFAULT_PROFILE,
        help="legacy: only what the legacy app itself wrote; dirty (default): every pattern of the dirt catalogue; "
        "wild: every value through a random combination of the grammar's choices (docs/dirt-catalogue.md)",
    )
    parser.add_argument("--replace", action="store_true", help="drop and regenerate legacy tables that hold data")
    parser.add_argument(
        "--if-empty",
        action="store_true",
        help="seed only the embedded demo (both sides on the embedded server), and only when its legacy tables are "
        "missing or empty; otherwise do nothing (what `make migrate` runs first)",
    )
    parser.add_argument(
        "--configured-database",
        metavar="NAME",
        help="write generated data into the configured (non-embedded) legacy database, which must be named NAME: "
        "for a scratch database of your own, never a real legacy database",
    )
    add_verbosity_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    score = commands.add_parser(
        "score",
        help="compare new_good_db with the answer key; write reports/score.json and reports/score.md",
        description="Grade the last published migration in new_good_db against the answer key in old_bad_db. "
        + ENVIRONMENT_HELP,
    )
    score.add_argument(
        "--reports", type=Path, default=PROJECT_ROOT / "reports", help="folder for score.json and score.md"
    )
    add_verbosity_options(score)
    score.set_defaults(handler=_score)
    catalogue = commands.add_parser("catalogue", help="print the dirt catalogue as markdown (docs/dirt-catalogue.md)")
    catalogue.set_defaults(handler=_catalogue)
    return parser


def _catalogue(args: argparse.Namespace) -> int:
    from seeder.catalogue import markdown

    sys.stdout.write(markdown())
    return 0


def _score(args: argparse.Namespace) -> int:
    from seeder.score import score

    sys.stdout.write(score(load_settings(), args.reports))
    return 0


def _seed(args: argparse.Namespace) -> int:
    from seeder.seed import LegacyDataExists, NotADemoDatabase, seed

    settings = load_settings()
    old = settings.old
    if args.if_empty and settings.new.origin != "embedded":
        # What `make migrate` runs first: demo data is never migrated into a configured target.
        print(f"the target database is configured ({settings.new.describe()}): the demo is not seeded")
        return 0
    if old.origin != "embedded" and args.configured_database != old.name:
        named = f" (--configured-database names {args.configured_database})" if args.configured_database else ""
        raise NotADemoDatabase(
            f"the legacy database {old.describe()} is configured in .env or the environment{named}: the seeder "
            "writes generated data only into the embedded server's demo database; to fill a scratch database "
            f"of your own anyway, name it: python -m seeder --configured-database {old.name}"
        )
    started = time.perf_counter()
    try:
        result = seed(
            old,
            seed_value=args.seed,
            sizes=Sizes(orders=args.size),
            replace=args.replace,
            profile=args.profile,
            schema=settings.legacy_schema,
        )
    except LegacyDataExists:
        if args.if_empty:
            return 0
        raise
    elapsed = time.perf_counter() - started
    total = sum(result.rows.values())
    counts = ", ".join(f"{table} {n}" for table, n in result.rows.items())
    print(
        f"seeded {old.describe()} (profile {args.profile}, seed {args.seed}): {counts}; "
        f"answer key: {result.answer_rows} rows in schema answer_key"
    )
    print(f"seeder: {total:,} legacy rows in {elapsed:.1f} s ({total / elapsed:,.0f} rows/s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    configure_logging(verbosity_of(args))
    # No subcommand seeds: `python -m seeder` is `make seed`.
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", _seed)
    return run_cli(lambda: handler(args))


if __name__ == "__main__":
    sys.exit(main())
