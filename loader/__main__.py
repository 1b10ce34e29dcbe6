"""python -m loader: the migration pipeline's commands (stage, transform, publish, migrate, db-urls, db-stop)."""

from __future__ import annotations

import argparse
import sys

from loader.cli_errors import run_cli
from loader.config import load_settings

ENVIRONMENT_HELP = (
    "Reads OLD_DATABASE_URL / NEW_DATABASE_URL, or OLD_DB_* / NEW_DB_* (USER, PASSWORD, HOST, PORT, NAME), from "
    "the environment or .env; a side with neither runs on the embedded PostgreSQL server in .pgdata/."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loader",
        description="Migrate the legacy database old_bad_db into new_good_db. " + ENVIRONMENT_HELP,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.default = "stage"

    def add_publish_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--dry-run", action="store_true", help="run up to the gates and report; publish nothing")
        sub.add_argument(
            "--on-missing",
            choices=["delete", "keep"],
            default="delete",
            help="target rows whose legacy row is gone or no longer migrates: delete them (default, converges "
            "to a fresh migration) or keep them",
        )

    migrate = commands.add_parser("migrate", help="the whole job: seed if empty, schema, stage, transform, publish")
    add_publish_options(migrate)
    commands.add_parser("stage", help="(default) copy the legacy tables into new_good_db's staging schema with COPY")
    commands.add_parser("transform", help="dbt build: parse, clean, normalize and test")
    publish = commands.add_parser("publish", help="upsert the dbt marts into the target tables, in one transaction")
    add_publish_options(publish)
    urls = commands.add_parser("db-urls", help="print OLD_DATABASE_URL= and NEW_DATABASE_URL= (no passwords)")
    urls.add_argument("--dbt", action="store_true", help="print the NEW_DB_* exports dbt's profile reads instead")
    commands.add_parser("db-stop", help="stop the embedded PostgreSQL server")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = args.command or "stage"

    def run() -> int:
        if command == "db-stop":
            from loader.config import read_environment
            from loader.embedded import stop_embedded

            stopped = stop_embedded(read_environment())
            print("embedded PostgreSQL stopped" if stopped else "the embedded PostgreSQL server was not running")
            return 0
        settings = load_settings()
        if command == "db-urls":
            if args.dbt:
                for key, value in settings.new.dbt_env().items():
                    if key != "NEW_DB_PASSWORD":
                        print(f"export {key}='{value}'")
            else:
                print(f"OLD_DATABASE_URL={settings.old.display_url()}")
                print(f"NEW_DATABASE_URL={settings.new.display_url()}")
            return 0
        if command == "stage":
            from loader.stage import stage

            counts = stage(settings)
            print("staged: " + ", ".join(f"{table} {n}" for table, n in counts.items()))
            return 0
        if command == "transform":
            from loader.transform import transform

            passed = transform(settings)
            print("dbt build passed: " + ", ".join(f"{n} {kind}s" for kind, n in sorted(passed.items())))
            return 0
        from loader.pipeline import format_summary, migrate, publish_only

        if command == "migrate":
            report = migrate(settings, dry_run=args.dry_run, delete_policy=args.on_missing)
        else:
            report = publish_only(settings, dry_run=args.dry_run, delete_policy=args.on_missing)
        print(format_summary(report))
        return 0

    return run_cli(run)


if __name__ == "__main__":
    sys.exit(main())
