"""`python -m bench`: each pipeline stage timed against what PostgreSQL itself does with the same rows."""
