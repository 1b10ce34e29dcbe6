"""Runs: the run lock, the migration_runs record, and the report each run writes."""
