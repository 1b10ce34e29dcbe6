"""Transform: `dbt build` in dbt_project/, against the resolved target database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

from loader.cli_errors import PipelineError
from loader.config import PROJECT_ROOT, Settings

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def dbt_environment(settings: Settings) -> dict[str, str]:
    """The process environment plus what profiles.yml reads; dbt never phones home."""
    return {
        **os.environ,
        **settings.new.dbt_env(),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_PROJECT_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def dbt_executable() -> str:
    """dbt from the same virtual environment as this interpreter."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [dbt_executable(), *args],
        cwd=DBT_PROJECT_DIR,
        env=dbt_environment(settings),
        capture_output=True,
        text=True,
        check=False,
    )


def dbt_target_dir() -> Path:
    """dbt's artefacts folder: dbt_project/target, or DBT_TARGET_PATH (tests give each session its own)."""
    configured = os.environ.get("DBT_TARGET_PATH")
    return Path(configured) if configured else DBT_PROJECT_DIR / "target"


def transform(settings: Settings) -> dict[str, int]:
    """Run `dbt build`; return how many nodes passed per kind, or raise with dbt's own error lines."""
    result = run_dbt(settings, "build", "--no-use-colors")
    results_file = dbt_target_dir() / "run_results.json"
    if result.returncode != 0:
        errors = [
            line
            for line in result.stdout.splitlines()
            if any(marker in line for marker in ("ERROR", "FAIL ", "Error", "error:", "Got "))
        ]
        if errors:
            print("\n".join(errors[-20:]), file=sys.stderr)
        raise PipelineError(
            "dbt build failed (the lines above are dbt's; the whole log is dbt_project/logs/dbt.log); "
            "nothing was published"
        )
    passed: Counter[str] = Counter()
    if results_file.exists():
        for node in json.loads(results_file.read_text())["results"]:
            passed[node["unique_id"].split(".")[0]] += 1
    return dict(passed)
