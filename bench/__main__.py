"""python -m bench: time each pipeline stage against PostgreSQL's own bare operations, at growing sizes."""

from __future__ import annotations

import argparse
import re
import sys
import time
from datetime import datetime
from pathlib import Path

from bench.measure import CommandFailed
from bench.report import RunInfo, describe_machine, write_reports
from bench.run import DEFAULT_SIZES, Options, SizeResult, detect_options, run_bench
from bench.server import DEFAULT_PGDATA, PROJECT_ROOT, bench_server


def parse_sizes(text: str) -> list[int]:
    """'10000,100000' or '10000 100000' (underscores allowed, as in 1_000_000)."""
    sizes = [int(part) for part in re.split(r"[,\s]+", text.strip()) if part]
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive numbers of legacy orders, got {text!r}")
    return sorted(set(sizes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=(
            "Seed the legacy database at each size, then time every stage (seed, stage, transform, publish, the "
            "whole migrate) as wall seconds, rows/s and peak RSS, each next to a bare PostgreSQL baseline on the "
            "same data (COPY from file, a psql COPY pipe, INSERT … SELECT; for publish also INSERT … SELECT into "
            "tables defined as its targets). The loader's stage and publish are also timed as the step alone, from "
            "the loader's own run report. Runs on an embedded PostgreSQL server of its own (--pgdata) with "
            "databases bench_old and bench_new, and ignores OLD_*/NEW_* settings and .env. Writes bench.json, "
            "bench.md and throughput.png."
        ),
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(DEFAULT_SIZES),
        help="legacy orders per size, comma-separated (default 10000,100000,1000000)",
    )
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "reports" / "bench", help="where to write results")
    parser.add_argument(
        "--pgdata", type=Path, default=DEFAULT_PGDATA, help="the bench server's data folder (default .pgdata-bench)"
    )
    parser.add_argument("--seed", type=int, default=42, help="the seeder's random seed")
    parser.add_argument(
        "--pandas-up-to",
        type=int,
        default=Options.pandas_up_to,
        metavar="ORDERS",
        help="run the pandas engine only at sizes up to this many legacy orders (default %(default)s): it holds every "
        "staged table in one process, about 2.5 GB per million legacy orders",
    )
    parser.add_argument(
        "--dbt-up-to",
        type=int,
        default=None,
        metavar="ORDERS",
        help="run dbt, publish and migrate only at sizes up to this many legacy orders (default: every size); above "
        "it a size measures seed, stage and the pandas and dask engines' transforms, to see how they grow",
    )
    parser.add_argument("--keep-server", action="store_true", help="leave the bench server running at the end")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    taken_at = datetime.now().astimezone()
    options = detect_options(args.pandas_up_to, args.dbt_up_to)
    if options.profile_note:
        print(f"note: {options.profile_note}", flush=True)
    if not options.pandas_engine:
        print("note: transform (pandas) not available: the loader has no --engine pandas", flush=True)

    def log(line: str) -> None:
        print(line, flush=True)

    with bench_server(args.pgdata, keep_running=args.keep_server) as server:
        machine = describe_machine(server.version())
        written: list[Path] = []

        def write(results: list[SizeResult], error: str | None) -> None:
            # Written after every size, so a failure at the largest keeps the smaller ones.
            complete = error is None and len(results) == len(args.sizes)
            elapsed = time.perf_counter() - started
            info = RunInfo(taken_at, machine, options, [r.size for r in results], elapsed, complete, error)
            written[:] = write_reports(results, info, args.out)

        try:
            run_bench(
                server, args.sizes, options=options, seed=args.seed, work_dir=args.out / "work", log=log, write=write
            )
        except CommandFailed as exc:
            print(f"error: {exc}", file=sys.stderr)
            print("results so far: " + ", ".join(map(str, written)), file=sys.stderr)
            return 2
    print(f"bench done in {(time.perf_counter() - started) / 60:.1f} min: " + ", ".join(map(str, written)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
