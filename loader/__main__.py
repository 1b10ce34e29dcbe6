"""python -m loader: the migration pipeline's commands (migrate, schema, stage, transform, publish, docs, review,
db-urls, db-stop), one small handler each over the pipeline's functions; the only place that prints."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from loader.core.cli import EXIT_FAILURE, run_cli
from loader.core.config import load_settings
from loader.core.contract import LEGACY_TABLES
from loader.core.log import add_verbosity_options, configure_logging, verbosity_of
from loader.publish.gates import DEFAULT_MAX_CHANGE_SHARE
from loader.publish.ledger import DEFAULT_KEEP_RUNS

if TYPE_CHECKING:
    from loader.pipeline import RunOptions

Handler = Callable[[argparse.Namespace], int]

ENVIRONMENT_HELP = (
    "Reads OLD_DATABASE_URL / NEW_DATABASE_URL, or OLD_DB_* / NEW_DB_* (USER, PASSWORD, HOST, PORT, NAME), from "
    "the environment or .env; a side with neither runs on the embedded PostgreSQL server in .pgdata/. "
    "LEGACY_MIGRATE_REPORT_DIR moves the run report (and the docs site) out of reports/; DBT_TARGET_PATH and "
    "DBT_LOG_PATH move dbt's artefacts and log out of dbt_project/; CORRECTIONS_DIR names the folder of per-row "
    "corrections (default corrections/, read by stage)."
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad option ends like every other bad setting: one `error:` line and exit code 2."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(EXIT_FAILURE)


def _share(text: str) -> float:
    try:
        value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a share: write 0.5 or 50%") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (0% and 100%)")
    return value


def _run_count(text: str) -> int:
    """A number of runs, 1 or more: the run being published is always kept."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of runs") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is less than 1: the run being published is always kept")
    return value


def _budget_entry(text: str) -> tuple[str | None, float]:
    """`0.2` (every legacy table) or `old_orders=0.2` (one table)."""
    table, equals, share = text.rpartition("=")
    if not equals:
        return None, _share(text)
    if table not in LEGACY_TABLES:
        raise argparse.ArgumentTypeError(f"{table!r} is no legacy table (one of {', '.join(LEGACY_TABLES)})")
    return table, _share(share)


# --- one handler per command: parsed options in, the pipeline called, what a person reads printed ------------


def _run_options(args: argparse.Namespace) -> RunOptions:
    """The parsed options as the pipeline's RunOptions; a command without an option gets its default."""
    from loader.pipeline import RunOptions
    from loader.publish.gates import DEFAULT_MAX_REJECT_SHARE, ChangeLimit, RejectBudget
    from loader.runs.report import default_report_dir

    entries = getattr(args, "max_reject_share", [])
    defaults = [share for table, share in entries if table is None]
    return RunOptions(
        dry_run=getattr(args, "dry_run", False),
        delete_policy=getattr(args, "on_missing", "delete"),
        budget=RejectBudget(
            default=defaults[-1] if defaults else DEFAULT_MAX_REJECT_SHARE,
            per_table={table: share for table, share in entries if table is not None},
        ),
        wait=getattr(args, "wait", False),
        report_dir=getattr(args, "report_dir", None) or default_report_dir(),
        engine=getattr(args, "engine", "dbt"),
        strict_dates=getattr(args, "strict_dates", False),
        keep_runs=getattr(args, "keep_runs", DEFAULT_KEEP_RUNS),
        change_limit=ChangeLimit(
            share=getattr(args, "max_change_share", DEFAULT_MAX_CHANGE_SHARE),
            allowed=getattr(args, "allow_mass_change", False),
        ),
    )


def _migrate(args: argparse.Namespace) -> int:
    from loader.pipeline import format_summary, migrate

    options = _run_options(args)
    print(format_summary(migrate(load_settings(), options), options.report_dir))
    return 0


def _publish(args: argparse.Namespace) -> int:
    from loader.pipeline import format_summary, publish_only

    options = _run_options(args)
    print(format_summary(publish_only(load_settings(), options), options.report_dir))
    return 0


def _stage(args: argparse.Namespace) -> int:
    from loader.pipeline import stage_only

    report = stage_only(load_settings(), _run_options(args))
    print(f"run {report.run_id}: staged " + ", ".join(f"{t} {n}" for t, n in report.rows_read.items()))
    return 0


