"""Publish: the gates, then one transaction that upserts the marts into the target tables and records the ledger."""
