"""`python -m bench` at two tiny sizes: it writes its three files, and every stage has a ratio to its baseline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from loader.core.contract import PROJECT_ROOT

# transform (pandas) joins these once the loader offers --engine pandas.
ALWAYS_MEASURED = {
    "seed",
    "stage (loader)",
    "transform (dbt)",
    "publish",
    "publish (rerun, no change)",
    "migrate (whole)",
}


def test_bench_at_tiny_sizes_writes_json_markdown_and_plot_with_a_ratio_for_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    # Settings that would point the bench elsewhere must not matter: it runs on its own server and databases.
    env = {**os.environ, "OLD_DATABASE_URL": "postgresql://nobody@/not_here", "DBT_TARGET_PATH": str(tmp_path / "x")}
    result = subprocess.run(
        # The pandas engine at the smaller size only, as at 10 M orders, where it would not fit in memory; dbt,
        # publish and migrate too, as when following the dask engine to 10 M orders.
        [
            *(sys.executable, "-m", "bench", "--sizes", "100,200", "--pandas-up-to", "100", "--dbt-up-to", "100"),
            *("--out", str(out), "--pgdata", str(tmp_path / "pg")),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"bench exited {result.returncode}:\n{result.stdout}\n{result.stderr}"

    for name in ("bench.json", "bench.md", "throughput.png"):
        assert (out / name).stat().st_size > 0, f"{name} missing or empty"
    report = json.loads((out / "bench.json").read_text())
    assert report["sizes"] == [100, 200] and report["complete"]
    smaller, larger = report["runs"]
    stages = {entry["stage"]: entry for entry in smaller["stages"]}
    larger_stages = {entry["stage"] for entry in larger["stages"]}
    assert stages.keys() >= ALWAYS_MEASURED | {"transform (pandas)"}
    above_dbt = {"transform (dbt)", "publish", "publish (rerun, no change)", "migrate (whole)"}
    assert larger_stages == stages.keys() - {"transform (pandas)", "migrate (whole, pandas)"} - above_dbt
    assert "--pandas-up-to" in report["unavailable"]["transform (pandas)"]
    assert all("--dbt-up-to" in report["unavailable"][name] for name in above_dbt)
    for name, entry in stages.items():
        assert entry["ratio"] > 0, f"{name} has no ratio to its baseline"
        assert entry["rows"] > 0 and entry["seconds"] > 0 and entry["peak_rss_mib"] > 0, name
    assert {row["stage"] for row in report["summary"]} == stages.keys()
    assert all(row["ratio"]["100"] > 0 for row in report["summary"])
    # Per-row change from the smaller size to the larger, for every stage measured at both.
    changes = {row["stage"]: row["rows_per_second_change"] for row in report["summary"]}
    assert all(changes[name] > 0 for name in larger_stages) and changes["transform (pandas)"] is None
    for run in (smaller, larger):
        assert set(run["database_bytes"]) == {"bench_old", "bench_new"}
        assert min(run["database_bytes"].values()) > 1_000_000, run["database_bytes"]

    markdown = (out / "bench.md").read_text()
    for name in stages:
        assert f"| {name} |" in markdown
    assert "- 100: bench_old " in markdown and " MiB, bench_new " in markdown and "0.0 GiB" not in markdown
    assert (out / "throughput.png").read_bytes().startswith(b"\x89PNG")
    # The dask engine at one and two workers, with its largest worker's peak (a worker imports pandas: >50 MiB).
    for name in ("transform (dask, 1 worker)", "transform (dask, 2 workers)"):
        assert name in larger_stages and stages[name]["largest_worker_peak_rss_mib"] > 50, name
        assert f"- 100, {name}: " in markdown