def _transform(args: argparse.Namespace) -> int:
    from loader.pipeline import transform_only

    options = _run_options(args)
    passed = transform_only(load_settings(), options)
    if options.engine in ("pandas", "dask"):
        print(f"{options.engine} transform wrote: " + ", ".join(f"{table} {n}" for table, n in passed.items()))
    else:
        print("dbt build passed: " + ", ".join(f"{n} {kind}s" for kind, n in sorted(passed.items())))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from loader.pipeline import upgrade_schema

    settings = load_settings()
    upgraded = upgrade_schema(settings)
    done = f" (upgraded {upgraded})" if upgraded else ""
    print(f"target schema of {settings.new.describe()} is at the latest revision{done}")
    return 0


def _docs(args: argparse.Namespace) -> int:
    from loader.pipeline import generate_docs
    from loader.runs.report import default_report_dir

    settings = load_settings()
    index = generate_docs(settings, (args.report_dir or default_report_dir()) / "docs")
    print(
        f"dbt docs of {settings.new.describe()}: {index} (static_index.html beside it opens from disk; "
        "manifest.json and catalog.json hold the data dictionary)"
    )
    return 0


def _review(args: argparse.Namespace) -> int:
    from loader.runs.report import default_report_dir
    from loader.runs.review import REVIEW_CSV, apply_review, review_rows, review_text
    from loader.transform.pandas_engine.pg_text import default_rules

    if args.apply is not None:
        # The embedded server's folding (C.UTF-8): applying a review edits seed files and needs no database.
        appended = apply_review(args.apply, default_rules())
        for entry in appended:
            print(f"appended to {entry.mapping_seed}: {entry.raw_value!r} -> {entry.value!r}")
        print(f"{len(appended)} mapping(s) appended from {args.apply}; migrate again to use them")
        return 0
    from loader.core.db import engine
    from loader.runs.unrecognised import ranked_values

    with engine(load_settings().new).connect() as conn:
        rows = review_rows(ranked_values(conn, mapping_only=True))
    folder = args.report_dir or default_report_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / REVIEW_CSV
    path.write_text(review_text(rows), encoding="utf-8")
    print(
        f"{path}: {len(rows)} spelling(s) no mapping seed knows, each with a suggestion and its score; fill in "
        f"approved_value where one is right, then: python -m loader review --apply {path}"
    )
    return 0


def _db_urls(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.dbt:
        for key, value in settings.new.dbt_env().items():
            if key != "NEW_DB_PASSWORD":
                print(f"export {key}={shlex.quote(value)}")
    else:
        print(f"OLD_DATABASE_URL={settings.old.display_url()}")
        print(f"NEW_DATABASE_URL={settings.new.display_url()}")
    return 0


def _db_stop(args: argparse.Namespace) -> int:
    from loader.core.config import read_environment
    from loader.core.embedded import stop_embedded

    stopped = stop_embedded(read_environment())
    print("embedded PostgreSQL stopped" if stopped else "the embedded PostgreSQL server was not running")
    return 0


# --- the parser --------------------------------------------------------------------------------------------


def _add_run_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--wait",
        action="store_true",
        help="if another run holds the target database, wait for it to end (default: stop with a message)",
    )
    _add_report_dir(
        sub, "where to write migration_report.md and .json (default: reports/, or LEGACY_MIGRATE_REPORT_DIR)"
    )


def _add_report_dir(sub: argparse.ArgumentParser, text: str) -> None:
    sub.add_argument("--report-dir", type=Path, default=None, help=text)


