"""python -m loader.pandas_engine: the transform step in pandas, on the databases the loader is configured for."""

from __future__ import annotations

import argparse
import sys

from loader.cli_errors import run_cli
from loader.config import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loader.pandas_engine",
        description=(
            "Transform the staging tables of new_good_db into dbt_marts.* and dbt_quarantine.{rejects,warnings} "
            "with pandas instead of dbt (the same rules, reason codes and seeds). Reads NEW_DATABASE_URL or "
            "NEW_DB_* from the environment or .env; with neither, uses the embedded server."
        ),
    )
    parser.parse_args(argv)

    def body() -> int:
        from loader.pandas_engine import run

        written = run(load_settings())
        print("pandas transform wrote: " + ", ".join(f"{table} {rows}" for table, rows in written.items()))
        return 0

    return run_cli(body)


if __name__ == "__main__":
    sys.exit(main())
