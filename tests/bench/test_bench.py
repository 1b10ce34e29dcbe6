"""`python -m bench` at a tiny size: it writes its three files, and every stage has a ratio to its baseline."""

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


def test_bench_at_a_tiny_size_writes_json_markdown_and_plot_with_a_ratio_for_every_stage(tmp_path: Path) -> None:
    out = tmp_path / "bench"
    # Settings that would point the bench elsewhere must not matter: it runs on its own server and databases.
    env = {**os.environ, "OLD_DATABASE_URL": "postgresql://nobody@/not_here", "DBT_TARGET_PATH": str(tmp_path / "x")}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--sizes", "200", "--out", str(out), "--pgdata", str(tmp_path / "pg")],
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
    assert report["sizes"] == [200] and report["complete"]
    (run,) = report["runs"]
    stages = {entry["stage"]: entry for entry in run["stages"]}
    assert stages.keys() >= ALWAYS_MEASURED
    for name, entry in stages.items():
        assert entry["ratio"] > 0, f"{name} has no ratio to its baseline"
        assert entry["rows"] > 0 and entry["seconds"] > 0 and entry["peak_rss_mib"] > 0, name
    assert {row["stage"] for row in report["summary"]} == stages.keys()
    assert all(row["ratio"]["200"] > 0 for row in report["summary"])

    markdown = (out / "bench.md").read_text()
    for name in stages:
        assert f"| {name} |" in markdown
    assert (out / "throughput.png").read_bytes().startswith(b"\x89PNG")
