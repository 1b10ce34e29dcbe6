"""A second transform engine in pandas: the dbt project's models, row for row, from staging to quarantine.

It reads the staging tables the stage wrote, applies docs/cleaning-rules.md as dbt_project/ implements it (the
same reason codes, the same mapping seeds, read from the dbt project's files), and writes the same tables dbt
writes (dbt_marts.*, dbt_quarantine.rejects, warnings and corrections), which the same publish step then upserts.

Memory: the three staged tables are held in Arrow-backed columns, with the parsed columns beside them; see
README.md (the pandas engine) for the measured ceiling.
"""

from __future__ import annotations

from loader.transform.pandas_engine.engine import run

__all__ = ["run"]