def _add_publish_options(sub: argparse.ArgumentParser) -> None:
    _add_run_options(sub)
    sub.add_argument(
        "--dry-run",
        "--plan",
        dest="dry_run",
        action="store_true",
        help="run everything up to the commit, gates included, write the report, publish nothing",
    )
    sub.add_argument(
        "--on-missing",
        choices=["delete", "keep"],
        default="delete",
        help="target rows whose legacy row is gone or no longer migrates: delete them (default, converges "
        "to a fresh migration) or keep them as they are",
    )
    sub.add_argument(
        "--max-reject-share",
        type=_budget_entry,
        action="append",
        default=[],
        metavar="[TABLE=]SHARE",
        help="error budget: publish nothing if more than this share of a legacy table's rows is rejected "
        "(default 0.5; merged rows do not count); repeat with old_orders=0.1 and the like for one table",
    )
    sub.add_argument(
        "--max-change-share",
        type=_share,
        default=DEFAULT_MAX_CHANGE_SHARE,
        metavar="SHARE",
        help="mass-change limit: publish nothing if a legacy table shrank by more than this share since the last "
        "published run (or to zero), or if the run would delete or rewrite more than this share of a target "
        f"table (default {DEFAULT_MAX_CHANGE_SHARE})",
    )
    sub.add_argument(
        "--allow-mass-change",
        action="store_true",
        help="publish a change over the mass-change limit: for a person who has checked that it is meant",
    )
    sub.add_argument(
        "--keep-runs",
        type=_run_count,
        default=DEFAULT_KEEP_RUNS,
        metavar="N",
        help="ledger retention: keep the migration_ledger entries of the last N published runs, this one included, "
        "and drop older runs' partitions in the publish transaction (their migration_runs rows and summaries stay; "
        "plans and failed runs drop nothing). Each run's entries are as many as its quarantine, so the default, "
        f"{DEFAULT_KEEP_RUNS}, bounds the ledger at that many quarantines while keeping enough runs to compare the "
        "rounds of a review",
    )


def _add_engine_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--engine",
        choices=["dbt", "pandas", "dask"],
        default="dbt",
        help="transform engine: dbt (default), pandas, or dask (the pandas engine's rules on a dask cluster, by "
        "partition: DASK_SCHEDULER_ADDRESS, DASK_WORKERS, DASK_PARTITION_ROWS); the same rules, seeds and tables",
    )
    sub.add_argument(
        "--strict-dates",
        action="store_true",
        help="reject an order dated before its user registered (default: migrate it with the warning "
        "order_before_registration, whose evidence names the user and the registration day)",
    )


def _add_review_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument(
        "--apply",
        type=Path,
        metavar="FILE",
        default=None,
        help="append each row of FILE with an approved_value to its mapping seed in dbt_project/seeds (nothing is "
        "appended if one row is refused)",
    )
    _add_report_dir(sub, "where to write review.csv (default: reports/, or LEGACY_MIGRATE_REPORT_DIR)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m loader",
        description="Migrate the legacy database old_bad_db into new_good_db. " + ENVIRONMENT_HELP,
    )
    add_verbosity_options(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, handler: Handler, text: str, *options: Callable[[argparse.ArgumentParser], object]) -> None:
        sub = commands.add_parser(name, help=text, description=f"{text}. {ENVIRONMENT_HELP}")
        for add in options:
            add(sub)
        add_verbosity_options(sub)
        sub.set_defaults(handler=handler)

    command(
        "migrate",
        _migrate,
        "the whole job: checks, schema, stage, transform, publish, a summary and a report",
        _add_publish_options,
        _add_engine_options,
    )
    command("schema", _schema, "alembic upgrade head: create or upgrade the target tables")
    command(
        "stage",
        _stage,
        "copy the legacy tables (and the per-row corrections of corrections/) into new_good_db's staging schema",
        _add_run_options,
    )
    command(
        "transform",
        _transform,
        "dbt build (or the pandas engine): parse, clean, normalize, test",
        _add_run_options,
        _add_engine_options,
    )
    command(
        "publish",
        _publish,
        "upsert the marts into the target tables, in one transaction, behind the gates",
        _add_publish_options,
    )
    command(
        "docs",
        _docs,
        "dbt docs generate: the data dictionary site (index.html, manifest.json, catalog.json) in reports/docs/, "
        "its catalog read from the target database",
        lambda sub: _add_report_dir(
            sub, "the site goes to its docs/ folder (default: reports/, or LEGACY_MIGRATE_REPORT_DIR)"
        ),
    )
    command(
        "review",
        _review,
        "write the mapping suggestions of the last transform's rejects and warnings to reports/review.csv, or "
        "append the approved rows of a filled-in review file to the mapping seeds (--apply FILE)",
        _add_review_options,
    )
    command(
        "db-urls",
        _db_urls,
        "print OLD_DATABASE_URL= and NEW_DATABASE_URL= (no passwords)",
        lambda sub: sub.add_argument(
            "--dbt", action="store_true", help="print the NEW_DB_* exports dbt's profile reads instead"
        ),
    )
    command("db-stop", _db_stop, "stop the embedded PostgreSQL server")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        # `python -m loader` alone runs nothing: it says what there is to run.
        parser.print_help()
        return 0
    configure_logging(verbosity_of(args))
    return run_cli(lambda: handler(args))


if __name__ == "__main__":
    sys.exit(main())
