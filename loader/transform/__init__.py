"""Transform: staging to marts and quarantine, by dbt (`dbt.py`) or by the independent pandas engine."""
