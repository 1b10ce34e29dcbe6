"""The seeder: a legacy database as dirty as real ones, with the answer key of every row (see README)."""
