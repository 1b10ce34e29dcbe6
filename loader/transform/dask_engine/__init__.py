"""A third transform engine: the pandas engine's rules on a dask.distributed cluster, partitioned by legacy id.

It reads the staging tables by id range on the workers, runs the pandas engine's functions on each partition and,
for the rules that compare rows across partitions, on partitions shuffled by the key those rules read; it writes
the same tables as dbt and the pandas engine. See docs/dask-engine.md.
"""

from __future__ import annotations

from loader.transform.dask_engine.engine import run

__all__ = ["run"]
